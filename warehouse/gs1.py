"""GS1 number helpers: check digits, GTIN normalisation and SSCC construction.

Pure Python with no Django imports, so the product model, the receiving scanner parser and
the label simulator can all share one implementation of the GS1 mod-10 rules
(GS1 General Specifications, section 7.9).
"""

from __future__ import annotations

__all__ = [
    "GTIN_LENGTHS",
    "SSCC_LENGTH",
    "InvalidGTIN",
    "gs1_check_digit",
    "has_valid_check_digit",
    "is_valid_sscc",
    "make_sscc",
    "normalize_gtin",
]

GTIN_LENGTHS: frozenset[int] = frozenset({8, 12, 13, 14})
"""Lengths of the GTIN forms we accept: GTIN-8, UPC-A (GTIN-12), EAN-13 and GTIN-14."""

SSCC_LENGTH = 18
"""An SSCC is always 18 digits: extension digit, company prefix, serial reference, check digit."""

_COMPANY_PREFIX_LENGTHS = range(6, 13)


class InvalidGTIN(ValueError):
    """A GTIN has the wrong length, contains non-digits, or has a bad check digit."""


def _is_digits(value: str) -> bool:
    # str.isdigit() also accepts characters such as "²" and Arabic-Indic digits, which must
    # never reach a GS1 number.
    return value.isascii() and value.isdigit()


def gs1_check_digit(digits: str) -> str:
    """Return the GS1 mod-10 check digit for ``digits`` given WITHOUT its check digit.

    Works for every GS1 key that uses the standard algorithm (GTIN-8/12/13/14, SSCC, GLN):
    digits are weighted 3, 1, 3, 1, ... starting from the rightmost one.

    Raises:
        ValueError: if ``digits`` is empty or contains anything other than ASCII digits.
    """
    if not _is_digits(digits):
        msg = f"expected a non-empty string of digits, got {digits!r}"
        raise ValueError(msg)
    total = sum(
        int(digit) * (3 if index % 2 == 0 else 1) for index, digit in enumerate(reversed(digits))
    )
    return str(-total % 10)


def has_valid_check_digit(number: str) -> bool:
    """Return True when ``number`` is at least two ASCII digits and ends in its check digit.

    Never raises: anything that is not a digit string is simply not valid.
    """
    if len(number) < 2 or not _is_digits(number):
        return False
    return gs1_check_digit(number[:-1]) == number[-1]


def normalize_gtin(code: str) -> str:
    """Validate a GTIN-8, UPC-A, EAN-13 or GTIN-14 and return its 14-digit form.

    Surrounding whitespace is ignored; the result is left-padded with zeros, which keeps the
    check digit valid because the weights are counted from the right.

    Raises:
        InvalidGTIN: "GTIN must be 8, 12, 13 or 14 digits" when the length or characters are
            wrong, or "... bad check digit: expected N" when the check digit does not match.
    """
    candidate = code.strip()
    if len(candidate) not in GTIN_LENGTHS or not _is_digits(candidate):
        msg = f"GTIN must be 8, 12, 13 or 14 digits, got {code!r}"
        raise InvalidGTIN(msg)
    expected = gs1_check_digit(candidate[:-1])
    if candidate[-1] != expected:
        msg = f"GTIN {candidate} has a bad check digit: expected {expected}"
        raise InvalidGTIN(msg)
    return candidate.zfill(14)


def make_sscc(*, company_prefix: str, serial_reference: int, extension_digit: int = 0) -> str:
    """Build an 18-digit SSCC: extension digit, company prefix, serial reference, check digit.

    The serial reference is zero-padded so that the 17 digits before the check digit are full;
    its room therefore shrinks as the company prefix grows (16 - prefix length digits).

    Raises:
        ValueError: if the company prefix is not 6-12 ASCII digits, the extension digit is not
            0-9, or the serial reference is negative or does not fit in the room left.
    """
    if not _is_digits(company_prefix) or len(company_prefix) not in _COMPANY_PREFIX_LENGTHS:
        msg = f"company prefix must be 6-12 digits, got {company_prefix!r}"
        raise ValueError(msg)
    # bool is an int subclass; True as an extension digit is a caller bug, not a 1.
    if isinstance(extension_digit, bool) or not 0 <= extension_digit <= 9:
        msg = f"extension digit must be 0-9, got {extension_digit!r}"
        raise ValueError(msg)
    width = SSCC_LENGTH - 2 - len(company_prefix)
    if isinstance(serial_reference, bool) or not 0 <= serial_reference < 10**width:
        msg = (
            f"serial reference {serial_reference!r} does not fit in {width} digits "
            f"for a {len(company_prefix)}-digit company prefix"
        )
        raise ValueError(msg)
    body = f"{extension_digit}{company_prefix}{serial_reference:0{width}d}"
    return body + gs1_check_digit(body)


def is_valid_sscc(code: str) -> bool:
    """Return True when ``code`` is exactly 18 ASCII digits with a correct check digit.

    No whitespace is stripped: callers parsing scanner input do that before asking.
    """
    return len(code) == SSCC_LENGTH and has_valid_check_digit(code)
