"""Device tokens bring their user's roles in the same query; role checks then ask nothing more."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.test import APIRequestFactory

from tests.conftest import make_user
from warehouse.authentication import DeviceTokenAuthentication
from warehouse.models import DeviceToken
from warehouse.roles import DOCK, INSPECTOR, MANAGER, PICKER, has_role, user_roles

pytestmark = pytest.mark.django_db


def authenticate(raw: str):
    request = APIRequestFactory().post("/api/v1/anything/", HTTP_AUTHORIZATION=f"Bearer {raw}")
    return DeviceTokenAuthentication().authenticate(request)


def issue(user: User) -> str:
    _, raw = DeviceToken.issue(user=user, name="scanner")
    # Used just now: authentication then has no last_used_at to write, only the one read.
    authenticate(raw)
    return raw


@pytest.mark.parametrize(
    ("roles", "expected"),
    [((DOCK,), {DOCK}), ((DOCK, INSPECTOR), {DOCK, INSPECTOR}), ((), set())],
)
def test_the_token_query_brings_every_role_and_role_checks_query_nothing(
    role_groups, roles, expected, django_assert_num_queries
):
    raw = issue(make_user("worker", *roles))
    with django_assert_num_queries(1):
        user, token = authenticate(raw)
        assert user_roles(user) == expected
        assert has_role(user, DOCK) == (DOCK in expected)
        assert has_role(user, PICKER) is False
    assert token.user is user and user.username == "worker"


def test_a_manager_token_holds_every_role(role_groups, django_assert_num_queries):
    raw = issue(make_user("boss", MANAGER))
    with django_assert_num_queries(1):
        user, _ = authenticate(raw)
        assert has_role(user, DOCK) and has_role(user, PICKER)


def test_refused_tokens_are_still_refused(role_groups):
    user = make_user("gone", DOCK, is_active=False)
    _, raw = DeviceToken.issue(user=user, name="scanner")
    with pytest.raises(AuthenticationFailed):
        authenticate(raw)
    with pytest.raises(AuthenticationFailed):
        authenticate("not-a-token")


def test_a_user_loaded_otherwise_reads_its_roles_once_per_object(
    role_groups, django_assert_num_queries
):
    """Session-authenticated users (admin, pick pages) have no token query: their roles are
    read on the first check and kept on that user object only."""
    make_user("clerk", DOCK, INSPECTOR)
    user = User.objects.get(username="clerk")
    with django_assert_num_queries(1):
        assert has_role(user, INSPECTOR)
        assert has_role(user, DOCK) and not has_role(user, PICKER)
    # Another object for the same user (the next request) reads them again: nothing is kept
    # in the process.
    again = User.objects.get(username="clerk")
    with django_assert_num_queries(1):
        assert user_roles(again) == {DOCK, INSPECTOR}
