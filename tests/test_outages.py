"""What users see when PostgreSQL or Redis is down: a quick, clear answer and nothing lost."""

from __future__ import annotations

from unittest import mock

import pytest
from celery import Celery, Task, current_app
from django.conf import settings
from django.db import connection

from tests.factories import receiving as rf
from warehouse.models import IdempotencyRecord, OutboxMessage, StockMove


@pytest.fixture
def database_down():
    """Point the default connection at a port where nothing listens, as when PostgreSQL stops."""
    saved = dict(connection.settings_dict)

    def restore() -> None:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)

    connection.close()
    connection.settings_dict["PORT"] = "1"
    try:
        yield restore
    finally:
        restore()


def test_connecting_gives_up_quickly() -> None:
    # A server that does not answer at all must not hold a request for long: the connection
    # attempt is bounded, and so is the time to notice a dead server on an open connection.
    options = settings.DATABASES["default"]["OPTIONS"]
    assert options["connect_timeout"] <= 3
    idle, interval, count = (
        options["keepalives_idle"],
        options["keepalives_interval"],
        options["keepalives_count"],
    )
    assert idle + interval * count <= 15
    assert settings.DATABASES["default"]["CONN_HEALTH_CHECKS"] is True


@pytest.mark.django_db(transaction=True)
def test_database_down_answers_503_problem_and_writes_nothing(api, database_down) -> None:
    scan = api["dock"].post(
        "/api/v1/receipts/1/scans/",
        {"barcode": "09501101530003"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="outage-1",
    )
    ready = api["anonymous"].get("/readyz")
    alive = api["anonymous"].get("/healthz")

    assert scan.status_code == 503
    assert scan["Content-Type"].startswith("application/problem+json")
    assert scan.json()["status"] == 503
    assert ready.status_code == 503
    assert ready.json()["status"] == "not ready"
    assert ready.json()["database"].startswith("unreachable")
    assert alive.status_code == 200  # the process itself is fine: do not restart it


@pytest.mark.django_db(transaction=True)
def test_nothing_half_written_after_the_outage(api, database_down) -> None:
    api["dock"].post(
        "/api/v1/receipts/1/scans/",
        {"barcode": "09501101530003"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="outage-2",
    )
    database_down()  # PostgreSQL is back
    assert not IdempotencyRecord.objects.filter(key="outage-2").exists()
    assert not StockMove.objects.exists()


@pytest.mark.django_db
def test_broker_down_is_reported_but_the_instance_stays_ready(client, settings) -> None:
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "degraded"
    assert body["broker"].startswith("unreachable")
    assert body["database"] == "ok"


@pytest.fixture
def broker_down():
    """A deployment with a broker (tasks are not run inline) whose Redis is down: any attempt to
    reach it fails the test, since a request that waits on the broker would hang a handheld."""
    conf = current_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager, conf.broker_url = False, "redis://127.0.0.1:1/0"
    broker_used = AssertionError("a request reached for the broker")
    try:
        with (
            mock.patch.object(Celery, "send_task", side_effect=broker_used),
            mock.patch.object(Task, "apply_async", side_effect=broker_used),
        ):
            yield
    finally:
        conf.task_always_eager, conf.broker_url = saved


@pytest.mark.django_db
def test_broker_down_api_writes_succeed_and_keep_their_work(api, site, product, broker_down):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 5}])
    scan = rf.scan(api["dock"], receipt.id, product.gtin, quantity=2)
    found = api["manager"].post(
        "/api/v1/stock/moves/adjustments/",
        {
            "warehouse": site.warehouse.code,
            "product": product.sku,
            "location": site.bins[0].code,
            "delta": 4,
            "reason": "count",
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="broker-down-1",
    )

    assert (scan.status_code, found.status_code) == (201, 201)
    # Stock became available: backorders must be re-allocated once Redis is back. The work is
    # in the outbox, committed with the change, waiting for the relay.
    waiting = OutboxMessage.objects.filter(published_at__isnull=True)
    assert list(waiting.values_list("task", "args")) == [
        ("shipping.tasks.reallocate_backorders_task", [site.warehouse.id, product.id])
    ]
