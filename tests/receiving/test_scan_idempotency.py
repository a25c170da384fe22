"""A handheld retries: the same scan, however often and however concurrently, counts once."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
import uuid
from urllib.parse import urlsplit

import pytest
from django.db import connection

from receiving.models import InboundLine, ReceiptScan
from tests.conftest import client_for
from tests.factories import receiving as rf
from warehouse.models import DeviceToken, StockBalance, StockMove
from warehouse.selectors import list_ledger_mismatches

ATTEMPTS = 20


def _in_threads(work, count: int) -> list:
    """Run `work(index)` in `count` threads that start together; each closes its connection."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(index: int) -> None:
        try:
            barrier.wait()
            results[index] = work(index)
        except Exception as error:  # surfaced by the assertions below
            results[index] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


@pytest.mark.django_db(transaction=True)
def test_same_scan_sent_concurrently_is_counted_once(site, product, users, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 50}], supplier=supplier)
    clients = [client_for(users["dock"]) for _ in range(ATTEMPTS)]
    key = str(uuid.uuid4())

    responses = _in_threads(
        lambda i: rf.scan(clients[i], receipt.id, product.gtin, key=key, quantity=2), ATTEMPTS
    )

    assert [getattr(r, "status_code", r) for r in responses] == [201] * ATTEMPTS
    bodies = {json.dumps(r.json(), sort_keys=True) for r in responses}
    assert len(bodies) == 1, "every retry must get the first answer"
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == ATTEMPTS - 1
    assert ReceiptScan.objects.filter(receipt=receipt).count() == 1
    assert StockMove.objects.filter(reference=f"receipt:{receipt.id}").count() == 1
    assert InboundLine.objects.get(shipment=receipt.shipment).received_quantity == 2
    assert StockBalance.objects.get(location=site.dock, product=product).quantity == 2


@pytest.mark.django_db
def test_same_scan_sent_in_sequence_is_counted_once(site, product, api, supplier):
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 50}], supplier=supplier)
    key = str(uuid.uuid4())
    responses = [
        rf.scan(api["dock"], receipt.id, product.gtin, key=key, quantity=2) for _ in range(ATTEMPTS)
    ]
    assert {r.status_code for r in responses} == {201}
    assert all(r.json() == responses[0].json() for r in responses)
    assert ReceiptScan.objects.filter(receipt=receipt).count() == 1
    assert StockMove.objects.filter(reference=f"receipt:{receipt.id}").count() == 1
    assert StockBalance.objects.get(location=site.dock, product=product).quantity == 2


@pytest.mark.django_db(transaction=True)
def test_different_scans_sent_concurrently_all_count(site, product, users, supplier):
    """Scans of one receipt run side by side (SHARE lock) and none is lost."""
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 10}], supplier=supplier)
    clients = [client_for(users["dock"]) for _ in range(ATTEMPTS)]

    responses = _in_threads(lambda i: rf.scan(clients[i], receipt.id, product.gtin), ATTEMPTS)

    assert [getattr(r, "status_code", r) for r in responses] == [201] * ATTEMPTS
    received = sorted(r.json()["items"][0]["line"]["received_quantity"] for r in responses)
    assert received == list(range(1, ATTEMPTS + 1))
    assert ReceiptScan.objects.filter(receipt=receipt).count() == ATTEMPTS
    assert InboundLine.objects.get(shipment=receipt.shipment).received_quantity == ATTEMPTS
    assert list_ledger_mismatches() == []


@pytest.mark.django_db(transaction=True)
def test_close_waits_for_scans_in_flight(site, product, users, supplier):
    """A close racing scans either counts a scan in its report or the scan is refused (409)."""
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 100}], supplier=supplier)
    clients = [client_for(users["dock"]) for _ in range(10)]

    def work(index: int):
        if index == 0:
            return clients[0].post(f"/api/v1/receipts/{receipt.id}/close/", {})
        return rf.scan(clients[index], receipt.id, product.gtin)

    responses = _in_threads(work, 10)
    statuses = [getattr(r, "status_code", r) for r in responses]
    assert statuses[0] == 200
    accepted = statuses[1:].count(201)
    assert set(statuses[1:]) <= {201, 409}
    short = responses[0].json()["discrepancies"][0]
    assert short["kind"] == "short"
    assert short["received_quantity"] == accepted
    assert ReceiptScan.objects.filter(receipt=receipt).count() == accepted


@pytest.mark.django_db(transaction=True)
def test_a_scan_whose_answer_was_lost_counts_once_when_retried(
    live_server, site, product, users, supplier
):
    """The scan commits, the handheld loses the connection before it reads the answer and sends
    the same scan again: it gets the first answer back, and the scan counts once."""
    receipt = rf.make_open_receipt(site, [{"product": product, "quantity": 50}], supplier=supplier)
    _, token = DeviceToken.issue(user=users["dock"], name="handheld")
    path = f"/api/v1/receipts/{receipt.id}/scans/"
    body = json.dumps({"barcode": product.gtin, "quantity": 2}).encode()
    headers = {
        "Authorization": f"Bearer {token}",
        "Content-Type": "application/json",
        "Idempotency-Key": str(uuid.uuid4()),
    }
    url = urlsplit(live_server.url)

    with socket.create_connection((url.hostname, url.port), timeout=30) as lost:
        head = f"POST {path} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        lost.sendall(head.encode() + b"\r\n" + body)
        # The server answers only after its transaction committed: the first byte proves it.
        # The rest of the answer is never read: the connection drops here.
        assert lost.recv(1) == b"H"

    retry = urllib.request.Request(live_server.url + path, data=body, headers=headers)
    with urllib.request.urlopen(retry, timeout=30) as answer:
        assert answer.status == 201
        assert answer.headers["Idempotent-Replayed"] == "true"
        assert json.load(answer)["items"][0]["line"]["received_quantity"] == 2
    assert ReceiptScan.objects.filter(receipt=receipt).count() == 1
    assert StockMove.objects.filter(reference=f"receipt:{receipt.id}").count() == 1
    assert StockBalance.objects.get(location=site.dock, product=product).quantity == 2
