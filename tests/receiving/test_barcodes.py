"""Tests for receiving.barcodes: parsing dock scanner input and composing GS1 element strings."""

import contextlib
import dataclasses
import datetime as dt
import re
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from receiving.barcodes import GS, BarcodeError, Scan, build_gs1, parse_scan
from warehouse.gs1 import gs1_check_digit

GTIN = "09501101530003"  # GS1's example EAN-13 9501101530003 in 14-digit form
SSCC = "376104250021234569"

# Each case: (id, what the scanner sent, the fields we expect; unlisted fields must be None).
GOOD_SCANS = [
    (
        "gtin-lot-expiry-with-gs",
        f"01{GTIN}17260131" + "10ABC123",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC123", "expiry": dt.date(2026, 1, 31)},
    ),
    (
        "lot-before-expiry-with-gs",
        f"01{GTIN}10ABC123{GS}17260131",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC123", "expiry": dt.date(2026, 1, 31)},
    ),
    (
        "lot-before-expiry-with-pipe",
        f"01{GTIN}10ABC123|17260131",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC123", "expiry": dt.date(2026, 1, 31)},
    ),
    (
        "gs1-128-symbology-identifier",
        f"]C101{GTIN}10ABC123{GS}17260131",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC123", "expiry": dt.date(2026, 1, 31)},
    ),
    (
        "pharma-datamatrix-serial-and-lot",
        f"]d201{GTIN}17270331" + f"21SN9876543210{GS}10A1B2C3",
        {
            "kind": "gs1",
            "gtin": GTIN,
            "expiry": dt.date(2027, 3, 31),
            "serial": "SN9876543210",
            "lot": "A1B2C3",
        },
    ),
    ("gs1-qr", f"]Q301{GTIN}10L7", {"kind": "gs1", "gtin": GTIN, "lot": "L7"}),
    ("gs1-databar-gtin-only", f"]e001{GTIN}", {"kind": "gtin", "gtin": GTIN}),
    ("ai-01-alone", f"01{GTIN}", {"kind": "gtin", "gtin": GTIN}),
    (
        "parentheses",
        f"(01){GTIN}(10)ABC",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC"},
    ),
    (
        "parentheses-with-spaces-and-gs1-example-date",
        f"(01) {GTIN} (17) 140704 (10) AB-123",
        {"kind": "gs1", "gtin": GTIN, "lot": "AB-123", "expiry": dt.date(2014, 7, 4)},
    ),
    ("plain-ean-13", "9501101530003", {"kind": "gtin", "gtin": GTIN}),
    ("plain-ean-13-with-newline", "4006381333931\r\n", {"kind": "gtin", "gtin": "04006381333931"}),
    ("plain-upc-a", "036000291452", {"kind": "gtin", "gtin": "00036000291452"}),
    ("plain-gtin-8", "96385074", {"kind": "gtin", "gtin": "00000096385074"}),
    ("plain-gtin-14", "19501101530000", {"kind": "gtin", "gtin": "19501101530000"}),
    ("ean-13-symbology", "]E09501101530003", {"kind": "gtin", "gtin": GTIN}),
    ("ean-8-symbology", "]E496385074", {"kind": "gtin", "gtin": "00000096385074"}),
    ("itf-14-symbology", "]I119501101530000", {"kind": "gtin", "gtin": "19501101530000"}),
    ("upc-e-behind-e0-is-expanded", "]E004252614", {"kind": "gtin", "gtin": "00042100005264"}),
    ("plain-sscc", SSCC, {"kind": "sscc", "sscc": SSCC}),
    ("sscc-with-ai-00", f"00{SSCC}", {"kind": "sscc", "sscc": SSCC}),
    ("sscc-with-ai-00-and-symbology", f"]C100{SSCC}", {"kind": "sscc", "sscc": SSCC}),
    (
        "logistic-unit-label",
        f"00{SSCC}02{GTIN}17261231" + f"3724{GS}10LOT42",
        {
            "kind": "gs1",
            "sscc": SSCC,
            "content_gtin": GTIN,
            "count": 24,
            "lot": "LOT42",
            "expiry": dt.date(2026, 12, 31),
        },
    ),
    (
        "logistic-unit-label-in-label-order",
        f"00{SSCC}02{GTIN}3724|10LOT42|17261231",
        {
            "kind": "gs1",
            "sscc": SSCC,
            "content_gtin": GTIN,
            "count": 24,
            "lot": "LOT42",
            "expiry": dt.date(2026, 12, 31),
        },
    ),
    (
        # The SSCC is often in a separate GS1-128 symbol on the same label.
        "content-and-count-without-sscc",
        f"02{GTIN}37120{GS}10LOT42",
        {"kind": "gs1", "content_gtin": GTIN, "count": 120, "lot": "LOT42"},
    ),
    (
        "weight-3-decimals",
        f"01{GTIN}3103012345",
        {"kind": "gs1", "gtin": GTIN, "net_weight_kg": Decimal("12.345")},
    ),
    (
        "weight-2-decimals",
        f"01{GTIN}3102001250",
        {"kind": "gs1", "gtin": GTIN, "net_weight_kg": Decimal("12.50")},
    ),
    (
        "weight-no-decimals",
        f"01{GTIN}3100000042",
        {"kind": "gs1", "gtin": GTIN, "net_weight_kg": Decimal("42")},
    ),
    (
        "weight-5-decimals",
        f"01{GTIN}3105123456",
        {"kind": "gs1", "gtin": GTIN, "net_weight_kg": Decimal("1.23456")},
    ),
    (
        "expiry-day-00-is-last-day-of-month",
        f"01{GTIN}17280200",
        {"kind": "gs1", "gtin": GTIN, "expiry": dt.date(2028, 2, 29)},
    ),
    (
        # The dropped separator cannot be detected: the expiry becomes part of the lot,
        # every time (see the module docstring).
        "missing-separator-after-short-lot-reads-as-lot",
        f"01{GTIN}10ABC12317260131",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC12317260131"},
    ),
    (
        "other-valid-ais-are-ignored",
        f"01{GTIN}15261130" + f"11250101400PO-4711{GS}91internal",
        {"kind": "gs1", "gtin": GTIN},
    ),
    (
        "trailing-and-doubled-separators",
        f"{GS}01{GTIN}10ABC{GS}{GS}21S1{GS}",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC", "serial": "S1"},
    ),
    (
        "same-ai-twice-with-same-value",
        f"01{GTIN}10ABC{GS}10ABC",
        {"kind": "gs1", "gtin": GTIN, "lot": "ABC"},
    ),
    ("lot-of-exactly-20-characters", f"10{'A' * 20}", {"kind": "gs1", "lot": "A" * 20}),
]

# Each case: (id, what the scanner sent, the expected BarcodeError.code).
BAD_SCANS = [
    ("empty", "", "empty"),
    ("only-whitespace", " \r\n", "empty"),
    ("only-symbology-identifier", "]C1", "empty"),
    ("only-separators", "]C1|||", "empty"),
    ("garbage-text", "hello dock 4", "unknown_format"),
    ("url", "https://example.com/01/09501101530003", "unknown_format"),
    ("non-gs1-symbology", "]A0SOMETHING", "unknown_format"),
    ("ean-add-on-is-not-a-gtin", "]E3950110153000312", "unknown_format"),
    ("bad-gtin-check-digit-plain", "9501101530004", "bad_check_digit"),
    ("bad-gtin-check-digit-in-ai-01", f"01{GTIN[:-1]}4", "bad_check_digit"),
    ("bad-content-gtin-check-digit", f"00{SSCC}02{GTIN[:-1]}43724", "bad_check_digit"),
    ("bad-sscc-check-digit-plain", SSCC[:-1] + "8", "bad_check_digit"),
    ("bad-sscc-check-digit-in-ai-00", f"00{SSCC[:-1]}8", "bad_check_digit"),
    ("bad-upc-e-check-digit", "]E004252615", "bad_check_digit"),
    ("count-with-trade-item-gtin", f"01{GTIN}3724", "forbidden_ai_combination"),
    ("gtin-with-content-gtin", f"01{GTIN}02{GTIN}3724", "forbidden_ai_combination"),
    ("content-gtin-without-count", f"00{SSCC}02{GTIN}", "forbidden_ai_combination"),
    ("count-without-content-gtin", f"00{SSCC}3724", "forbidden_ai_combination"),
    ("lot-twice-different", f"01{GTIN}10ABC{GS}10ABD", "forbidden_ai_combination"),
    ("gtin-twice-different", f"01{GTIN}0119501101530000", "forbidden_ai_combination"),
    ("two-net-weights", f"01{GTIN}31020012503103012500", "forbidden_ai_combination"),
    ("truncated-gtin", "0109501101", "malformed_gs1"),
    ("truncated-expiry", f"01{GTIN}172601", "malformed_gs1"),
    # Without the identifier, "00" + 10 digits would be read as a UPC-A (see the module docs).
    ("truncated-sscc", f"]C100{SSCC[:10]}", "malformed_gs1"),
    ("expiry-month-13", f"01{GTIN}17261301", "malformed_gs1"),
    ("expiry-30-february", f"01{GTIN}17260230", "malformed_gs1"),
    ("expiry-month-00", f"01{GTIN}17260015", "malformed_gs1"),
    ("lot-of-21-characters", f"01{GTIN}10{'A' * 21}", "malformed_gs1"),
    (
        "missing-separator-lot-runs-past-20-characters",
        f"01{GTIN}10ABCDEFGHIJ123456789017260131",
        "malformed_gs1",
    ),
    ("missing-separator-serial-into-lot", f"01{GTIN}21SN12345678901234510ABC", "malformed_gs1"),
    ("space-inside-lot", f"01{GTIN}10AB C", "malformed_gs1"),
    ("trailing-junk-after-fixed-field", f"01{GTIN}X", "malformed_gs1"),
    ("unknown-ai", f"01{GTIN}23ABC", "malformed_gs1"),
    ("empty-count", f"00{SSCC}02{GTIN}37{GS}", "malformed_gs1"),
    ("parentheses-unknown-ai", "(011)0950110153000", "malformed_gs1"),
    ("parentheses-extra-data", f"(01){GTIN}1", "malformed_gs1"),
    ("parentheses-in-data", "(10)A(B)C", "malformed_gs1"),
    ("parentheses-bad-check-digit", f"(01){GTIN[:-1]}4(10)ABC", "bad_check_digit"),
    ("parentheses-impossible-date", f"(01){GTIN}(17)260230", "malformed_gs1"),
]

SCAN_FIELDS = [
    field.name for field in dataclasses.fields(Scan) if field.name not in ("kind", "raw")
]


@pytest.mark.parametrize(
    ("raw", "expected"), [case[1:] for case in GOOD_SCANS], ids=[case[0] for case in GOOD_SCANS]
)
def test_good_scans(raw: str, expected: dict) -> None:
    scan = parse_scan(raw)
    assert scan.kind == expected["kind"]
    assert scan.raw == raw
    for name in SCAN_FIELDS:
        assert getattr(scan, name) == expected.get(name), name


@pytest.mark.parametrize(
    ("raw", "code"), [case[1:] for case in BAD_SCANS], ids=[case[0] for case in BAD_SCANS]
)
def test_bad_scans(raw: str, code: str) -> None:
    with pytest.raises(BarcodeError) as excinfo:
        parse_scan(raw)
    assert excinfo.value.code == code
    assert str(excinfo.value)  # always a message for the dock worker


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("09501101530004", "GTIN 09501101530004 has a bad check digit (expected 3)"),
        (f"01{GTIN[:-1]}4", "GTIN 09501101530004 has a bad check digit (expected 3)"),
        (f"00{SSCC[:-1]}8", "SSCC 376104250021234568 has a bad check digit (expected 9)"),
        ("0109501101", "GTIN (AI 01) should be 14 digits, but got '09501101'"),
        (f"01{GTIN}17260230", "expiry date (AI 17) 260230 is not a real date"),
        (f"01{GTIN}3724", "count (AI 37) with a trade item GTIN (AI 01)"),
        (f"01{GTIN}10{'A' * 21}", "separator after it is missing or it is longer than GS1"),
        ("hello", "'hello' is not a GS1 barcode"),
    ],
)
def test_messages_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(BarcodeError, match=re.escape(message)):
        parse_scan(raw)


def test_barcode_error_is_a_value_error() -> None:
    assert issubclass(BarcodeError, ValueError)


def test_missing_separator_behaviour_is_consistent() -> None:
    """Lot "ABC123" + expiry without the separator: always one long lot, never half-parsed."""
    without_separator = f"01{GTIN}10ABC123" + "17260131"
    first, second = parse_scan(without_separator), parse_scan(without_separator)
    assert first == second
    assert (first.lot, first.expiry) == ("ABC12317260131", None)
    # With the separator in place the same data reads as intended.
    with_separator = parse_scan(f"01{GTIN}10ABC123{GS}17260131")
    assert (with_separator.lot, with_separator.expiry) == ("ABC123", dt.date(2026, 1, 31))
    # Once the run-on lot no longer fits in 20 characters, the scan is rejected, not split.
    with pytest.raises(BarcodeError) as excinfo:
        parse_scan(f"01{GTIN}10ABC123" + "17260131" + "21SERIAL1")
    assert excinfo.value.code == "malformed_gs1"


def test_custom_separator_substitute() -> None:
    scan = parse_scan(f"01{GTIN}10ABC#17260131", separator_substitutes=("#",))
    assert (scan.lot, scan.expiry) == ("ABC", dt.date(2026, 1, 31))


def test_pipe_is_data_error_when_not_configured_as_separator() -> None:
    with pytest.raises(BarcodeError) as excinfo:
        parse_scan(f"01{GTIN}10ABC|17260131", separator_substitutes=())
    assert excinfo.value.code == "malformed_gs1"


@pytest.mark.parametrize("substitute", ["", "||", "A", "7", "-", "("])
def test_separator_substitutes_that_could_be_data_are_refused(substitute: str) -> None:
    with pytest.raises(ValueError, match="separator"):
        parse_scan(f"01{GTIN}", separator_substitutes=(substitute,))


def test_scan_is_frozen() -> None:
    scan = parse_scan(f"01{GTIN}")
    with pytest.raises(dataclasses.FrozenInstanceError):
        scan.lot = "X"  # type: ignore[misc]


@given(st.text(max_size=60))
def test_any_text_gives_a_scan_or_a_barcode_error(raw: str) -> None:
    try:
        scan = parse_scan(raw)
    except BarcodeError as error:
        assert error.code in {
            "malformed_gs1",
            "bad_check_digit",
            "forbidden_ai_combination",
            "unknown_format",
            "empty",
        }
    else:
        assert scan.raw == raw


@given(
    st.lists(st.sampled_from(["01", "02", "00", "10", "17", "21", "37", "3103", "|", GS, "9", "A"]))
    .map("".join)
    .flatmap(
        lambda prefix: st.text("0123456789ABC|\x1d", max_size=30).map(lambda tail: prefix + tail)
    )
)
def test_gs1_looking_noise_gives_a_scan_or_a_barcode_error(raw: str) -> None:
    with contextlib.suppress(BarcodeError):
        parse_scan(raw)


# --- build_gs1 --------------------------------------------------------------------------------


def test_build_gs1_puts_fixed_length_ais_first() -> None:
    built = build_gs1(
        sscc=SSCC,
        content_gtin="9501101530003",
        count=24,
        lot="LOT42",
        expiry=dt.date(2026, 12, 31),
    )
    assert built == f"00{SSCC}02{GTIN}17261231" + f"10LOT42{GS}3724"


def test_build_gs1_with_pipe_and_weight() -> None:
    built = build_gs1(
        gtin="96385074", net_weight_kg=Decimal("12.50"), lot="L1", serial="S1", separator="|"
    )
    assert built == "01000000963850743102001250" + "10L1|21S1"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "at least one field"),
        ({"gtin": "9501101530004"}, "bad check digit"),
        ({"sscc": SSCC[:-1] + "8"}, "SSCC"),
        ({"gtin": GTIN, "count": 5}, "count"),
        ({"gtin": GTIN, "content_gtin": GTIN, "count": 5}, "both a GTIN"),
        ({"content_gtin": GTIN}, "no count"),
        ({"lot": ""}, "lot must be 1-20"),
        ({"lot": "A" * 21}, "lot must be 1-20"),
        ({"serial": "has space"}, "serial must be 1-20"),
        ({"content_gtin": GTIN, "count": 100_000_000}, "count must be"),
        ({"gtin": GTIN, "net_weight_kg": Decimal("1000000")}, "does not fit"),
        ({"gtin": GTIN, "net_weight_kg": Decimal("0.000001")}, "does not fit"),
        ({"gtin": GTIN, "net_weight_kg": Decimal("-1")}, "non-negative"),
        ({"gtin": GTIN, "expiry": dt.date(1900, 1, 1)}, "two-digit GS1 year"),
        ({"gtin": GTIN, "separator": "A"}, "separator"),
    ],
)
def test_build_gs1_refuses_what_parse_scan_would_refuse(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_gs1(**kwargs)


# --- round trip ---------------------------------------------------------------------------------


def _gtins() -> st.SearchStrategy[str]:
    payloads = st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )
    return payloads.map(lambda payload: payload + gs1_check_digit(payload))


def _ssccs() -> st.SearchStrategy[str]:
    payloads = st.text("0123456789", min_size=17, max_size=17)
    return payloads.map(lambda payload: payload + gs1_check_digit(payload))


# GS1 CSET 82: the characters a lot or serial may hold.
_CSET82 = "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
_texts = st.text(_CSET82, min_size=1, max_size=20)
# Inside the two-digit-year window for the next few decades.
_expiries = st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2060, 12, 31))
_weights = st.builds(
    lambda digits, decimals: Decimal(digits).scaleb(-decimals),
    st.integers(min_value=0, max_value=999_999),
    st.integers(min_value=0, max_value=5),
)


@st.composite
def _scan_fields(draw: st.DrawFn) -> dict:
    """Field sets parse_scan accepts: a trade item, or a logistic unit (SSCC and/or content)."""
    fields: dict = {}
    shape = draw(st.sampled_from(["trade_item", "logistic_unit", "sscc_only"]))
    if shape == "trade_item":
        fields["gtin"] = draw(_gtins())
        fields["serial"] = draw(st.none() | _texts)
        fields["net_weight_kg"] = draw(st.none() | _weights)
    elif shape == "logistic_unit":
        fields["sscc"] = draw(st.none() | _ssccs())
        fields["content_gtin"] = draw(_gtins())
        fields["count"] = draw(st.integers(min_value=0, max_value=99_999_999))
    else:
        fields["sscc"] = draw(_ssccs())
    if shape != "sscc_only":
        fields["lot"] = draw(st.none() | _texts)
        fields["expiry"] = draw(st.none() | _expiries)
    return {name: value for name, value in fields.items() if value is not None}


@pytest.mark.parametrize("separator", [GS, "|"], ids=["gs", "pipe"])
@given(fields=_scan_fields(), symbology=st.sampled_from(["", "]C1", "]d2"]))
def test_build_then_parse_round_trips(separator: str, fields: dict, symbology: str) -> None:
    raw = symbology + build_gs1(**fields, separator=separator)
    scan = parse_scan(raw)
    for name in SCAN_FIELDS:
        expected = fields.get(name)
        if name in ("gtin", "content_gtin") and expected is not None:
            expected = expected.zfill(14)
        assert getattr(scan, name) == expected, name
    if set(fields) == {"sscc"}:
        assert scan.kind == "sscc"
    elif set(fields) == {"gtin"}:
        assert scan.kind == "gtin"
    else:
        assert scan.kind == "gs1"


@given(fields=_scan_fields())
def test_round_trip_survives_a_separator_typed_as_pipe(fields: dict) -> None:
    """A GS-separated string and the same string with | in its place read the same."""
    with_gs = build_gs1(**fields)
    assume(GS in with_gs)
    assert parse_scan(with_gs.replace(GS, "|")) == dataclasses.replace(
        parse_scan(with_gs), raw=with_gs.replace(GS, "|")
    )
