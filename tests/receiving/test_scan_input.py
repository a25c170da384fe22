"""The scan body's direct checks (`validate_scan_input`) accept exactly what `ScanInput` accepts,
with the same values, and hand everything else to it for its 400; parsed labels are reused."""

from __future__ import annotations

import itertools

import pytest
from rest_framework.exceptions import ValidationError

from receiving.api.serializers import ScanInput, validate_scan_input
from receiving.barcodes import build_gs1
from receiving.errors import UnreadableBarcode
from receiving.services.scans import parse_barcode

MISSING = object()
VALUES = {
    "barcode": ["", " ", "8712345000059", "a" * 200, "a" * 201, "é", "a\x00", 5, True, None],
    "quantity": [MISSING, 1, 0, 7, True, "3", 2.0, None],
    "pack": [MISSING, "", "  ", " case ", "a" * 16, "a" * 17, " " + "a" * 16 + " ", 3, "ü"],
    "damaged": [MISSING, True, False, "true", 1, None],
}


def _serializer(data):
    serializer = ScanInput(data=data)
    try:
        serializer.is_valid(raise_exception=True)
    except ValidationError as error:
        return "refused", error.detail
    return "ok", dict(serializer.validated_data)


def _direct(data):
    try:
        return "ok", dict(validate_scan_input(data))
    except ValidationError as error:
        return "refused", error.detail


def test_the_direct_checks_agree_with_the_serializer_on_every_combination():
    checked = 0
    for combination in itertools.product(*VALUES.values()):
        data = {k: v for k, v in zip(VALUES, combination, strict=True) if v is not MISSING}
        expected, got = _serializer(data), _direct(data)
        assert got == expected, data
        if expected[0] == "ok":
            assert {k: type(v) for k, v in got[1].items()} == {
                k: type(v) for k, v in expected[1].items()
            }
            checked += 1
    assert checked > 100


def test_other_shapes_get_the_serializers_answer():
    with pytest.raises(ValidationError):
        validate_scan_input(["8712345000059"])
    assert validate_scan_input({"barcode": "8712345000059", "extra": 1}) == {
        "barcode": "8712345000059",
        "damaged": False,
    }


def test_a_label_is_parsed_once_and_a_refusal_every_time():
    label = "]C1" + build_gs1(gtin="08712345000059", lot="L7", separator="|")
    first = parse_barcode(label)
    assert first.lot == "L7"
    assert parse_barcode(label) is first
    for _ in range(2):
        with pytest.raises(UnreadableBarcode):
            parse_barcode("]C1" + "0108712345000050")  # bad check digit
