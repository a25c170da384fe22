"""Fixtures for the inbound tests."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import receiving as rf


@pytest.fixture
def supplier(db):
    return rf.make_supplier("acme")


@pytest.fixture
def tomorrow(site):
    """The warehouse's next local day (appointments are booked in local opening hours)."""
    return timezone.localdate(timezone=site.warehouse.tzinfo) + timedelta(days=1)
