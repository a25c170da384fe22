"""Every inbound endpoint is in the OpenAPI schema, the scan request with examples."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

INBOUND_PATHS = {
    "/api/v1/suppliers/": {"get", "post"},
    "/api/v1/inspection-rules/": {"get", "post"},
    "/api/v1/inbound-shipments/": {"get", "post"},
    "/api/v1/inbound-shipments/{id}/": {"get"},
    "/api/v1/inbound-shipments/{id}/cancel/": {"post"},
    "/api/v1/inbound-shipments/{id}/check-in/": {"post"},
    "/api/v1/dock-appointments/": {"get", "post"},
    "/api/v1/dock-appointments/{id}/cancel/": {"post"},
    "/api/v1/dock-appointments/schedule/": {"post"},
    "/api/v1/receipts/": {"get", "post"},
    "/api/v1/receipts/{id}/scans/": {"post"},
    "/api/v1/receipts/{id}/close/": {"post"},
    "/api/v1/receipts/{id}/discrepancies/": {"get"},
    "/api/v1/inspections/{id}/record/": {"post"},
    "/api/v1/putaway-tasks/": {"get"},
    "/api/v1/putaway-tasks/{id}/confirm/": {"post"},
}


@pytest.mark.django_db
def test_inbound_endpoints_are_documented():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, methods in INBOUND_PATHS.items():
        assert path in schema["paths"], path
        assert methods <= set(schema["paths"][path]), path

    scan = schema["paths"]["/api/v1/receipts/{id}/scans/"]["post"]
    examples = scan["requestBody"]["content"]["application/json"]["examples"]
    assert len(examples) >= 4
    barcodes = [example["value"]["barcode"] for example in examples.values()]
    assert any(barcode.startswith("]C1") for barcode in barcodes)
    header = next(p for p in scan["parameters"] if p["name"] == "Idempotency-Key")
    assert header["required"] is True
    assert {"201", "409", "422"} <= set(scan["responses"])
    # The id path parameter is typed (the queryset is resolvable without a user).
    id_param = next(p for p in scan["parameters"] if p["name"] == "id")
    assert id_param["schema"]["type"] == "integer"
    booking = schema["paths"]["/api/v1/dock-appointments/"]["post"]["responses"]["409"]
    conflict = booking["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert "next_free_slot" in schema["components"]["schemas"][conflict]["properties"]
