"""Shared fixtures: a small warehouse, products, users in each role, and API clients."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, User
from rest_framework.test import APIClient

from tests.factories import warehouse as wf
from warehouse.models import DeviceToken
from warehouse.roles import ALL_ROLES


@pytest.fixture(autouse=True)
def fast_password_hashing(settings) -> None:
    """The `users` fixture creates six users per test; the production hasher would dominate."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def role_groups(db) -> None:
    """The role groups a migration creates: transactional tests flush them after each test, so
    they are recreated (when missing) for every test that needs them."""
    for role in ALL_ROLES:
        Group.objects.get_or_create(name=role)


@pytest.fixture
def site(db) -> wf.Site:
    """A warehouse with dock, quarantine, staging, ambient and chilled storage and a few bins."""
    return wf.make_site()


@pytest.fixture
def product(db):
    return wf.make_product(sku="AMB-1", gtin="09501101530003", unit_weight_kg=Decimal("1.5"))


@pytest.fixture
def lot_product(db):
    return wf.make_product(
        sku="CHL-1",
        gtin="09501101530010",
        storage_class="chilled",
        is_lot_tracked=True,
        is_expiry_tracked=True,
    )


def make_user(username: str, *roles: str, site: wf.Site | None = None, **extra) -> User:
    user = User.objects.create_user(username=username, password="pw-" + username, **extra)
    for role in roles:
        # get_or_create: transactional tests flush the groups the roles migration made.
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    if site is not None:
        site.warehouse.staff.add(user)
    return user


@pytest.fixture
def users(site, role_groups) -> dict[str, User]:
    """One member of `site` per role, plus `outsider`: a manager of another warehouse."""
    people = {role: make_user(role, role, site=site) for role in ALL_ROLES}
    other = wf.make_site(code="OTHER")
    people["outsider"] = make_user("outsider", "manager", site=other)
    return people


def client_for(user: User | None) -> APIClient:
    client = APIClient()
    if user is not None:
        _, raw = DeviceToken.issue(user=user, name="test device")
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(users) -> dict[str, APIClient]:
    """Token-authenticated API clients by role name, and `anonymous`."""
    clients = {name: client_for(user) for name, user in users.items()}
    clients["anonymous"] = client_for(None)
    return clients


@pytest.fixture
def redis_url() -> str:
    """The Redis the tests may use as a broker (`make test` passes DOCKSIDE_TEST_REDIS_URL)."""
    import os

    import redis

    url = os.environ.get("DOCKSIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    redis.Redis.from_url(url, socket_connect_timeout=3).ping()
    return url
