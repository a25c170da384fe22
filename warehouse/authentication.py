"""Bearer-token authentication for devices and integrations."""

from __future__ import annotations

from datetime import timedelta

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
        # The user's role names come in the same query, one row per group (the key hash is
        # unique): every API view checks a role, and would otherwise ask for them again.
        rows = list(
            DeviceToken.objects.select_related("user")
            .filter(key_hash=hash_token(raw))
            .annotate(role_name=F("user__groups__name"))
        )
        token = rows[0] if rows else None
        if token is None or not token.user.is_active:
            raise exceptions.AuthenticationFailed("Unknown token.")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This token has been revoked.")
        now = timezone.now()
        if token.expires_at <= now:
            raise exceptions.AuthenticationFailed("This token has expired; issue a new one.")
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
            DeviceToken.objects.filter(id=token.id).update(last_used_at=now)
        remember_roles(token.user, (row.role_name for row in rows if row.role_name is not None))
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class DeviceTokenScheme(OpenApiAuthenticationExtension):
    target_class = DeviceTokenAuthentication
    name = "deviceToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}
