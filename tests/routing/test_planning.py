"""Route planning as a dispatcher uses it: plan a day, solve, edit by hand, approve."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from celery.exceptions import Retry
from django.contrib.auth.models import User
from django.utils import timezone

from routing import matrix, services
from routing.errors import InfeasibleEdit, NothingToPlan
from routing.models import RoutePlan, RouteStop
from routing.selectors import get_route_plan_detail, render_route_plan_svg
from routing.services.solving import SolveInProgress
from shipping.models import Shipment
from tests.factories import routing as rf
from tests.factories import shipping as sf
from tests.factories import warehouse as wf
from warehouse.errors import InvalidTransition

DAY = dt.date(2026, 12, 1)
# Customers around the warehouse (52.3, 4.9): a few km apart, two clusters.
NORTH = [(Decimal("52.36"), Decimal("4.88")), (Decimal("52.37"), Decimal("4.90"))]
SOUTH = [(Decimal("52.22"), Decimal("4.92")), (Decimal("52.21"), Decimal("4.90"))]


@pytest.fixture
def outbound(site):
    return sf.add_outbound_layout(site)


@pytest.fixture
def heavy(db):
    return wf.make_product(sku="HEAVY", unit_weight_kg=Decimal(10), unit_volume_m3=Decimal("0.01"))


@pytest.fixture
def fleet(site):
    return [rf.make_vehicle(site.warehouse, "VAN-A"), rf.make_vehicle(site.warehouse, "VAN-B")]


@pytest.fixture
def day_shipments(site, outbound, heavy, fleet):
    shipments = []
    for lat, lon in NORTH + SOUTH:
        customer = sf.make_customer(site.warehouse, latitude=lat, longitude=lon)
        shipments.append(rf.make_shipment(customer, heavy, 20, day=DAY))
    return shipments


def solve(plan: RoutePlan) -> RoutePlan:
    plan = services.request_solve(plan_id=plan.id)
    services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    return RoutePlan.objects.get(id=plan.id)


def new_plan(site, **extra) -> RoutePlan:
    return services.create_route_plan(
        warehouse_id=site.warehouse.id, delivery_date=DAY, time_limit_seconds=1, **extra
    )


def assert_consistent(plan: RoutePlan) -> None:
    """Every stop is either on a route with a contiguous sequence and a time inside its window,
    or unplanned with a reason; routes' totals add up to the plan's."""
    midnight = services.local_midnight(plan.warehouse, plan.delivery_date)
    for route in plan.routes.all():
        stops = list(route.stops.order_by("sequence"))
        assert [s.sequence for s in stops] == list(range(1, len(stops) + 1))
        for stop in stops:
            start = stop.planned_arrival + dt.timedelta(seconds=stop.waiting_seconds)
            offset = (start - midnight).total_seconds()
            assert any(a <= offset <= b for a, b in stop.windows), stop
            assert stop.dropped_reason == ""
    for stop in plan.stops.filter(route__isnull=True):
        assert stop.dropped_reason_code and stop.dropped_reason
    assert plan.total_distance_m == sum(r.distance_m for r in plan.routes.all())


def test_plan_covers_the_days_shipments_and_solves_feasibly(site, day_shipments):
    other_day = rf.make_shipment(
        sf.make_customer(site.warehouse),
        day_shipments[0].order.lines.get().product,
        1,
        day=DAY + dt.timedelta(days=1),
    )
    plan = new_plan(site)
    assert set(plan.shipments.all()) == set(day_shipments)
    assert other_day not in plan.shipments.all()
    stop = plan.stops.get(shipments=day_shipments[0])
    assert stop.weight_kg == Decimal(200)
    assert stop.windows == [[8 * 3600, 18 * 3600]]

    plan = solve(plan)
    assert plan.status == RoutePlan.Status.SOLVED
    assert plan.dropped_stops == 0
    assert plan.stops.filter(route__isnull=False).count() == 4
    assert plan.vehicles_used >= 1
    assert plan.best_objective is not None and plan.solve_seconds is not None
    assert_consistent(plan)


def test_two_clusters_of_heavy_stops_take_one_vehicle_each(site, day_shipments, fleet):
    for vehicle in fleet:  # 400 kg per cluster: one cluster fills a vehicle
        vehicle.capacity_weight_kg = Decimal(450)
        vehicle.save()
    plan = solve(new_plan(site))
    assert plan.vehicles_used == 2
    for route in plan.routes.all():
        latitudes = {float(s.customer.latitude) > 52.3 for s in route.stops.all()}
        assert len(latitudes) == 1, "a route mixes the north and south clusters"
    assert_consistent(plan)


def test_unservable_stops_are_kept_with_their_reason(site, day_shipments, heavy):
    night = sf.make_customer(site.warehouse, latitude=Decimal("52.35"), longitude=Decimal("4.9"))
    rf.make_shipment(night, heavy, 1, day=DAY, window=(2, 3))
    huge = sf.make_customer(site.warehouse, latitude=Decimal("52.34"), longitude=Decimal("4.9"))
    rf.make_shipment(huge, heavy, 500, day=DAY)  # 5,000 kg: more than any van
    plan = solve(new_plan(site))
    reasons = dict(
        plan.stops.filter(route__isnull=True).values_list("customer", "dropped_reason_code")
    )
    assert reasons == {night.id: "window_unreachable", huge.id: "too_heavy"}
    assert plan.dropped_stops == 2
    assert_consistent(plan)


def test_chilled_stop_goes_on_the_refrigerated_vehicle_only(site, day_shipments, fleet):
    reefer = rf.make_vehicle(site.warehouse, "REEFER", is_refrigerated=True)
    cold = wf.make_product(sku="COLD", storage_class="chilled")
    customer = sf.make_customer(site.warehouse, latitude=Decimal("52.3"), longitude=Decimal("4.95"))
    shipment = rf.make_shipment(customer, cold, 5, day=DAY)
    plan = solve(new_plan(site))
    stop = plan.stops.get(shipments=shipment)
    assert stop.needs_refrigeration
    assert stop.route.vehicle == reefer


def test_planning_nothing_is_refused(site, fleet):
    with pytest.raises(NothingToPlan):
        new_plan(site)


def test_the_task_run_twice_plans_once(site, day_shipments):
    plan = services.request_solve(plan_id=new_plan(site).id)
    first = services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    routes = list(first.routes.values_list("id", flat=True))
    again = services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    assert again is None
    assert list(RoutePlan.objects.get(id=plan.id).routes.values_list("id", flat=True)) == routes


def test_resolve_from_the_current_routes_is_no_worse(site, day_shipments):
    plan = solve(new_plan(site))
    before = plan.best_objective
    plan = solve(plan)
    assert plan.status == RoutePlan.Status.SOLVED
    assert plan.best_objective <= before
    assert_consistent(plan)


def test_matrix_is_computed_once_per_set_of_points(site, day_shipments, monkeypatch):
    calls = []
    real = matrix.GreatCircleProvider.distances

    def counting(self, points):
        calls.append(len(points))
        return real(self, points)

    monkeypatch.setattr(matrix.GreatCircleProvider, "distances", counting)
    plan = solve(new_plan(site))
    solve(plan)
    assert calls == [5]


def test_great_circle_distances():
    provider = matrix.GreatCircleProvider(road_factor=1.0)
    amsterdam, rotterdam = (52.3676, 4.9041), (51.9244, 4.4777)
    distances = provider.distances([amsterdam, rotterdam, amsterdam])
    assert distances.dtype == np.int64
    assert 57_000 <= distances[0, 1] <= 58_500  # 57.7 km as the crow flies
    assert distances[0, 1] == distances[1, 0]
    assert distances[0, 2] == 0 and np.all(np.diag(distances) == 0)
    by_road = matrix.GreatCircleProvider(road_factor=1.3).distances([amsterdam, rotterdam])
    assert abs(by_road[0, 1] - distances[0, 1] * 1.3) <= 1


class TestEditing:
    def test_moving_a_stop_to_another_route_recomputes_times(self, site, day_shipments):
        plan = solve(new_plan(site))
        first_route = plan.routes.order_by("number").first()
        stop = first_route.stops.order_by("sequence").last()
        services.move_stop(plan_id=plan.id, stop_id=stop.id, route_number=None, position=None)
        stop.refresh_from_db()
        assert stop.route is None and stop.dropped_reason_code == "manual"
        services.move_stop(plan_id=plan.id, stop_id=stop.id, route_number=1, position=1)
        stop.refresh_from_db()
        assert stop.route.number == 1 and stop.sequence == 1
        assert stop.planned_arrival is not None
        assert_consistent(RoutePlan.objects.get(id=plan.id))

    def test_an_infeasible_move_is_refused_and_changes_nothing(self, site, day_shipments, fleet):
        for vehicle in fleet:
            vehicle.capacity_weight_kg = Decimal(450)
            vehicle.save()
        plan = solve(new_plan(site))
        assert plan.vehicles_used == 2
        before = list(RouteStop.objects.order_by("id").values_list("route", "sequence"))
        stop = plan.routes.get(number=2).stops.first()
        with pytest.raises(InfeasibleEdit, match=r"capacity|weight"):
            services.move_stop(plan_id=plan.id, stop_id=stop.id, route_number=1, position=None)
        assert list(RouteStop.objects.order_by("id").values_list("route", "sequence")) == before

    def test_approval_assigns_lanes_doors_and_reverse_load_order(self, site, day_shipments):
        plan = solve(new_plan(site))
        services.approve_route_plan(plan_id=plan.id)
        plan.refresh_from_db()
        assert plan.status == RoutePlan.Status.APPROVED
        for route in plan.routes.all():
            assert route.staging_lane.zone.kind == "staging"
            assert route.outbound_door.is_outbound
            stops = list(route.stops.order_by("sequence"))
            loads = [Shipment.objects.get(route_stops=s).load_sequence for s in stops]
            assert loads == list(range(len(stops), 0, -1)), "the last stop is loaded first"
            shipment = Shipment.objects.get(route_stops=stops[0])
            assert shipment.vehicle_code == route.vehicle.code
            assert shipment.staging_lane == route.staging_lane
        with pytest.raises(InvalidTransition):
            services.move_stop(
                plan_id=plan.id, stop_id=stops[0].id, route_number=None, position=None
            )
        with pytest.raises(InvalidTransition):
            services.request_solve(plan_id=plan.id)


def test_beat_plans_tomorrow_once_after_the_cutoff(site, day_shipments, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "ROUTE_PLANNING_CUTOFF": "18:00"}
    before = dt.datetime.combine(DAY - dt.timedelta(days=1), dt.time(17), site.warehouse.tzinfo)
    after = before + dt.timedelta(hours=2)
    assert services.plan_due_warehouses(now=before) == []
    created = services.plan_due_warehouses(now=after)
    assert [p.delivery_date for p in created] == [DAY]
    assert services.plan_due_warehouses(now=after) == []
    assert RoutePlan.objects.filter(delivery_date=DAY).count() == 1


def test_plan_picture_draws_routes_depot_and_dropped_stops(site, day_shipments, heavy):
    night = sf.make_customer(site.warehouse, latitude=Decimal("52.35"), longitude=Decimal("4.9"))
    rf.make_shipment(night, heavy, 1, day=DAY, window=(2, 3))
    plan = solve(new_plan(site))
    admin = User(is_superuser=True, is_active=True)
    svg = render_route_plan_svg(get_route_plan_detail(plan_id=plan.id, user=admin))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert svg.count("<polyline") == plan.vehicles_used
    assert "Unplanned: " in svg and "Depot: " in svg


def test_plan_against_reality_from_delivery_confirmations(
    site, day_shipments, django_assert_max_num_queries
):
    from shipping.models import Delivery

    plan = solve(new_plan(site))
    stop = plan.stops.filter(route__isnull=False).order_by("route__number", "sequence").first()
    assert stop.actual_arrival is None and stop.arrival_delay_seconds is None
    arrived = stop.planned_arrival + dt.timedelta(minutes=10)
    Delivery.objects.create(
        shipment=stop.shipments.get(),
        arrived_at=arrived,
        delivered_at=arrived + dt.timedelta(minutes=5),
        is_on_time=True,
        is_in_full=True,
    )
    admin = User.objects.create_superuser("boss", password="x")
    with django_assert_max_num_queries(8):
        detail = get_route_plan_detail(plan_id=plan.id, user=admin)
        delays = {
            s.id: s.arrival_delay_seconds
            for route in detail.routes.all()
            for s in route.stops.all()
        }
    assert delays[stop.id] == 600
    assert sum(value is not None for value in delays.values()) == 1


def test_a_run_meeting_a_fresh_claim_is_told_when_to_come_back(site, day_shipments, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "ROUTE_SOLVE_STALE_MARGIN_SECONDS": 60}
    plan = services.request_solve(plan_id=new_plan(site).id)
    started = timezone.now() - dt.timedelta(seconds=10)
    RoutePlan.objects.filter(id=plan.id).update(solve_started_at=started)
    with pytest.raises(SolveInProgress) as busy:
        services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    # time limit + margin after the other run started, which was 10 s ago
    expected = dt.timedelta(seconds=plan.time_limit_seconds + 60 - 10)
    assert abs(busy.value.retry_in - expected) < dt.timedelta(seconds=2)
    assert not RoutePlan.objects.get(id=plan.id).routes.exists()


def test_a_claim_of_a_dead_worker_is_taken_over(site, day_shipments, settings):
    settings.DOCKSIDE = {**settings.DOCKSIDE, "ROUTE_SOLVE_STALE_MARGIN_SECONDS": 60}
    plan = services.request_solve(plan_id=new_plan(site).id)
    long_ago = timezone.now() - dt.timedelta(seconds=plan.time_limit_seconds + 61)
    RoutePlan.objects.filter(id=plan.id).update(solve_started_at=long_ago)
    solved = services.solve_route_plan(plan_id=plan.id, attempt=plan.solve_attempt)
    assert solved.status == RoutePlan.Status.SOLVED
    assert_consistent(solved)


def test_the_task_retries_while_another_run_holds_the_attempt(site, day_shipments, monkeypatch):
    from routing.tasks import plan_routes_task

    plan = services.request_solve(plan_id=new_plan(site).id)
    RoutePlan.objects.filter(id=plan.id).update(solve_started_at=timezone.now())
    retried = []

    def fake_retry(*args, **kwargs):
        retried.append(kwargs["countdown"])
        return Retry("again later")

    monkeypatch.setattr(plan_routes_task, "retry", fake_retry)
    with pytest.raises(Retry):
        plan_routes_task.run(plan.id, plan.solve_attempt)
    assert len(retried) == 1 and 0 < retried[0] <= plan.time_limit_seconds + 120
