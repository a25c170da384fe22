"""Bearer-token authentication for devices and integrations."""

from __future__ import annotations

import functools
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import F
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from warehouse.models import DeviceToken
from warehouse.models.access import hash_token
from warehouse.roles import remember_roles

# Writing last_used_at on every request would make each scan also write the token row.
LAST_USED_RESOLUTION = timedelta(minutes=5)


class DeviceTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer <token>` (or `Token <token>`) with a live DeviceToken."""

    keywords = ("bearer", "token")

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].decode(errors="replace").lower() not in self.keywords:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        raw = header[1].decode(errors="replace")
        token, role_names = _token_with_roles(hash_token(raw))
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Unknown token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired; issue a new one.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            DeviceToken.objects.filter(id=token.id).update(last_used_at=now)
        remember_roles(token.user, role_names)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


def _token_with_roles(key_hash: str) -> tuple[DeviceToken | None, list[str]]:
    """The token with this hash and its user, and the user's role names: ONE query.

    The role names come in the same query, one row per group (the key hash is unique): every
    API view checks a role, and would otherwise ask for them again. It runs on every API
    request, so on PostgreSQL it is one fixed SQL statement (prepared by the server after a few
    runs) whose rows become model instances directly, without the ORM compiling the query.
    """
    if connection.vendor != "postgresql":
        rows = list(
            DeviceToken.objects.select_related("user")
            .filter(key_hash=key_hash)
            .annotate(role_name=F("user__groups__name"))
        )
        names = [row.role_name for row in rows if row.role_name is not None]
        return (rows[0] if rows else None), names
    sql, token_columns, user_columns = _token_query()
    with connection.cursor() as cursor:
        cursor.execute(sql, [key_hash])
        rows = cursor.fetchall()
    if not rows:
        return None, []
    first = rows[0]
    split = len(token_columns)
    token = DeviceToken.from_db(connection.alias, token_columns, first[:split])
    user = get_user_model().from_db(
        connection.alias, user_columns, first[split : split + len(user_columns)]
    )
    token.user = user
    return token, [row[-1] for row in rows if row[-1] is not None]


@functools.cache
def _token_query() -> tuple[str, list[str], list[str]]:
    """The SQL of `_token_with_roles` and the field names of its token and user columns."""
    user_model = get_user_model()
    token_fields = list(DeviceToken._meta.concrete_fields)
    user_fields = list(user_model._meta.concrete_fields)
    groups = user_model._meta.get_field("groups")
    through = groups.remote_field.through._meta
    user_column = through.get_field(groups.m2m_field_name()).column
    group_column = through.get_field(groups.m2m_reverse_field_name()).column
    columns = [f't."{field.column}"' for field in token_fields]
    columns += [f'u."{field.column}"' for field in user_fields]
    sql = (
        f"SELECT {', '.join(columns)}, g.name FROM {DeviceToken._meta.db_table} AS t "
        f"JOIN {user_model._meta.db_table} AS u ON u.id = t.user_id "
        f'LEFT JOIN {through.db_table} AS ug ON ug."{user_column}" = u.id '
        f'LEFT JOIN {groups.related_model._meta.db_table} AS g ON g.id = ug."{group_column}" '
        "WHERE t.key_hash = %s"
    )
    return sql, [f.attname for f in token_fields], [f.attname for f in user_fields]


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
