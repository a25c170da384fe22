"""Setup: log in as each role, read the warehouse's master data, and add what a day needs
that the demo warehouse does not have: suppliers, an inspection rule, customers and the
fleet (all created through the API, as an integration would)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from zoneinfo import ZoneInfo

from bench.simulate.day import Day, Product

ROLES = ("manager", "dock", "inspector", "dispatcher")
SUPPLIERS = (
    ("sim-nordic", "Nordic Foods BV", False),
    ("sim-alpine", "Alpine Dairy AG", True),  # a new supplier: every lot is inspected
    ("sim-hanse", "Hanse Household Goods GmbH", False),
    ("sim-iberia", "Iberia Fresh SL", False),
)
CUSTOMERS = 400
VEHICLES = 25
PICKERS = 20
MIN_PICKERS = 8


def run(day: Day) -> None:
    # The shift clocks in at once (each login is a deliberately slow password hash).
    names = [*ROLES, *(f"picker{n:02d}" for n in range(1, pickers_for(day) + 1))]
    with ThreadPoolExecutor(max_workers=8) as pool:
        clients = dict(zip(names, pool.map(day.login, names), strict=True))
    day.people = {role: clients[role] for role in ROLES}
    day.pickers = [clients[name] for name in names[len(ROLES) :]]
    manager = day.manager
    warehouse = manager.list_all("warehouses/")[0]
    day.warehouse_id, day.warehouse_code = warehouse["id"], warehouse["code"]
    day.tz = ZoneInfo(warehouse["time_zone"])
    for row in manager.list_all("products/", operation="GET products/"):
        case = next((p for p in row["pack_sizes"] if p["name"] == "case"), None)
        day.products[row["sku"]] = Product(
            id=row["id"],
            sku=row["sku"],
            gtin=row["gtin"],
            weight_kg=float(row["unit_weight_kg"] or 0),
            storage_class=row["storage_class"],
            is_lot_tracked=row["is_lot_tracked"],
            is_expiry_tracked=row["is_expiry_tracked"],
            case_gtin=(case or {}).get("gtin") or "",
            case_quantity=(case or {}).get("quantity") or 1,
        )
    for kind in ("staging", "shipping_dock", "receiving_dock"):
        for row in manager.list_all("locations/", warehouse=day.warehouse_code, kind=kind):
            day.locations_by_code[row["code"]] = row["id"]
    for kind in ("storage", "pick_face"):
        for row in manager.list_all("locations/", warehouse=day.warehouse_code, kind=kind):
            day.bins_by_class.setdefault(row["storage_class"], []).append(row["code"])
    for codes in day.bins_by_class.values():
        codes.sort()
    # The opening stock: what the cycle counts later expect to find in the bins, once the
    # simulator's own putaways and picks are added.
    stocking_bins = {code for codes in day.bins_by_class.values() for code in codes}
    for row in manager.list_all("stock/balances/", warehouse=day.warehouse_code):
        if row["status"] == "available":
            day.stock_by_sku[row["sku"]] = day.stock_by_sku.get(row["sku"], 0) + row["quantity"]
        if row["location"] in stocking_bins:
            day.bin_stock[(row["location"], row["sku"], row["lot"] or "")] += row["quantity"]
    add_suppliers(day)
    add_customers(day)
    add_vehicles(day)


def pickers_for(day: Day) -> int:
    """The shift scales with the day, but never below eight pickers: a quiet day still has a
    crew working side by side (the figures do not depend on who picks a list, only the wall
    time does), and each login costs the service a password hash."""
    return PICKERS if day.scale >= 1 else max(MIN_PICKERS, day.scaled(PICKERS))


def add_suppliers(day: Day) -> None:
    for code, name, inspected in SUPPLIERS:
        day.manager.expect(
            day.manager.post(
                "suppliers/",
                {"code": code, "name": name, "requires_inspection": inspected},
                operation="POST suppliers/",
            ),
            201,
            what="supplier",
        )
        day.suppliers.append(code)
    # Chilled goods from anyone get a temperature check: an inspection rule per product.
    chilled = sorted(p.sku for p in day.products.values() if p.storage_class == "chilled")[:10]
    for sku in chilled:
        day.manager.expect(
            day.manager.post(
                "inspection-rules/",
                {"product": day.products[sku].id, "note": "Temperature log check."},
                operation="POST inspection-rules/",
            ),
            201,
            what="inspection rule",
        )


def add_customers(day: Day) -> None:
    rng = day.rng("customers")
    bodies = []
    for number in range(1, day.scaled(CUSTOMERS, minimum=10) + 1):
        start = rng.choice([7, 8, 9, 10, 12])
        body = {
            "warehouse": day.warehouse_id,
            "code": f"sim-{number:04d}",
            "name": f"Customer {number}",
            "address": f"{number} Canal Street",
            # Within ~30 km of the depot (Amsterdam Westpoort).
            "latitude": str(Decimal("52.283150") + Decimal(f"{rng.uniform(-0.22, 0.22):.6f}")),
            "longitude": str(Decimal("4.758960") + Decimal(f"{rng.uniform(-0.35, 0.35):.6f}")),
            "window_start": f"{start:02d}:00",
            "window_end": f"{start + rng.choice([3, 4, 6]):02d}:00",
            "service_time_minutes": rng.choice([5, 5, 10, 15]),
        }
        bodies.append(body)

    def create(body: dict) -> dict:
        return day.dispatcher.expect(
            day.dispatcher.post("customers/", body, operation="POST customers/"), 201
        )

    # An integration sends the customer file a few requests at a time. The ids the service
    # gives may come in another order; nothing downstream depends on them (the route plan
    # orders its stops by shipment).
    with ThreadPoolExecutor(max_workers=4) as pool:
        day.customers = list(pool.map(create, bodies))


def add_vehicles(day: Day) -> None:
    rng = day.rng("fleet")
    count = day.scaled(VEHICLES, minimum=3)
    for number in range(1, count + 1):
        # Most stops have chilled or frozen goods among their orders: most of the fleet is
        # refrigerated, with a few ambient vans and big trucks.
        cold = number % 5 != 0
        big = number % 4 == 0 and not cold
        code = f"{'REEFER' if cold else 'TRUCK' if big else 'VAN'}-{number:02d}"
        body = {
            "warehouse": day.warehouse_code,
            "code": code,
            "capacity_weight_kg": "7500" if big else "3500" if cold else "1200",
            "capacity_volume_m3": "40" if big else "20" if cold else "12",
            "is_refrigerated": cold,
            "shift_start": f"{rng.choice([5, 6, 7]):02d}:00",
            "shift_end": "19:00",
            "max_route_minutes": 10 * 60,
            "average_speed_kmh": "30" if big else "35",
            "fixed_cost": "120" if big else "60",
            "cost_per_km": "0.90" if big else "0.45",
        }
        day.dispatcher.expect(
            day.dispatcher.post("vehicles/", body, operation="POST vehicles/"), 201, what="vehicle"
        )
        day.vehicles.append(code)
