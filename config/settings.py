"""Dockside settings, read from the environment.

With no DATABASE_URL the service runs on SQLite in var/; with no REDIS_URL Celery tasks run
inline in the web process. Both defaults exist so `make run` works on a bare machine; production
and the test suite set both.
"""

import os
from pathlib import Path

import dj_database_url
from celery.schedules import crontab

BASE_DIR = Path(__file__).resolve().parent.parent
# Local state of the embedded default: SQLite database, uploads, beat schedule.
VAR_DIR = Path(os.environ.get("DOCKSIDE_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and env_bool("DOCKSIDE_REQUIRE_SECRET_KEY", False):
        raise RuntimeError("SECRET_KEY must be set in production")
    # A per-checkout development key: good enough for the embedded default, never for production.
    SECRET_KEY = "dockside-insecure-development-key-set-SECRET_KEY-in-production"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "warehouse",
    "receiving",
    "shipping",
    "routing",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the body (the CSRF check reads form posts).
    "config.middleware.RequestSizeLimitMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
    }
    # A database that is down or unreachable must turn into a quick 503, not a hung request:
    # connecting gives up after 3 s, and TCP keepalives notice a dead server on a kept-open
    # connection (conn_health_checks replaces such a connection before the next request).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "connect_timeout": int(os.environ.get("DATABASE_CONNECT_TIMEOUT", 3)),
            "keepalives": 1,
            "keepalives_idle": 10,
            "keepalives_interval": 2,
            "keepalives_count": 2,
        }
    )
    # PostgreSQL binds the parameters (they are not pasted into the SQL text), and a statement
    # a connection runs for the fifth time is prepared: parsed and planned once instead of on
    # every request, which was most of a scan's database CPU. Turn it off with
    # DATABASE_PREPARED_STATEMENTS=false behind a pooler in transaction mode, where the next
    # transaction may run on another server connection that lacks the prepared statement.
    if env_bool("DATABASE_PREPARED_STATEMENTS", True):
        DATABASES["default"]["OPTIONS"].update(
            {"server_side_binding": True, "prepare_threshold": 5}
        )
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "dockside.sqlite3",
            # Serialise writers instead of failing with "database is locked" under the dev server.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
        }
    }
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Tests and the dev server serve assets straight from the apps, without collectstatic.
WHITENOISE_USE_FINDERS = DEBUG or env_bool("WHITENOISE_USE_FINDERS", True)

LOGIN_URL = "/admin/login/"
# A request body larger than this, uploads included, is refused with 413 before it is read
# (config.middleware). Django's own cap on form data defaults to the same, so a body that passes
# is never refused half-read.
max_request_bytes = int(os.environ.get("DOCKSIDE_MAX_REQUEST_BYTES", 10 * 1024 * 1024))
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("DATA_UPLOAD_MAX_MEMORY_SIZE", max_request_bytes))

# Throttle counters and login failure counts must be shared by every web process: Redis when
# there is one, else (the embedded default and the tests) the process's own memory.
CACHE_URL = os.environ.get("CACHE_URL", os.environ.get("REDIS_URL", ""))
if CACHE_URL:
    CACHES = {
        "default": {
            # Django's Redis backend, reusing its Redis client objects (see config/cache.py).
            "BACKEND": "config.cache.RedisCache",
            "LOCATION": CACHE_URL,
            "KEY_PREFIX": "dockside",
            # A Redis that is down must not hold requests: throttles then let them through.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "warehouse.authentication.DeviceTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.PagePagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.problems.problem_exception_handler",
    # Counted in the cache above; scans and logins have rates of their own on top.
    "DEFAULT_THROTTLE_CLASSES": [
        "config.api.throttling.AnonRateThrottle",
        "config.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON", "60/minute"),
        "user": os.environ.get("THROTTLE_USER", "6000/minute"),
        "login": os.environ.get("THROTTLE_LOGIN", "10/minute"),
        # Per user, on every scan and confirmation endpoint: far above what a person can scan.
        "scan": os.environ.get("THROTTLE_SCAN", "1200/minute"),
        # The public tracking page and its JSON, per client address (no login there).
        "tracking": os.environ.get("THROTTLE_TRACKING", "30/minute"),
    },
    # Proxies in front of the app: the client address is then taken from X-Forwarded-For.
    "NUM_PROXIES": int(os.environ["THROTTLE_NUM_PROXIES"])
    if os.environ.get("THROTTLE_NUM_PROXIES")
    else None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Dockside API",
    "DESCRIPTION": (
        "Warehouse management: inventory ledger, inbound receiving, outbound picking, "
        "routing and delivery KPIs. Errors are application/problem+json (RFC 9457)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "StockStatusEnum": "warehouse.models.stock.StockStatus",
        "AsnStatusEnum": "receiving.models.InboundShipment.Status",
        "ReturnStatusEnum": "receiving.models.ReturnAuthorisation.Status",
        "ReturnReasonEnum": "receiving.models.ReturnReason",
        "ReturnDispositionEnum": "receiving.models.ReturnDisposition.Kind",
        "InspectionDispositionEnum": "receiving.models.Inspection.Disposition",
        "ReceiptStatusEnum": "receiving.models.Receipt.Status",
        "RoutePlanStatusEnum": "routing.models.RoutePlan.Status",
        "TrackingStatusEnum": "shipping.models.tracking.TrackingStatus",
        "WebhookDeliveryStatusEnum": "shipping.models.webhooks.WebhookDelivery.Status",
        "CountTaskStatusEnum": "warehouse.models.counts.CountRequest.Status",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "deviceToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A per-device token: `Authorization: Bearer <token>`.",
            }
        }
    },
    "SECURITY": [{"deviceToken": []}, {"cookieAuth": []}],
    # config/api/schema.py: the errors every operation can answer, and local times of day.
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.api.schema.declare_problem_responses",
        "config.api.schema.declare_local_times",
    ],
}

# E-mail (the daily reports to managers). Without EMAIL_HOST messages are
# written to the console, so the embedded default never tries an SMTP server that is not there.
EMAIL_HOST = os.environ.get("EMAIL_HOST", "")
EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = int(os.environ.get("EMAIL_PORT", 587))
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_TIMEOUT = int(os.environ.get("EMAIL_TIMEOUT", 10))
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "dockside@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Celery. Without REDIS_URL tasks run eagerly in-process, so the embedded default needs no broker.
REDIS_URL = os.environ.get("REDIS_URL", "")
CELERY_BROKER_URL = REDIS_URL or "memory://"
CELERY_RESULT_BACKEND = None
CELERY_TASK_ALWAYS_EAGER = not REDIS_URL
CELERY_TASK_EAGER_PROPAGATES = True
# DESIGN.md §3.5: a task is acknowledged only after it ran, and is redelivered if its worker dies.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE: dict = {}
# Shipping: release planned waves once their cut-off has passed (checked every minute).
CELERY_BEAT_SCHEDULE["release-due-waves"] = {
    "task": "shipping.tasks.release_due_waves_task",
    "schedule": 60.0,
}
# Receiving: at 16:00 UTC, give tomorrow's announced ASNs dock slots (per warehouse's local day).
CELERY_BEAT_SCHEDULE["schedule-dock-appointments"] = {
    "task": "receiving.tasks.schedule_tomorrows_dock_appointments_task",
    "schedule": crontab(hour=16, minute=0),
}
# Routing: every 15 minutes, plan tomorrow's routes of warehouses past their planning cut-off.
CELERY_BEAT_SCHEDULE["plan-tomorrows-routes"] = {
    "task": "routing.tasks.plan_tomorrows_routes_task",
    "schedule": crontab(minute="*/15"),
}
# KPIs: hourly, yesterday's on-time-delivery report of warehouses past 06:00 local (once each).
CELERY_BEAT_SCHEDULE["produce-daily-otd-reports"] = {
    "task": "shipping.tasks.produce_daily_otd_reports_task",
    "schedule": crontab(minute=5),
}
# KPIs: today's and yesterday's snapshots every 15 minutes; the last 7 days nightly, for late
# corrections (02:30 UTC: after midnight in Europe, before the morning shift reads them).
CELERY_BEAT_SCHEDULE["recompute-recent-kpis"] = {
    "task": "shipping.tasks.recompute_recent_kpis_task",
    "schedule": crontab(minute="*/15"),
}
CELERY_BEAT_SCHEDULE["recompute-last-week-kpis"] = {
    "task": "shipping.tasks.recompute_last_week_kpis_task",
    "schedule": crontab(hour=2, minute=30),
}

# Cycle counts: hourly, each warehouse's counts for its local day (idempotent: the first run
# after local midnight creates them, later runs nothing).
CELERY_BEAT_SCHEDULE["create-cycle-counts"] = {
    "task": "warehouse.tasks.create_cycle_counts_task",
    "schedule": crontab(minute=40),
}
# Webhooks: every 30 seconds, send the deliveries whose next attempt is due (docs/tracking.md).
CELERY_BEAT_SCHEDULE["deliver-due-webhooks"] = {
    "task": "shipping.tasks.deliver_due_webhooks_task",
    "schedule": 30.0,
}
# Platform housekeeping: old outbox messages and expired idempotency keys, nightly.
CELERY_BEAT_SCHEDULE["purge-outbox"] = {
    "task": "warehouse.tasks.purge_outbox_task",
    "schedule": crontab(hour=3, minute=10),
}
CELERY_BEAT_SCHEDULE["purge-idempotency-records"] = {
    "task": "warehouse.tasks.purge_idempotency_records_task",
    "schedule": crontab(hour=3, minute=20),
}

DOCKSIDE = {
    "TOKEN_LIFETIME_DAYS": int(os.environ.get("DOCKSIDE_TOKEN_LIFETIME_DAYS", 180)),
    # Failed logins (token issue, admin, pick pages) counted per user name and per client
    # address; past the limit further attempts are refused with 429 until the window ends.
    "LOGIN_FAILURES_PER_USER": int(os.environ.get("DOCKSIDE_LOGIN_FAILURES_PER_USER", 5)),
    # Higher: a warehouse's handhelds often share one address behind its router.
    "LOGIN_FAILURES_PER_ADDRESS": int(os.environ.get("DOCKSIDE_LOGIN_FAILURES_PER_ADDRESS", 50)),
    "LOGIN_LOCKOUT_SECONDS": int(os.environ.get("DOCKSIDE_LOGIN_LOCKOUT_SECONDS", 15 * 60)),
    "MAX_REQUEST_BYTES": max_request_bytes,
    # Bulk inputs: a longer list is refused with 400 naming the cap.
    "MAX_ASN_LINES": int(os.environ.get("DOCKSIDE_MAX_ASN_LINES", 10_000)),
    "MAX_BULK_ORDERS": int(os.environ.get("DOCKSIDE_MAX_BULK_ORDERS", 1000)),
    "MAX_PACKAGES_PER_SHIPMENT": int(os.environ.get("DOCKSIDE_MAX_PACKAGES_PER_SHIPMENT", 500)),
    # Any other list in a request: order lines, delivered lines, pack sizes, ids to plan.
    "MAX_LIST_ITEMS": int(os.environ.get("DOCKSIDE_MAX_LIST_ITEMS", 1000)),
    # Idempotency keys are kept this long (at least 72 hours) so late retries stay safe.
    "IDEMPOTENCY_KEY_RETENTION_HOURS": int(
        os.environ.get("DOCKSIDE_IDEMPOTENCY_KEY_RETENTION_HOURS", 72)
    ),
    # Outbound (shipping): SSCC company prefix, delivery window tolerance, pick batch limits.
    "GS1_COMPANY_PREFIX": os.environ.get("DOCKSIDE_GS1_COMPANY_PREFIX", "0950110"),
    "DELIVERY_WINDOW_TOLERANCE_MINUTES": int(
        os.environ.get("DOCKSIDE_DELIVERY_WINDOW_TOLERANCE_MINUTES", 15)
    ),
    "PICK_BATCH_MAX_LINES": int(os.environ.get("DOCKSIDE_PICK_BATCH_MAX_LINES", 20)),
    "PICK_BATCH_MAX_WEIGHT_KG": os.environ.get("DOCKSIDE_PICK_BATCH_MAX_WEIGHT_KG", "250"),
    "PICK_BATCH_MAX_VOLUME_M3": os.environ.get("DOCKSIDE_PICK_BATCH_MAX_VOLUME_M3", "1.5"),
    "PICK_PATH_TIME_LIMIT_MS": int(os.environ.get("DOCKSIDE_PICK_PATH_TIME_LIMIT_MS", 100)),
    "DEPARTURE_AFTER_CUTOFF_MINUTES": 120,
    "CONFLICT_MAX_ATTEMPTS": 6,
    "ALLOCATION_BATCH_SIZE": 200,
    # Receipts over an ASN line by more than this percentage need a manager's override to close.
    "OVER_RECEIPT_TOLERANCE_PCT": int(os.environ.get("DOCKSIDE_OVER_RECEIPT_TOLERANCE_PCT", 5)),
    # Road distance is estimated as great-circle distance times this factor.
    "ROAD_FACTOR": float(os.environ.get("DOCKSIDE_ROAD_FACTOR", 1.3)),
    "TRAVEL_MATRIX_PROVIDER": "routing.matrix.GreatCircleProvider",
    # Local time at which tomorrow's delivery routes are planned by the beat task.
    "ROUTE_PLANNING_CUTOFF": os.environ.get("DOCKSIDE_ROUTE_PLANNING_CUTOFF", "18:00"),
    # A started solve this long past its time limit is presumed dead and taken over.
    "ROUTE_SOLVE_STALE_MARGIN_SECONDS": int(
        os.environ.get("DOCKSIDE_ROUTE_SOLVE_STALE_MARGIN_SECONDS", 120)
    ),
    # E-mail each warehouse's daily on-time-delivery report to its managers.
    "KPI_REPORT_EMAIL": env_bool("DOCKSIDE_KPI_REPORT_EMAIL", False),
    # Tracking links point here (the public address of this service).
    "PUBLIC_URL": os.environ.get("DOCKSIDE_PUBLIC_URL", "http://localhost:8000"),
    # The ETA window on the tracking page: the planned arrival +/- this.
    "TRACKING_ETA_MARGIN_MINUTES": int(os.environ.get("DOCKSIDE_TRACKING_ETA_MARGIN_MINUTES", 30)),
    # Webhook retries (docs/tracking.md): 30 s, 1, 2, 4 ... minutes with jitter, at most 30
    # minutes apart (always below the broker's visibility timeout), given up after 72 hours.
    "WEBHOOK_TIMEOUT_SECONDS": float(os.environ.get("DOCKSIDE_WEBHOOK_TIMEOUT_SECONDS", 5)),
    "WEBHOOK_RETRY_BASE_SECONDS": 30,
    "WEBHOOK_RETRY_CAP_SECONDS": 1800,
    "WEBHOOK_GIVE_UP_AFTER_HOURS": int(os.environ.get("DOCKSIDE_WEBHOOK_GIVE_UP_AFTER_HOURS", 72)),
    # Webhooks go to public addresses only, plus these networks (CIDRs): an integration on the
    # warehouse's own network is named here, e.g. "10.20.0.0/16" (docs/tracking.md).
    "WEBHOOK_ALLOWED_NETWORKS": env_list(
        "DOCKSIDE_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8,::1/128" if DEBUG else ""
    ),
    # Cycle counts (docs/counts.md): ABC classes by picks over the look-back, as shares of the
    # products in stock ranked by picks (C is the rest), and days between counts per class.
    "COUNT_CLASS_SHARES": {"A": "0.20", "B": "0.30"},
    "COUNT_INTERVAL_DAYS": {"A": 30, "B": 91, "C": 365},
    "COUNT_PICK_LOOKBACK_DAYS": int(os.environ.get("DOCKSIDE_COUNT_PICK_LOOKBACK_DAYS", 90)),
    # A count line varying by more units, or by more value (units x unit cost), than these
    # needs a recount by another counter; within both it is adjusted at once.
    "COUNT_VARIANCE_UNITS": int(os.environ.get("DOCKSIDE_COUNT_VARIANCE_UNITS", 2)),
    "COUNT_VARIANCE_VALUE": os.environ.get("DOCKSIDE_COUNT_VARIANCE_VALUE", "50.00"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

if not DEBUG and env_bool("DOCKSIDE_SECURE", False):
    SECURE_SSL_REDIRECT = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = 31536000
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
