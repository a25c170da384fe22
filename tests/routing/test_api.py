"""The dispatcher's route-planning API: roles, visibility, transitions and errors."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from routing.models import RoutePlan
from tests.factories import routing as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf

DAY = dt.date(2026, 12, 2)
API = "/api/v1"


@pytest.fixture
def ready(site):
    sf.add_outbound_layout(site)
    rf.make_vehicle(site.warehouse, "VAN-A")
    product = wf.make_product(sku="BOX", unit_weight_kg=Decimal(2))
    return [
        rf.make_shipment(
            sf.make_customer(site.warehouse, latitude=Decimal(lat), longitude=Decimal("4.9")),
            product,
            3,
            day=DAY,
        )
        for lat in ("52.31", "52.33", "52.35")
    ]


def create(client, **extra):
    body = {"warehouse": "AMS", "delivery_date": DAY.isoformat(), "time_limit_seconds": 1}
    return client.post(f"{API}/route-plans/", {**body, **extra}, format="json")


@pytest.mark.django_db(transaction=True)
def test_dispatcher_plans_solves_edits_and_approves(api, ready):
    response = create(api["dispatcher"])
    assert response.status_code == 201, response.content
    plan = response.json()
    # Eager Celery ran plan_routes_task after the commit.
    detail = api["dispatcher"].get(f"{API}/route-plans/{plan['id']}/").json()
    assert detail["status"] == "solved"
    assert sum(len(r["stops"]) for r in detail["routes"]) == 3
    assert detail["unplanned"] == []
    stop = detail["routes"][0]["stops"][-1]
    response = api["dispatcher"].post(
        f"{API}/route-plans/{plan['id']}/move-stop/",
        {"stop": stop["id"], "route": 1, "position": 1},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["routes"][0]["stops"][0]["id"] == stop["id"]
    response = api["dispatcher"].post(f"{API}/route-plans/{plan['id']}/approve/")
    assert response.status_code == 200
    assert response.json()["routes"][0]["staging_lane"] is not None
    # An approved plan can no longer be edited or re-solved.
    for path, body in (("move-stop", {"stop": stop["id"], "route": None}), ("solve", {})):
        response = api["dispatcher"].post(
            f"{API}/route-plans/{plan['id']}/{path}/", body, format="json"
        )
        assert response.status_code == 409, response.content
        assert response["Content-Type"] == "application/problem+json"
    assert RoutePlan.objects.get(id=plan["id"]).status == "approved"


@pytest.mark.django_db
def test_roles_and_visibility(api, ready):
    assert create(api["picker"]).status_code == 403
    assert create(api["dock"]).status_code == 403
    assert api["anonymous"].get(f"{API}/route-plans/").status_code == 401
    plan = create(api["manager"], solve=False).json()
    assert plan["status"] == "draft"
    assert api["picker"].get(f"{API}/route-plans/{plan['id']}/").status_code == 403
    assert api["outsider"].get(f"{API}/route-plans/{plan['id']}/").status_code == 404
    assert api["outsider"].get(f"{API}/route-plans/").json()["count"] == 0
    assert create(api["outsider"]).status_code == 404  # AMS is not a warehouse they can see


@pytest.mark.django_db
def test_bad_requests_say_which_field(api, ready):
    response = create(api["dispatcher"], delivery_date="tomorrow", time_limit_seconds=0)
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"delivery_date", "time_limit_seconds"}
    response = create(api["dispatcher"], delivery_date="2027-01-01")
    assert response.status_code == 400
    assert response.json()["code"] == "nothing-to-plan"
    assert api["dispatcher"].get(f"{API}/route-plans/999999/").status_code == 404


@pytest.mark.django_db
def test_vehicles_are_maintained_by_dispatchers(api, ready):
    body = {
        "warehouse": "AMS",
        "code": "VAN-Z",
        "capacity_weight_kg": "800",
        "capacity_volume_m3": "8",
        "shift_start": "07:00",
        "shift_end": "06:00",
    }
    response = api["dispatcher"].post(f"{API}/vehicles/", body, format="json")
    assert response.status_code == 400  # shift ends before it starts
    body["shift_end"] = "17:00"
    assert api["picker"].post(f"{API}/vehicles/", body, format="json").status_code == 403
    assert api["dispatcher"].post(f"{API}/vehicles/", body, format="json").status_code == 201
    codes = [v["code"] for v in api["dispatcher"].get(f"{API}/vehicles/").json()["results"]]
    assert codes == ["VAN-A", "VAN-Z"]


@pytest.mark.django_db
def test_admin_shows_the_plan_picture_and_a_printable_route_sheet(client, admin_user, ready):
    from routing import services

    plan = services.create_route_plan(
        warehouse_id=ready[0].warehouse_id, delivery_date=DAY, time_limit_seconds=1
    )
    plan = services.request_solve(plan_id=plan.id)
    services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    client.force_login(admin_user)
    page = client.get(f"/admin/routing/routeplan/{plan.id}/change/")
    assert page.status_code == 200
    assert b"<svg" in page.content and b"<polyline" in page.content
    sheet = client.get(f"/admin/routing/routeplan/{plan.id}/route/1/sheet/")
    assert sheet.status_code == 200
    text = sheet.content.decode()
    assert "Route 1 · VAN-A" in text and "08:00-18:00" in text
    assert text.count("<tr>") == 1 + 3  # header + one row per stop
    assert client.get("/admin/routing/vehicle/").status_code == 200
