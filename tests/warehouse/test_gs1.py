"""Tests for warehouse.gs1: check digits, GTIN normalisation and SSCC construction."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from warehouse.gs1 import (
    InvalidGTIN,
    gs1_check_digit,
    has_valid_check_digit,
    is_valid_sscc,
    make_sscc,
    normalize_gtin,
)

digit_strings = st.text(alphabet="0123456789", min_size=1, max_size=30)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("950110153000", "3"),  # EAN-13 9501101530003 from the GS1 General Specifications
        ("629104150021", "3"),  # EAN-13 6291041500213
        ("03600029145", "2"),  # UPC-A 036000291452
        ("9638507", "4"),  # GTIN-8 96385074
        ("1950110153000", "0"),  # GTIN-14 19501101530000
        ("10614141123456789", "7"),  # SSCC 106141411234567897
        ("0", "0"),
    ],
)
def test_check_digit_of_known_numbers(digits: str, expected: str) -> None:
    assert gs1_check_digit(digits) == expected


@pytest.mark.parametrize("bad", ["", "12a4", "12 4", "²3", "١٢٣"])
def test_check_digit_rejects_anything_but_ascii_digits(bad: str) -> None:
    with pytest.raises(ValueError, match="digits"):
        gs1_check_digit(bad)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("9501101530003", True),
        ("9501101530004", False),
        ("376104250021234569", True),
        ("00", True),
        ("0", False),  # a check digit alone protects nothing
        ("", False),
        ("95011O1530003", False),  # letter O typed for zero
        (" 9501101530003", False),
    ],
)
def test_has_valid_check_digit(number: str, expected: bool) -> None:
    assert has_valid_check_digit(number) is expected


@given(digit_strings)
def test_appending_the_check_digit_makes_a_valid_number(digits: str) -> None:
    assert has_valid_check_digit(digits + gs1_check_digit(digits))


@given(digit_strings, st.data())
def test_any_single_digit_substitution_is_detected(digits: str, data: st.DataObject) -> None:
    number = digits + gs1_check_digit(digits)
    position = data.draw(st.integers(min_value=0, max_value=len(number) - 1))
    replacement = data.draw(st.sampled_from("0123456789").filter(lambda d: d != number[position]))
    mistyped = number[:position] + replacement + number[position + 1 :]
    assert not has_valid_check_digit(mistyped)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("96385074", "00000096385074"),  # GTIN-8
        ("036000291452", "00036000291452"),  # UPC-A
        ("9501101530003", "09501101530003"),  # EAN-13
        ("19501101530000", "19501101530000"),  # GTIN-14
        ("  9501101530003\n", "09501101530003"),
    ],
)
def test_normalize_gtin_pads_to_14_digits(code: str, expected: str) -> None:
    assert normalize_gtin(code) == expected


@pytest.mark.parametrize(
    "code", ["", "123", "95011015300", "950110153000300", "95011015300O3", "9501101530003x"]
)
def test_normalize_gtin_rejects_wrong_lengths_and_characters(code: str) -> None:
    with pytest.raises(InvalidGTIN, match="GTIN must be 8, 12, 13 or 14 digits"):
        normalize_gtin(code)


def test_normalize_gtin_reports_the_expected_check_digit() -> None:
    with pytest.raises(InvalidGTIN, match="bad check digit: expected 3"):
        normalize_gtin("9501101530004")


def test_invalid_gtin_is_a_value_error() -> None:
    assert issubclass(InvalidGTIN, ValueError)


@given(
    st.sampled_from([7, 11, 12, 13]).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    )
)
def test_normalize_gtin_keeps_the_number_and_its_check_digit(payload: str) -> None:
    code = payload + gs1_check_digit(payload)
    normalized = normalize_gtin(code)
    assert len(normalized) == 14
    assert normalized.lstrip("0") == code.lstrip("0")
    assert has_valid_check_digit(normalized)


def test_make_sscc_matches_the_gs1_example() -> None:
    sscc = make_sscc(company_prefix="0614141", serial_reference=123456789, extension_digit=1)
    assert sscc == "106141411234567897"


@pytest.mark.parametrize(
    ("prefix", "serial", "expected"),
    [
        ("123456", 1, "012345600000000012"),  # 6-digit prefix leaves 10 serial digits
        ("123456789012", 9999, "012345678901299996"),  # 12-digit prefix leaves 4
    ],
)
def test_make_sscc_pads_the_serial_reference(prefix: str, serial: int, expected: str) -> None:
    assert make_sscc(company_prefix=prefix, serial_reference=serial) == expected


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"company_prefix": "12345", "serial_reference": 1}, "6-12 digits"),
        ({"company_prefix": "1234567890123", "serial_reference": 1}, "6-12 digits"),
        ({"company_prefix": "12345a", "serial_reference": 1}, "6-12 digits"),
        ({"company_prefix": "123456789012", "serial_reference": 10_000}, "does not fit in 4"),
        ({"company_prefix": "123456", "serial_reference": -1}, "does not fit"),
        ({"company_prefix": "123456", "serial_reference": 1, "extension_digit": 10}, "0-9"),
        ({"company_prefix": "123456", "serial_reference": 1, "extension_digit": -1}, "0-9"),
    ],
)
def test_make_sscc_rejects_what_does_not_fit(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make_sscc(**kwargs)


@given(
    prefix=st.integers(min_value=6, max_value=12).flatmap(
        lambda n: st.text("0123456789", min_size=n, max_size=n)
    ),
    extension=st.integers(min_value=0, max_value=9),
    data=st.data(),
)
def test_make_sscc_round_trips_its_parts(prefix: str, extension: int, data: st.DataObject) -> None:
    width = 16 - len(prefix)
    serial = data.draw(st.integers(min_value=0, max_value=10**width - 1))
    sscc = make_sscc(company_prefix=prefix, serial_reference=serial, extension_digit=extension)
    assert is_valid_sscc(sscc)
    assert sscc[0] == str(extension)
    assert sscc[1 : 1 + len(prefix)] == prefix
    assert int(sscc[1 + len(prefix) : -1]) == serial


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("376104250021234569", True),
        ("106141411234567897", True),
        ("376104250021234568", False),
        ("37610425002123456", False),
        ("0376104250021234569", False),
        ("00376104250021234569", False),  # with AI 00 in front it is an element string
        (" 376104250021234569", False),
        ("3761042500212345X9", False),
    ],
)
def test_is_valid_sscc(code: str, expected: bool) -> None:
    assert is_valid_sscc(code) is expected
