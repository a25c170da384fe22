"""The inventory API: every endpoint's success, refusals, scoping, errors and query counts."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import client_for, make_user
from tests.factories import warehouse as wf
from warehouse import services
from warehouse.models import (
    DeviceToken,
    Location,
    Lot,
    PackSize,
    Product,
    StockBalance,
    StockMove,
    StockStatus,
    Warehouse,
)

API = "/api/v1"
PROBLEM = "application/problem+json"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The default PBKDF2 costs ~0.3 s per user made or password checked; strength is not tested.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _fresh_throttles():
    # Throttle counters live in the process-wide cache; start every test with none spent.
    cache.clear()
    yield
    cache.clear()


def assert_problem(response, status: int, *, code: str | None = None) -> dict:
    """The response is an RFC 9457 problem with `status` (and `code`, when given)."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"].startswith("urn:dockside:problem:")
    if code is not None:
        assert body["code"] == code
    return body


def rows(response) -> list[dict]:
    assert response.status_code == 200, response.content
    return response.json()["results"]


@pytest.fixture
def other(users) -> wf.Site:
    """The outsider's warehouse (created by the `users` fixture) as a Site-like bundle."""
    warehouse = Warehouse.objects.get(code="OTHER")
    locations = {location.code: location for location in warehouse.locations.all()}
    return wf.Site(
        warehouse=warehouse,
        dock=locations["DOCK-1"],
        quarantine=locations["QA-1"],
        staging=locations["STAGE-1"],
        bins=[locations[f"A-0{bay}-01-1"] for bay in range(1, 5)],
        chilled_bins=[locations[f"C-0{bay}-01-1"] for bay in range(1, 3)],
    )


@pytest.fixture
def stock(site, other, product, lot_product):
    """AMS: 20 in bin A-01, 5 in A-02, 3 quarantined in QA-1, two lots in C-01. OTHER: 7 in A-01."""
    receive = services.receive_stock
    receive(location_id=site.bins[0].id, product_id=product.id, quantity=20, reference="ASN-1")
    receive(location_id=site.bins[1].id, product_id=product.id, quantity=5, reference="ASN-2")
    receive(
        location_id=site.quarantine.id,
        product_id=product.id,
        quantity=3,
        status=StockStatus.QUARANTINE,
        reference="ASN-2",
    )
    lots = [wf.make_lot(lot_product, "L1"), wf.make_lot(lot_product, "L2")]
    for number, lot in enumerate(lots, start=1):
        receive(
            location_id=site.chilled_bins[0].id,
            product_id=lot_product.id,
            lot_id=lot.id,
            quantity=number * 4,
        )
    receive(location_id=other.bins[0].id, product_id=product.id, quantity=7, reference="ASN-X")
    return {"site": site, "other": other, "lots": lots}


# --- authentication and tokens ------------------------------------------------------------------


class TestTokens:
    def test_issue_a_token_and_use_it(self, users):
        response = client_for(None).post(
            f"{API}/auth/tokens/",
            {"username": "dock", "password": "pw-dock", "device_name": "Dock scanner 3"},
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "Dock scanner 3"
        assert body["user"] == "dock"
        assert body["is_active"] is True
        assert body["token"].startswith(body["prefix"])
        token = DeviceToken.objects.get(id=body["id"])
        assert token.key_hash != body["token"]  # only the hash is stored

        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {body['token']}")
        assert client.get(f"{API}/warehouses/").status_code == 200
        client.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
        assert client.get(f"{API}/warehouses/").status_code == 200
        token.refresh_from_db()
        assert token.last_used_at is not None

    def test_wrong_password(self, users):
        response = client_for(None).post(
            f"{API}/auth/tokens/",
            {"username": "dock", "password": "nope", "device_name": "x"},
        )
        assert_problem(response, 401)
        assert not DeviceToken.objects.filter(name="x").exists()

    def test_missing_fields(self, users):
        response = client_for(None).post(f"{API}/auth/tokens/", {"username": "dock"})
        body = assert_problem(response, 400, code="validation-error")
        assert set(body["errors"]) == {"password", "device_name"}

    def test_list_shows_own_tokens_only(self, api, users):
        DeviceToken.issue(user=users["picker"], name="picker gun")
        names = {row["user"] for row in rows(api["dock"].get(f"{API}/auth/tokens/"))}
        assert names == {"dock"}

    def test_manager_sees_the_tokens_of_their_warehouse_staff_only(self, api, users):
        seen = {row["user"] for row in rows(api["manager"].get(f"{API}/auth/tokens/"))}
        assert {"dock", "picker", "manager"} <= seen
        assert "outsider" not in seen
        theirs = {row["user"] for row in rows(api["outsider"].get(f"{API}/auth/tokens/"))}
        assert theirs == {"outsider"}

    def test_revoke_own_token(self, users):
        token, raw = DeviceToken.issue(user=users["dock"], name="lost scanner")
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        response = client.post(f"{API}/auth/tokens/{token.id}/revoke/")
        assert response.status_code == 200
        assert response.json()["is_active"] is False
        assert response.json()["revoked_at"]
        body = assert_problem(client.get(f"{API}/warehouses/"), 401)
        assert "revoked" in body["detail"]

    def test_manager_revokes_a_staff_token(self, api, users):
        token, _ = DeviceToken.issue(user=users["dock"], name="scanner 9")
        assert api["manager"].post(f"{API}/auth/tokens/{token.id}/revoke/").status_code == 200
        token.refresh_from_db()
        assert token.revoked_at is not None

    def test_cannot_revoke_someone_elses_token(self, api, users):
        token, _ = DeviceToken.issue(user=users["manager"], name="office")
        assert_problem(api["dock"].post(f"{API}/auth/tokens/{token.id}/revoke/"), 404)
        assert_problem(api["outsider"].post(f"{API}/auth/tokens/{token.id}/revoke/"), 404)
        token.refresh_from_db()
        assert token.revoked_at is None

    def test_expired_token(self, users):
        _, raw = DeviceToken.issue(user=users["dock"], name="old", lifetime=timedelta(days=1))
        DeviceToken.objects.filter(name="old").update(expires_at=timezone.now() - timedelta(1))
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        body = assert_problem(client.get(f"{API}/warehouses/"), 401)
        assert "expired" in body["detail"]

    def test_unknown_and_malformed_tokens(self, users):
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
        assert_problem(client.get(f"{API}/warehouses/"), 401)
        client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
        assert_problem(client.get(f"{API}/warehouses/"), 401)

    def test_inactive_user(self, users):
        _, raw = DeviceToken.issue(user=users["dock"], name="gone")
        User.objects.filter(username="dock").update(is_active=False)
        client = client_for(None)
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
        assert_problem(client.get(f"{API}/warehouses/"), 401)

    def test_anonymous(self, api):
        response = api["anonymous"].get(f"{API}/auth/tokens/")
        assert_problem(response, 401)
        assert response["WWW-Authenticate"].startswith("Bearer")

    def test_user_without_a_role_is_forbidden(self, site):
        nobody = make_user("nobody", site=site)
        assert_problem(client_for(nobody).get(f"{API}/warehouses/"), 403)


# --- layout: warehouses, zones, locations -------------------------------------------------------


class TestWarehousesAndZones:
    def test_each_user_sees_their_own_warehouses(self, api, site, other):
        assert [w["code"] for w in rows(api["dock"].get(f"{API}/warehouses/"))] == ["AMS"]
        assert [w["code"] for w in rows(api["outsider"].get(f"{API}/warehouses/"))] == ["OTHER"]
        assert api["dock"].get(f"{API}/warehouses/{site.warehouse.id}/").json()["code"] == "AMS"
        assert_problem(api["outsider"].get(f"{API}/warehouses/{site.warehouse.id}/"), 404)
        assert_problem(api["dock"].get(f"{API}/warehouses/999999/"), 404)

    def test_warehouses_are_read_only(self, api):
        response = api["manager"].post(f"{API}/warehouses/", {"code": "NEW", "name": "New"})
        assert_problem(response, 405)

    def test_zones_filtered_and_scoped(self, api, site, other):
        zones = rows(api["picker"].get(f"{API}/zones/", {"kind": "storage"}))
        assert {(z["warehouse"], z["code"], z["storage_class"]) for z in zones} == {
            ("AMS", "store", "ambient"),
            ("AMS", "chill", "chilled"),
        }
        chilled = rows(api["picker"].get(f"{API}/zones/", {"storage_class": "chilled"}))
        assert [z["code"] for z in chilled] == ["chill"]
        assert {z["warehouse"] for z in rows(api["outsider"].get(f"{API}/zones/"))} == {"OTHER"}
        ams_zone = site.zones["storage"].id
        assert_problem(api["outsider"].get(f"{API}/zones/{ams_zone}/"), 404)


class TestLocations:
    def test_free_capacity_figures(self, api, stock, site):
        listed = rows(api["dock"].get(f"{API}/locations/", {"code": "A-01-01-1"}))
        assert len(listed) == 1
        bin_ = listed[0]
        # 20 units x 1.5 kg and 0.001 m3 in a 1,000 kg / 2 m3 bin.
        assert bin_["warehouse"] == "AMS"
        assert bin_["zone"] == "store"
        assert bin_["zone_kind"] == "storage"
        assert Decimal(bin_["used_weight_kg"]) == Decimal("30")
        assert Decimal(bin_["free_weight_kg"]) == Decimal("970")
        assert Decimal(bin_["used_volume_m3"]) == Decimal("0.02")
        assert Decimal(bin_["free_volume_m3"]) == Decimal("1.98")
        dock = api["dock"].get(f"{API}/locations/{site.dock.id}/").json()
        assert dock["free_weight_kg"] is None  # unlimited
        empty = api["dock"].get(f"{API}/locations/{site.bins[3].id}/").json()
        assert Decimal(empty["used_weight_kg"]) == 0
        assert Decimal(empty["free_weight_kg"]) == Decimal("1000")

    def test_filters(self, api, site):
        chilled = rows(api["dock"].get(f"{API}/locations/", {"storage_class": "chilled"}))
        assert [row["code"] for row in chilled] == ["C-01-01-1", "C-02-01-1"]
        storage = rows(api["dock"].get(f"{API}/locations/", {"zone": "store", "warehouse": "AMS"}))
        assert len(storage) == 4
        assert rows(api["dock"].get(f"{API}/locations/", {"warehouse": "OTHER"})) == []
        docks = rows(api["dock"].get(f"{API}/locations/", {"kind": "receiving_dock"}))
        assert [row["code"] for row in docks] == ["DOCK-1"]

    def test_outsider_sees_none_of_ams(self, api, site, other):
        listed = rows(api["outsider"].get(f"{API}/locations/", {"page_size": 100}))
        assert listed
        assert {row["warehouse"] for row in listed} == {"OTHER"}
        assert_problem(api["outsider"].get(f"{API}/locations/{site.bins[0].id}/"), 404)
        response = api["outsider"].patch(
            f"{API}/locations/{site.bins[0].id}/", {"is_active": False}
        )
        assert_problem(response, 404)
        assert Location.objects.get(id=site.bins[0].id).is_active

    def test_unknown_location(self, api, site):
        assert_problem(api["dock"].get(f"{API}/locations/999999/"), 404)

    def test_manager_creates_a_bin(self, api, site):
        response = api["manager"].post(
            f"{API}/locations/",
            {
                "warehouse": "AMS",
                "zone": "store",
                "code": "A-09-01-1",
                "aisle": "A",
                "bay": 9,
                "level": 1,
                "max_weight_kg": "800.00",
            },
        )
        assert response.status_code == 201, response.content
        assert Location.objects.get(warehouse=site.warehouse, code="A-09-01-1").zone.code == "store"

    def test_dock_may_not_create_bins(self, api, site):
        response = api["dock"].post(
            f"{API}/locations/", {"warehouse": "AMS", "zone": "store", "code": "A-09-01-1"}
        )
        assert_problem(response, 403)
        assert not Location.objects.filter(code="A-09-01-1").exists()

    def test_invalid_bin(self, api, site):
        response = api["manager"].post(
            f"{API}/locations/",
            {"warehouse": "AMS", "zone": "store", "code": "A-01-01-1", "bay": -1},
        )
        body = assert_problem(response, 400, code="validation-error")
        assert "bay" in body["errors"]
        response = api["manager"].post(
            f"{API}/locations/", {"warehouse": "AMS", "zone": "store", "code": "A-01-01-1"}
        )
        body = assert_problem(response, 400)
        assert body["errors"]["code"] == ["A-01-01-1 already exists here."]

    def test_outsider_cannot_create_in_ams(self, api, site, other):
        response = api["outsider"].post(
            f"{API}/locations/", {"warehouse": "AMS", "zone": "store", "code": "A-77-01-1"}
        )
        # Another warehouse is not there for them: 404, as for a URL naming one of its bins.
        assert_problem(response, 404)
        assert not Location.objects.filter(code="A-77-01-1").exists()

    def test_zone_codes_repeat_across_warehouses(self, site, other):
        """A user of both sites names zone "store" in AMS: it is AMS's store, not ambiguous."""
        regional = make_user("regional", "manager", site=site)
        other.warehouse.staff.add(regional)
        client = client_for(regional)
        for code in ("AMS", "OTHER"):
            response = client.post(
                f"{API}/locations/", {"warehouse": code, "zone": "store", "code": "Z-01"}
            )
            assert response.status_code == 201, response.content
        created = Location.objects.filter(code="Z-01").select_related("zone", "warehouse")
        assert {(loc.warehouse.code, loc.zone.warehouse.code) for loc in created} == {
            ("AMS", "AMS"),
            ("OTHER", "OTHER"),
        }

    def test_unknown_zone_is_refused(self, site, other):
        regional = make_user("regional", "manager", site=site)
        other.warehouse.staff.add(regional)
        response = client_for(regional).post(
            f"{API}/locations/", {"warehouse": "AMS", "zone": "nowhere", "code": "Z-02"}
        )
        body = assert_problem(response, 400)
        assert "zone" in body["errors"]


# --- catalogue: products and lots ----------------------------------------------------------------


class TestProducts:
    def payload(self, **extra) -> dict:
        return {
            "sku": "NEW-1",
            "name": "Oat milk 1 l",
            "gtin": "5901234123457",  # EAN-13 with a valid check digit
            "base_unit": "each",
            "unit_weight_kg": "1.05",
            "unit_volume_m3": "0.0011",
            "pack_sizes": [{"name": "case", "quantity": 12}, {"name": "pallet", "quantity": 480}],
            **extra,
        }

    def test_create_with_pack_sizes(self, api, users):
        response = api["manager"].post(f"{API}/products/", self.payload(), format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["gtin"] == "05901234123457"  # stored as GTIN-14
        assert [(p["name"], p["quantity"]) for p in body["pack_sizes"]] == [
            ("case", 12),
            ("pallet", 480),
        ]
        product = Product.objects.get(sku="NEW-1")
        assert product.units_per("pallet") == 480

    def test_bad_check_digit(self, api, users):
        response = api["manager"].post(
            f"{API}/products/", self.payload(gtin="5901234123458"), format="json"
        )
        body = assert_problem(response, 400, code="validation-error")
        assert "check digit" in body["errors"]["gtin"][0]
        assert not Product.objects.filter(sku="NEW-1").exists()

    def test_bad_pack_gtin(self, api, users):
        packs = [{"name": "case", "quantity": 12, "gtin": "12345678901234"}]
        response = api["manager"].post(
            f"{API}/products/", self.payload(pack_sizes=packs), format="json"
        )
        body = assert_problem(response, 400)
        assert "check digit" in body["errors"]["pack_sizes"]["0"]["gtin"][0]
        assert not Product.objects.filter(sku="NEW-1").exists()

    def test_pack_gtin_is_normalised(self, api, users):
        packs = [{"name": "case", "quantity": 6, "gtin": "15901234123454"}]
        response = api["manager"].post(
            f"{API}/products/", self.payload(pack_sizes=packs), format="json"
        )
        assert response.status_code == 201, response.content
        assert PackSize.objects.get(product__sku="NEW-1").gtin == "15901234123454"

    def test_field_errors(self, api, users):
        response = api["manager"].post(
            f"{API}/products/",
            self.payload(
                sku="",
                unit_weight_kg="-1",
                pack_sizes=[{"name": "case", "quantity": 1}, {"name": "case", "quantity": 6}],
            ),
            format="json",
        )
        body = assert_problem(response, 400)
        assert {"sku", "unit_weight_kg", "pack_sizes"} <= set(body["errors"])

    def test_duplicate_pack_names(self, api, users):
        packs = [{"name": "case", "quantity": 6}, {"name": "case", "quantity": 12}]
        response = api["manager"].post(
            f"{API}/products/", self.payload(pack_sizes=packs), format="json"
        )
        body = assert_problem(response, 400)
        assert body["errors"]["pack_sizes"] == ["Pack size names must be unique."]

    def test_expiry_needs_lots(self, api, users):
        response = api["manager"].post(
            f"{API}/products/",
            self.payload(is_expiry_tracked=True, is_lot_tracked=False),
            format="json",
        )
        body = assert_problem(response, 400)
        assert "is_expiry_tracked" in body["errors"]

    def test_same_item_under_another_gtin_form_is_refused(self, api, product):
        # `product` is 09501101530003; its EAN-13 form must not create a second product.
        response = api["manager"].post(
            f"{API}/products/", self.payload(gtin="9501101530003"), format="json"
        )
        body = assert_problem(response, 400)
        assert body["errors"]["gtin"] == ["A product with this GTIN already exists."]
        assert not Product.objects.filter(sku="NEW-1").exists()

    def test_only_managers_write(self, api, users):
        response = api["dock"].post(f"{API}/products/", self.payload(), format="json")
        assert_problem(response, 403)
        assert_problem(api["anonymous"].get(f"{API}/products/"), 401)

    def test_list_search_and_detail(self, api, product, lot_product):
        assert [p["sku"] for p in rows(api["picker"].get(f"{API}/products/"))] == [
            "AMB-1",
            "CHL-1",
        ]
        found = rows(api["picker"].get(f"{API}/products/", {"q": "0950110153001"}))
        assert [p["sku"] for p in found] == ["CHL-1"]
        chilled = rows(api["picker"].get(f"{API}/products/", {"storage_class": "chilled"}))
        assert [p["sku"] for p in chilled] == ["CHL-1"]
        detail = api["picker"].get(f"{API}/products/{product.id}/").json()
        assert detail["pack_sizes"] == [{"name": "case", "quantity": 12, "gtin": None}]
        assert_problem(api["picker"].get(f"{API}/products/999999/"), 404)

    def test_update_replaces_pack_sizes(self, api, product):
        response = api["manager"].patch(
            f"{API}/products/{product.id}/",
            {"pack_sizes": [{"name": "tray", "quantity": 6}]},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert list(product.pack_sizes.values_list("name", "quantity")) == [("tray", 6)]

    def test_products_cannot_be_deleted(self, api, product):
        assert_problem(api["manager"].delete(f"{API}/products/{product.id}/"), 405)


class TestLots:
    def test_create_and_filter(self, api, lot_product):
        response = api["manager"].post(
            f"{API}/lots/", {"product": "CHL-1", "code": "B-42", "expiry_date": "2027-01-31"}
        )
        assert response.status_code == 201, response.content
        assert Lot.objects.get(code="B-42").product_id == lot_product.id
        listed = rows(api["dock"].get(f"{API}/lots/", {"product__sku": "CHL-1"}))
        assert [(lot["product"], lot["code"]) for lot in listed] == [("CHL-1", "B-42")]
        assert rows(api["dock"].get(f"{API}/lots/", {"expiry_date__lte": "2026-12-31"})) == []

    def test_duplicate_and_unknown_product(self, api, lot_product):
        wf.make_lot(lot_product, "B-1")
        body = assert_problem(
            api["manager"].post(f"{API}/lots/", {"product": "CHL-1", "code": "B-1"}), 400
        )
        assert body["errors"]
        body = assert_problem(
            api["manager"].post(f"{API}/lots/", {"product": "NOPE", "code": "B-2"}), 400
        )
        assert "product" in body["errors"]

    def test_dock_may_read_but_not_create(self, api, lot_product):
        assert api["dock"].get(f"{API}/lots/").status_code == 200
        assert_problem(api["dock"].post(f"{API}/lots/", {"product": "CHL-1", "code": "X"}), 403)
        assert_problem(api["dock"].get(f"{API}/lots/999999/"), 404)


# --- stock: balances and the ledger ---------------------------------------------------------


class TestBalances:
    def test_list(self, api, stock, product):
        listed = rows(api["dock"].get(f"{API}/stock/balances/"))
        assert {
            (b["location"], b["sku"], b["lot"], b["status"], b["quantity"]) for b in listed
        } == {
            ("A-01-01-1", "AMB-1", None, "available", 20),
            ("A-02-01-1", "AMB-1", None, "available", 5),
            ("QA-1", "AMB-1", None, "quarantine", 3),
            ("C-01-01-1", "CHL-1", "L1", "available", 4),
            ("C-01-01-1", "CHL-1", "L2", "available", 8),
        }
        first = next(b for b in listed if b["location"] == "A-01-01-1")
        assert (first["warehouse"], first["zone"], first["free"]) == ("AMS", "store", 20)

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"sku": "CHL-1"}, {("C-01-01-1", "L1"), ("C-01-01-1", "L2")}),
            ({"location": "A-02-01-1"}, {("A-02-01-1", None)}),
            ({"lot": "L2"}, {("C-01-01-1", "L2")}),
            ({"status": "quarantine"}, {("QA-1", None)}),
            ({"zone": "store"}, {("A-01-01-1", None), ("A-02-01-1", None)}),
            ({"zone_kind": "quarantine"}, {("QA-1", None)}),
            (
                {"warehouse": "AMS", "sku": "AMB-1", "status": "available"},
                {("A-01-01-1", None), ("A-02-01-1", None)},
            ),
            ({"warehouse": "OTHER"}, set()),
        ],
    )
    def test_filters(self, api, stock, query, expected):
        listed = rows(api["dock"].get(f"{API}/stock/balances/", query))
        assert {(b["location"], b["lot"]) for b in listed} == expected

    def test_outsider_sees_only_their_warehouse(self, api, stock, site):
        listed = rows(api["outsider"].get(f"{API}/stock/balances/"))
        assert [(b["warehouse"], b["location"], b["quantity"]) for b in listed] == [
            ("OTHER", "A-01-01-1", 7)
        ]
        ams = StockBalance.objects.get(location=site.bins[0])
        assert_problem(api["outsider"].get(f"{API}/stock/balances/{ams.id}/"), 404)
        assert api["dock"].get(f"{API}/stock/balances/{ams.id}/").json()["quantity"] == 20

    def test_balances_are_read_only(self, api, stock, site):
        ams = StockBalance.objects.get(location=site.bins[0])
        response = api["manager"].patch(f"{API}/stock/balances/{ams.id}/", {"quantity": 99})
        assert_problem(response, 405)
        assert StockBalance.objects.get(id=ams.id).quantity == 20

    def test_anonymous(self, api, stock):
        assert_problem(api["anonymous"].get(f"{API}/stock/balances/"), 401)


class TestMoves:
    def test_list_newest_first(self, api, stock):
        listed = rows(api["dock"].get(f"{API}/stock/moves/"))
        assert len(listed) == 5
        assert [m["id"] for m in listed] == sorted((m["id"] for m in listed), reverse=True)
        receipt = next(m for m in listed if m["reference"] == "ASN-1")
        assert receipt["to_location"] == "A-01-01-1"
        assert receipt["from_location"] is None
        assert (receipt["sku"], receipt["quantity"], receipt["reason"]) == ("AMB-1", 20, "receipt")

    @pytest.mark.parametrize(
        ("query", "count"),
        [
            ({"sku": "CHL-1"}, 2),
            ({"location": "A-02-01-1"}, 1),
            ({"reference": "ASN-2"}, 2),
            ({"reason": "receipt"}, 5),
            ({"reason": "move"}, 0),
        ],
    )
    def test_filters(self, api, stock, query, count):
        assert len(rows(api["dock"].get(f"{API}/stock/moves/", query))) == count

    def test_time_window(self, api, stock):
        now = timezone.now()
        assert len(rows(api["dock"].get(f"{API}/stock/moves/", {"until": now.isoformat()}))) == 5
        later = (now + timedelta(minutes=1)).isoformat()
        assert rows(api["dock"].get(f"{API}/stock/moves/", {"since": later})) == []

    def test_cursor_pagination_walks_the_ledger_once(self, api, stock, site, product):
        for _ in range(7):
            services.move_stock(
                from_location_id=site.bins[0].id,
                to_location_id=site.bins[2].id,
                product_id=product.id,
                quantity=1,
            )
        seen: list[int] = []
        url = f"{API}/stock/moves/?page_size=4"
        pages = 0
        while url:
            body = api["dock"].get(url).json()
            assert "count" not in body  # a cursor page never counts the whole ledger
            assert len(body["results"]) <= 4
            seen += [move["id"] for move in body["results"]]
            url = body["next"]
            pages += 1
        assert pages == 3
        assert seen == sorted(seen, reverse=True)
        assert seen == list(
            StockMove.objects.filter(warehouse=site.warehouse)
            .order_by("-created_at", "-id")
            .values_list("id", flat=True)
        )

    def test_bad_cursor(self, api, stock):
        assert_problem(api["dock"].get(f"{API}/stock/moves/", {"cursor": "garbage"}), 404)

    def test_outsider_sees_none_of_ams(self, api, stock, site):
        listed = rows(api["outsider"].get(f"{API}/stock/moves/"))
        assert [m["reference"] for m in listed] == ["ASN-X"]
        ams_move = StockMove.objects.filter(warehouse=site.warehouse).first()
        assert_problem(api["outsider"].get(f"{API}/stock/moves/{ams_move.id}/"), 404)
        assert api["dock"].get(f"{API}/stock/moves/{ams_move.id}/").status_code == 200
        assert_problem(api["dock"].get(f"{API}/stock/moves/999999/"), 404)

    def test_ledger_cannot_be_edited(self, api, stock, site):
        move = StockMove.objects.filter(warehouse=site.warehouse).first()
        assert_problem(api["manager"].patch(f"{API}/stock/moves/{move.id}/", {"note": "x"}), 405)
        assert_problem(api["manager"].delete(f"{API}/stock/moves/{move.id}/"), 405)


def transfer_payload(**extra) -> dict:
    return {
        "warehouse": "AMS",
        "product": "AMB-1",
        "from_location": "A-01-01-1",
        "to_location": "A-03-01-1",
        "quantity": 4,
        "reference": "replenish:1",
        **extra,
    }


def quantity_at(location: Location, product: Product, lot: Lot | None = None) -> int:
    return (
        StockBalance.objects.filter(location=location, product=product, lot=lot)
        .values_list("quantity", flat=True)
        .first()
        or 0
    )


class TestTransfers:
    URL = f"{API}/stock/moves/transfers/"

    def test_manager_transfers(self, api, stock, site, product, users):
        response = api["manager"].post(self.URL, transfer_payload())
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["from_location"], body["to_location"], body["quantity"]) == (
            "A-01-01-1",
            "A-03-01-1",
            4,
        )
        assert (body["reason"], body["reference"], body["actor"]) == (
            "move",
            "replenish:1",
            "manager",
        )
        assert quantity_at(site.bins[0], product) == 16
        assert quantity_at(site.bins[2], product) == 4
        assert "Idempotent-Replayed" not in response

    def test_pack_sizes_convert(self, api, stock, site, product):
        response = api["manager"].post(self.URL, transfer_payload(quantity=1, pack="case"))
        assert response.status_code == 201, response.content
        assert response.json()["quantity"] == 12
        assert quantity_at(site.bins[2], product) == 12

    def test_lot_transfer(self, api, stock, site, lot_product):
        l2 = stock["lots"][1]
        response = api["manager"].post(
            self.URL,
            transfer_payload(
                product="CHL-1", lot="L2", from_location="C-01-01-1", to_location="C-02-01-1"
            ),
        )
        assert response.status_code == 201, response.content
        assert quantity_at(site.chilled_bins[1], lot_product, l2) == 4

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"quantity": 0}, "quantity"),
            ({"quantity": "many"}, "quantity"),
            ({"from_location": "NOWHERE"}, "from_location"),
            ({"to_location": "A-01-01-1"}, "to_location"),
            ({"product": "NOPE"}, "product"),
            ({"pack": "pallet"}, "pack"),
            ({"status": "lost"}, "status"),
            ({"product": "CHL-1", "lot": "NOPE"}, "lot"),
        ],
    )
    def test_field_errors(self, api, stock, change, field):
        moves = StockMove.objects.count()
        body = assert_problem(
            api["manager"].post(self.URL, transfer_payload(**change)), 400, code="validation-error"
        )
        assert field in body["errors"]
        assert StockMove.objects.count() == moves

    def test_missing_fields(self, api, stock):
        body = assert_problem(api["manager"].post(self.URL, {}), 400)
        assert {"warehouse", "product", "from_location", "to_location", "quantity"} <= set(
            body["errors"]
        )

    def test_insufficient_stock_is_409(self, api, stock, site, product):
        body = assert_problem(
            api["manager"].post(self.URL, transfer_payload(quantity=21)),
            409,
            code="insufficient-stock",
        )
        assert "Only 20" in body["detail"]
        assert quantity_at(site.bins[0], product) == 20

    def test_allocated_stock_is_not_free_to_transfer(self, api, stock, site, product):
        balance = StockBalance.objects.get(location=site.bins[0], product=product)
        services.allocate_stock(balance_id=balance.id, quantity=18)
        assert_problem(
            api["manager"].post(self.URL, transfer_payload(quantity=3)),
            409,
            code="insufficient-stock",
        )

    def test_other_domain_errors(self, api, stock, site):
        assert_problem(
            api["manager"].post(self.URL, transfer_payload(to_location="C-02-01-1")),
            409,
            code="wrong-storage-class",
        )
        Location.objects.filter(id=site.bins[2].id).update(is_active=False)
        assert_problem(
            api["manager"].post(self.URL, transfer_payload()), 409, code="location-inactive"
        )
        body = assert_problem(
            api["manager"].post(
                self.URL,
                transfer_payload(
                    product="CHL-1", from_location="C-01-01-1", to_location="C-02-01-1"
                ),
            ),
            400,
            code="lot-mismatch",
        )
        assert "lot-tracked" in body["detail"]

    def test_dock_may_read_but_not_transfer(self, api, stock, site, product):
        assert api["dock"].get(f"{API}/stock/moves/").status_code == 200
        assert_problem(api["dock"].post(self.URL, transfer_payload()), 403)
        assert_problem(api["picker"].post(self.URL, transfer_payload()), 403)
        assert quantity_at(site.bins[0], product) == 20

    def test_anonymous(self, api, stock, site, product):
        assert_problem(api["anonymous"].post(self.URL, transfer_payload()), 401)
        assert quantity_at(site.bins[0], product) == 20

    def test_outsider_cannot_move_ams_stock(self, api, stock, site, other, product):
        assert_problem(api["outsider"].post(self.URL, transfer_payload()), 404)
        # An unknown warehouse gets the same answer as one they may not see.
        assert_problem(api["manager"].post(self.URL, transfer_payload(warehouse="NOPE")), 404)
        # The same bin codes in their own warehouse are theirs, not AMS's.
        response = api["outsider"].post(self.URL, transfer_payload(warehouse="OTHER", quantity=7))
        assert response.status_code == 201, response.content
        assert quantity_at(site.bins[0], product) == 20
        assert quantity_at(other.bins[2], product) == 7


class TestAdjustments:
    URL = f"{API}/stock/moves/adjustments/"

    def payload(self, **extra) -> dict:
        return {
            "warehouse": "AMS",
            "product": "AMB-1",
            "location": "A-01-01-1",
            "delta": -2,
            "reason": "count",
            "note": "cycle count aisle A",
            **extra,
        }

    def test_manager_adjusts(self, api, stock, site, product):
        response = api["manager"].post(self.URL, self.payload())
        assert response.status_code == 201, response.content
        body = response.json()
        assert (body["from_location"], body["to_location"], body["quantity"]) == (
            "A-01-01-1",
            None,
            2,
        )
        assert (body["reason"], body["note"]) == ("count", "cycle count aisle A")
        assert quantity_at(site.bins[0], product) == 18
        found = api["manager"].post(self.URL, self.payload(delta=1, pack="case", reason="adjust"))
        assert found.status_code == 201, found.content
        assert found.json()["to_location"] == "A-01-01-1"
        assert quantity_at(site.bins[0], product) == 30

    def test_field_errors(self, api, stock):
        body = assert_problem(api["manager"].post(self.URL, self.payload(delta=0)), 400)
        assert body["errors"]["delta"] == ["An adjustment must change the quantity."]
        body = assert_problem(api["manager"].post(self.URL, self.payload(reason="ship")), 400)
        assert "reason" in body["errors"]
        body = assert_problem(api["manager"].post(self.URL, self.payload(location="X")), 400)
        assert body["errors"]["location"] == ["No location X here."]

    def test_taking_away_more_than_free_is_409(self, api, stock, site, product):
        assert_problem(
            api["manager"].post(self.URL, self.payload(delta=-21)), 409, code="insufficient-stock"
        )
        assert quantity_at(site.bins[0], product) == 20

    def test_capacity_is_409(self, api, stock):
        assert_problem(
            api["manager"].post(self.URL, self.payload(delta=1000)), 409, code="capacity-exceeded"
        )

    def test_dock_may_read_but_not_adjust(self, api, stock, site, product):
        assert api["dock"].get(f"{API}/stock/balances/").status_code == 200
        assert_problem(api["dock"].post(self.URL, self.payload()), 403)
        assert quantity_at(site.bins[0], product) == 20

    def test_outsider_cannot_adjust_ams(self, api, stock, site, product):
        assert_problem(api["outsider"].post(self.URL, self.payload()), 404)
        assert quantity_at(site.bins[0], product) == 20

    def test_same_key_twice_is_one_move(self, api, stock, site, product):
        moves = StockMove.objects.count()
        headers = {"HTTP_IDEMPOTENCY_KEY": "count-7f3a"}
        first = api["manager"].post(self.URL, self.payload(), **headers)
        again = api["manager"].post(self.URL, self.payload(), **headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first
        assert StockMove.objects.count() == moves + 1
        assert quantity_at(site.bins[0], product) == 18

    def test_same_key_other_body_is_422(self, api, stock, site, product):
        headers = {"HTTP_IDEMPOTENCY_KEY": "count-7f3b"}
        assert api["manager"].post(self.URL, self.payload(), **headers).status_code == 201
        response = api["manager"].post(self.URL, self.payload(delta=-3), **headers)
        assert_problem(response, 422, code="idempotency-key-reused")
        assert quantity_at(site.bins[0], product) == 18

    def test_keys_are_per_user(self, api, stock, site, product, users):
        headers = {"HTTP_IDEMPOTENCY_KEY": "shared-key"}
        assert api["manager"].post(self.URL, self.payload(), **headers).status_code == 201
        colleague = make_user("manager2", "manager", site=site)
        assert client_for(colleague).post(self.URL, self.payload(), **headers).status_code == 201
        assert quantity_at(site.bins[0], product) == 16

    def test_refusal_is_replayed_too(self, api, stock, site, product):
        headers = {"HTTP_IDEMPOTENCY_KEY": "count-7f3c"}
        first = api["manager"].post(self.URL, self.payload(delta=-25), **headers)
        assert_problem(first, 409, code="insufficient-stock")
        services.receive_stock(location_id=site.bins[0].id, product_id=product.id, quantity=10)
        again = api["manager"].post(self.URL, self.payload(delta=-25), **headers)
        assert_problem(again, 409, code="insufficient-stock")
        assert again["Idempotent-Replayed"] == "true"
        assert quantity_at(site.bins[0], product) == 30

    def test_invalid_request_is_not_remembered(self, api, stock, site, product):
        headers = {"HTTP_IDEMPOTENCY_KEY": "count-7f3d"}
        assert_problem(api["manager"].post(self.URL, self.payload(delta=0), **headers), 400)
        # Validation refused it before anything ran: the corrected request under the same key
        # is applied, not refused as a different body.
        response = api["manager"].post(self.URL, self.payload(), **headers)
        assert response.status_code == 201, response.content
        assert "Idempotent-Replayed" not in response
        assert quantity_at(site.bins[0], product) == 18

    def test_key_too_long(self, api, stock):
        response = api["manager"].post(self.URL, self.payload(), HTTP_IDEMPOTENCY_KEY="k" * 129)
        assert_problem(response, 400, code="idempotency-key-required")


# --- query counts -------------------------------------------------------------------------------


def queries_for(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params or {})
    assert response.status_code == 200, response.content
    return len(captured.captured_queries)


def add_stock(site, count: int) -> None:
    """`count` more products, each received into a bin and moved to another."""
    for _ in range(count):
        product = wf.make_product()
        services.receive_stock(location_id=site.dock.id, product_id=product.id, quantity=5)
        services.move_stock(
            from_location_id=site.dock.id,
            to_location_id=site.bins[0].id,
            product_id=product.id,
            quantity=2,
        )


@pytest.mark.parametrize(
    ("path", "params", "ceiling"),
    [
        # auth (token + groups), count, page: independent of the number of rows.
        ("stock/balances/", {}, 5),
        ("locations/", {}, 5),
        # The ledger's cursor pages skip the count.
        ("stock/moves/", {}, 4),
        ("products/", {}, 6),  # + pack sizes, prefetched in one query
    ],
)
def test_list_query_count_is_constant(
    api, site, path, params, ceiling, django_assert_max_num_queries
):
    client = api["dock"]
    client.get(f"{API}/{path}")  # the first request stamps the token's last_used_at
    add_stock(site, 2)
    few = queries_for(client, f"{API}/{path}", params)
    add_stock(site, 10)
    for bay in range(5, 15):
        Location.objects.create(
            warehouse=site.warehouse, zone=site.zones["storage"], code=f"A-{bay:02d}-01-1"
        )
    with django_assert_max_num_queries(ceiling):
        many = queries_for(client, f"{API}/{path}", params)
    assert many == few


# --- schema, docs, probes -----------------------------------------------------------------------


class TestSchemaAndProbes:
    def test_schema_renders(self, client):
        response = client.get("/api/schema/", {"format": "json"})
        assert response.status_code == 200
        paths = response.json()["paths"]
        for path in (
            "/api/v1/auth/tokens/",
            "/api/v1/auth/tokens/{id}/revoke/",
            "/api/v1/warehouses/",
            "/api/v1/zones/",
            "/api/v1/products/",
            "/api/v1/lots/",
            "/api/v1/locations/",
            "/api/v1/stock/balances/",
            "/api/v1/stock/moves/",
            "/api/v1/stock/moves/transfers/",
            "/api/v1/stock/moves/adjustments/",
        ):
            assert path in paths, path
        transfer = paths["/api/v1/stock/moves/transfers/"]["post"]
        assert "Idempotency-Key" in {p["name"] for p in transfer["parameters"]}

    def test_docs_use_local_assets(self, client):
        response = client.get("/api/docs/")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        page = response.content.decode()
        assert not re.search(r"https?://", page), "the docs page must not load from a CDN"
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
        for asset in assets:
            assert asset.startswith("/"), asset
            assert client.get(asset).status_code == 200, asset

    def test_healthz(self, client):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_readyz(self, client):
        response = client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ready"
        assert body["database"] == "ok"
