"""Parse what a handheld scanner sends on the dock into a :class:`Scan`.

Pure Python with no Django imports; GS1 element strings are split by ``biip`` and every rule
that ``biip`` leaves to the caller (check digits of AI 00/01/02, AI combinations, missing
separators) is enforced here.

Accepted input, after surrounding whitespace is stripped:

* a GS1 element string (GS1-128, GS1 DataMatrix, GS1 QR, GS1 DataBar), optionally prefixed by
  the symbology identifier ``]C1``, ``]d2``, ``]Q3``, ``]e0`` or ``]J1``, with the ASCII group
  separator (``GS``) or a configured substitute (default ``|``) after variable-length fields;
* the human-readable form with parentheses, ``(01)09501101530003(10)ABC``;
* a plain GTIN-8, UPC-A, EAN-13 or GTIN-14 (optionally prefixed ``]E0``, ``]E4`` or ``]I1``;
  eight digits behind ``]E0`` are a UPC-E and are expanded to the UPC-A they stand for);
* a plain 18-digit SSCC.

A bare digit string of 8, 12, 13 or 14 digits is always read as a GTIN and one of 18 digits as
an SSCC, never as an element string: those lengths are what dock scanners send for retail and
pallet barcodes, and a check digit error there is far more likely than, say, an expiry-only
GS1-128 symbol. Without a symbology identifier an 8-digit UPC-E cannot be told from a GTIN-8,
so scanners must either transmit identifiers or expand UPC-E to UPC-A.

Missing separators. A variable-length field (lot, serial, count, ...) ends at a separator, at
the end of the data, or when it reaches its GS1 maximum length. If the separator was dropped:

* and the field is the last one, or what follows still fits in the field, the rest is read as
  part of the field. ``01 09501101530003 10 ABC123 17260131`` without a separator therefore
  always gives lot ``"ABC12317260131"`` and no expiry. This cannot be detected in general,
  because that is also a legitimate lot; GS1 recommends encoding fixed-length AIs first, which
  is what :func:`build_gs1` does and what avoids the ambiguity.
* and the data runs past the field's maximum length, or a character that the field cannot hold
  follows it, the scan is rejected with ``malformed_gs1``. We never resume reading after a
  variable-length field that was not closed by a separator, even when the rest would happen to
  parse, because the field boundary is then a guess.

AI combinations, from the GS1 General Specifications, section 4.14 (invalid pairs and mandatory
associations of element strings), checked per scan:

* 01 together with 02 is forbidden (a trade item is not also the content of a logistic unit);
* 01 together with 37 is forbidden (a count of trade items only describes a logistic unit);
* 37 requires 02 (or 8026), and 02 requires 37: the mandatory-association table lists
  ``02 -> 37`` and ``37 -> 00 and (02 or 8026)``. We enforce the ``02 <-> 37`` part;
* 37's requirement of 00, and the requirement that a lot or expiry come with a GTIN, are NOT
  enforced per scan: GS1 evaluates associations over all barcodes on the item, and logistic
  labels routinely put the SSCC in a separate GS1-128 symbol from the 02/37/10/17 one. Callers
  that receive a whole label check the SSCC is present across its scans;
* an AI that appears twice with different values is forbidden; so are two net weights (310n)
  with different decimal positions. The same AI repeated with the same value is accepted.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from biip import ParseConfig, ParseError
from biip.gs1_application_identifiers import GS1ApplicationIdentifier
from biip.gs1_element_strings import GS1ElementString
from biip.symbology import GS1Symbology
from biip.upc import Upc

from warehouse.gs1 import (
    GTIN_LENGTHS,
    SSCC_LENGTH,
    InvalidGTIN,
    gs1_check_digit,
    has_valid_check_digit,
    is_valid_sscc,
    normalize_gtin,
)

__all__ = ["GS", "BarcodeError", "ErrorCode", "Scan", "ScanKind", "build_gs1", "parse_scan"]

GS = "\x1d"
"""ASCII group separator: what scanners transmit for the FNC1 that ends a variable-length field."""

ScanKind = Literal["gs1", "gtin", "sscc"]
ErrorCode = Literal[
    "malformed_gs1", "bad_check_digit", "forbidden_ai_combination", "unknown_format", "empty"
]

# GS1 "CSET 82", the characters allowed in alphanumeric AIs such as lot and serial. A separator
# substitute must not be one of them or it would split a lot in two.
_CSET82_CHAR = re.compile(r'[!"%-?A-Z_a-z]')
_CSET82_TEXT = re.compile(r'[!"%-?A-Z_a-z]{1,20}')

_GS1_MESSAGE_SYMBOLOGIES = frozenset(
    f"]{symbology.value}" for symbology in GS1Symbology.with_gs1_messages()
)
# ]E0 also reports UPC-E, so eight digits behind it are a UPC-E, not a GTIN-8.
_UPC_E_SYMBOLOGY = f"]{GS1Symbology.EAN_13.value}"
# The add-on symbologies (E1-E3) are left out on purpose: a GTIN followed by a 2- or 5-digit
# add-on is not a GTIN we can receive against.
_GTIN_SYMBOLOGIES = frozenset(
    f"]{symbology.value}"
    for symbology in (GS1Symbology.EAN_13, GS1Symbology.EAN_8, GS1Symbology.ITF_14)
)

# Net weight in kilograms is AI 310n, n being the number of decimal places.
_NET_WEIGHT_PREFIX = "310"
# In AIs 31nn-36nn the last digit is a decimal position, so e.g. 3102 and 3103 are the same
# measure and must not both appear (the "ex=310n" rule of the GS1 syntax dictionary).
_MEASURE_FAMILIES = ("31", "32", "33", "34", "35", "36")
_MAX_COUNT = 99_999_999
_MAX_NET_WEIGHT_DIGITS = 6
_MAX_NET_WEIGHT_DECIMALS = 5

_FIELD_NAMES = {
    "00": "SSCC",
    "01": "GTIN",
    "02": "content GTIN",
    "10": "lot",
    "17": "expiry date",
    "21": "serial number",
    "37": "count",
    _NET_WEIGHT_PREFIX: "net weight",
}
_EXPECTED_FORMATS = {
    "00": "18 digits",
    "01": "14 digits",
    "02": "14 digits",
    "10": "1 to 20 letters, digits or symbols",
    "17": "a date written YYMMDD",
    "21": "1 to 20 letters, digits or symbols",
    "37": "1 to 8 digits",
    _NET_WEIGHT_PREFIX: "6 digits",
}

# Dates are verified (month 13 or 31 February are malformed); day "00" means the last day of
# the month, which biip resolves for us.
_HRI_CONFIG = ParseConfig(gs1_element_strings_verify_date=True)
_HRI_SHAPE = re.compile(r"(?:\(\d{2,4}\)[^()]+)+")
_HRI_PAIR = re.compile(r"\((\d{2,4})\)([^()]+)")


class BarcodeError(ValueError):
    """A scan that cannot be accepted.

    ``code`` is one of ``malformed_gs1``, ``bad_check_digit``, ``forbidden_ai_combination``,
    ``unknown_format`` or ``empty``; ``str(error)`` is a message meant for the dock worker.
    """

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ErrorCode = code
        self.message = message


@dataclass(frozen=True, kw_only=True)
class Scan:
    """The data read from one scan.

    ``kind`` is ``"sscc"`` when the scan carries only an SSCC (plain, or AI 00 alone),
    ``"gtin"`` when it carries only a GTIN (plain, or AI 01 alone) and ``"gs1"`` otherwise.
    GTINs are always in their 14-digit form. ``expiry`` resolves a GS1 day "00" to the last
    day of the month and the two-digit year by the GS1 window (49 years back, 50 ahead).
    ``net_weight_kg`` keeps the decimals the barcode declared (AI 3102 gives ``Decimal("12.50")``).
    ``raw`` is the input exactly as received.
    """

    kind: ScanKind
    gtin: str | None = None
    content_gtin: str | None = None
    sscc: str | None = None
    lot: str | None = None
    expiry: dt.date | None = None
    serial: str | None = None
    count: int | None = None
    net_weight_kg: Decimal | None = None
    raw: str


def parse_scan(raw: str, *, separator_substitutes: tuple[str, ...] = ("|",)) -> Scan:
    """Parse one scan from a dock scanner.

    See the module docstring for the accepted forms, how missing separators are handled and
    which AI combinations are enforced.

    Args:
        raw: the characters the scanner sent, including any symbology identifier.
        separator_substitutes: characters accepted in place of ``GS`` (some scanners and
            keyboard wedges cannot send control characters). Each must be one character that
            cannot occur inside GS1 data.

    Raises:
        BarcodeError: ``empty`` for a blank scan; ``unknown_format`` for data that is not a GS1
            barcode; ``malformed_gs1`` for a damaged, truncated or badly separated element
            string, an impossible date or an over-long field; ``bad_check_digit`` for a GTIN
            or SSCC whose check digit does not match; ``forbidden_ai_combination`` for AI pairs
            that GS1 forbids or requires together, and for repeated AIs with different values.
        ValueError: if a separator substitute is not a single character outside GS1's CSET 82.
    """
    separators = _checked_separators((GS, *separator_substitutes))
    # str.strip() also removes GS (Python counts it as whitespace); a leading or trailing
    # separator carries no data.
    text = raw.strip()
    if not text:
        raise BarcodeError("empty", "Nothing was scanned. Scan the barcode again.")

    if text.startswith("]"):
        symbology, body = text[:3], text[3:].strip()
        if symbology in _GS1_MESSAGE_SYMBOLOGIES:
            return _parse_element_string(raw, body, separators)
        if symbology in _GTIN_SYMBOLOGIES:
            if not body:
                raise _no_data()
            return _parse_plain_gtin(raw, body, symbology=symbology)
        raise BarcodeError(
            "unknown_format",
            f"This barcode type ({symbology}) does not carry GS1 product or pallet data.",
        )

    if text.startswith("("):
        return _parse_hri(raw, text)
    if _is_digits(text) and len(text) in GTIN_LENGTHS:
        return _parse_plain_gtin(raw, text, symbology=None)
    if _is_digits(text) and len(text) == SSCC_LENGTH:
        return _parse_plain_sscc(raw, text)
    return _parse_element_string(raw, text, separators)


def build_gs1(
    *,
    gtin: str | None = None,
    content_gtin: str | None = None,
    sscc: str | None = None,
    lot: str | None = None,
    expiry: dt.date | None = None,
    serial: str | None = None,
    count: int | None = None,
    net_weight_kg: Decimal | None = None,
    separator: str = GS,
) -> str:
    """Compose a GS1 element string that :func:`parse_scan` reads back to the same fields.

    Fixed-length AIs (00, 01, 02, 17, 310n) come first in that order, then the variable-length
    ones (10, 21, 37), each but the last followed by ``separator``; this is the order GS1
    recommends because it needs the fewest separators and cannot be misread when one is lost.
    GTINs may be given in any accepted length and are written as 14 digits. The net weight is
    written with as many decimals as the Decimal carries (``Decimal("12.50")`` -> AI 3102).

    Raises:
        ValueError: when no field is given, a value is invalid (``InvalidGTIN`` for a GTIN, bad
            SSCC, lot or serial not 1-20 CSET 82 characters, count outside 0-99999999, weight
            that does not fit AI 310n, expiry outside the GS1 two-digit-year window of 49 years
            back to 50 years ahead), the AI combination is one that :func:`parse_scan` rejects,
            or ``separator`` is not a single character outside CSET 82.
    """
    _checked_separators((separator,))
    fixed: list[str] = []
    variable: list[str] = []

    if sscc is not None:
        if not is_valid_sscc(sscc):
            msg = f"SSCC must be 18 digits with a valid check digit, got {sscc!r}"
            raise ValueError(msg)
        fixed.append(f"00{sscc}")
    if gtin is not None:
        fixed.append(f"01{normalize_gtin(gtin)}")
    if content_gtin is not None:
        fixed.append(f"02{normalize_gtin(content_gtin)}")
    if expiry is not None:
        if not _fits_century_window(expiry.year):
            msg = f"expiry {expiry.isoformat()} cannot be written with a two-digit GS1 year"
            raise ValueError(msg)
        fixed.append(f"17{expiry:%y%m%d}")
    if net_weight_kg is not None:
        fixed.append(_encode_net_weight(net_weight_kg))
    if lot is not None:
        variable.append(f"10{_checked_text('lot', lot)}")
    if serial is not None:
        variable.append(f"21{_checked_text('serial', serial)}")
    if count is not None:
        if isinstance(count, bool) or not 0 <= count <= _MAX_COUNT:
            msg = f"count must be 0-{_MAX_COUNT}, got {count!r}"
            raise ValueError(msg)
        variable.append(f"37{count}")

    if not fixed and not variable:
        msg = "build_gs1 needs at least one field"
        raise ValueError(msg)
    present = {code[:2] for code in fixed + variable}
    problem = _combination_problem(present)
    if problem is not None:
        raise ValueError(problem)
    return "".join(fixed) + separator.join(variable)


# --- input forms ----------------------------------------------------------------------------


def _parse_plain_gtin(raw: str, digits: str, *, symbology: str | None) -> Scan:
    if symbology == _UPC_E_SYMBOLOGY and len(digits) == 8 and _is_digits(digits):
        digits = _expand_upc_e(digits)
    if len(digits) not in GTIN_LENGTHS or not _is_digits(digits):
        raise BarcodeError(
            "unknown_format",
            f"{_snippet(digits)} is not a product barcode: a GTIN has 8, 12, 13 or 14 digits.",
        )
    try:
        gtin = normalize_gtin(digits)
    except InvalidGTIN:
        raise _bad_check_digit("GTIN", digits) from None
    return Scan(kind="gtin", gtin=gtin, raw=raw)


def _expand_upc_e(digits: str) -> str:
    # Behind ]E0 eight digits can only be a UPC-E (an EAN-8 is reported as ]E4).
    if digits[0] not in "01":
        raise BarcodeError(
            "unknown_format",
            f"{digits} is not a valid UPC-E: it must start with 0 or 1.",
        )
    try:
        return Upc.parse(digits).as_upc_a()
    except ParseError:
        # The number system was checked above, so only the check digit can be wrong; parsing
        # the seven digits without it makes biip compute the expected one.
        expected = Upc.parse(digits[:7]).check_digit
        raise BarcodeError(
            "bad_check_digit",
            f"UPC-E {digits} has a bad check digit (expected {expected}). Scan it again or key "
            "in the number.",
        ) from None


def _parse_plain_sscc(raw: str, digits: str) -> Scan:
    if not is_valid_sscc(digits):
        raise _bad_check_digit("SSCC", digits)
    return Scan(kind="sscc", sscc=digits, raw=raw)


def _parse_hri(raw: str, text: str) -> Scan:
    # Whitespace is not allowed inside GS1 data, so spaces typed between groups for
    # readability carry no meaning.
    compact = "".join(text.split())
    # biip's own HRI parser skips groups it cannot read (e.g. "(B)"), silently losing data;
    # insisting that the whole text is (AI)value groups avoids that. Parentheses are legal in
    # lots, but in HRI they cannot be told from the next AI, so such text is rejected.
    if not _HRI_SHAPE.fullmatch(compact):
        raise BarcodeError(
            "malformed_gs1",
            f"Could not read {_snippet(text)} as (AI)value groups such as "
            "(01)09501101530003(10)ABC.",
        )
    elements: list[GS1ElementString] = []
    for ai_code, data in _HRI_PAIR.findall(compact):
        try:
            ai = GS1ApplicationIdentifier.extract(ai_code + data)
        except ParseError:
            ai = None
        if ai is None or ai.ai != ai_code:
            raise BarcodeError("malformed_gs1", f"({ai_code}) is not a GS1 application identifier.")
        try:
            elements.append(GS1ElementString.parse(ai_code + data, config=_HRI_CONFIG))
        except ParseError:
            raise _malformed_field(ai, data, whole=True) from None
    return _build_scan(raw, elements)


def _parse_element_string(raw: str, body: str, separators: tuple[str, ...]) -> Scan:
    config = ParseConfig(separator_chars=separators, gs1_element_strings_verify_date=True)
    elements: list[GS1ElementString] = []
    rest = body
    while rest:
        # Empty fields (doubled or leading separators) carry nothing; GS1 allows a separator
        # after any element string (General Specifications 7.8.6).
        if rest[0] in separators:
            rest = rest[1:]
            continue
        element = _extract_element(rest, config=config, previous=elements[-1] if elements else None)
        elements.append(element)
        rest = rest[len(element) :]
        if rest and element.ai.separator_required and rest[0] not in separators:
            raise _missing_separator(element, rest)
    if not elements:
        raise _no_data()
    return _build_scan(raw, elements)


def _extract_element(
    rest: str, *, config: ParseConfig, previous: GS1ElementString | None
) -> GS1ElementString:
    try:
        ai = GS1ApplicationIdentifier.extract(rest)
    except ParseError:
        if previous is None and rest[0] not in "0123456789":
            raise BarcodeError(
                "unknown_format",
                f"{_snippet(rest)} is not a GS1 barcode. Scan the product or pallet barcode.",
            ) from None
        where = "at the start" if previous is None else f"after {_describe(previous)}"
        raise BarcodeError(
            "malformed_gs1",
            f"Unreadable data {_snippet(rest)} {where}: the barcode may be damaged or cut off.",
        ) from None
    try:
        return GS1ElementString.extract(rest, config=config)
    except ParseError:
        data = rest[len(ai.ai) :]
        for separator in config.separator_chars:
            data = data.split(separator, 1)[0]
        raise _malformed_field(ai, data, whole=False) from None


# --- turning element strings into a Scan -----------------------------------------------------


def _build_scan(raw: str, elements: Sequence[GS1ElementString]) -> Scan:
    for element in elements:
        _check_key(element)
    by_key = _unique_elements(elements)
    problem = _combination_problem({element.ai.ai for element in elements})
    if problem is not None:
        raise BarcodeError("forbidden_ai_combination", problem)

    def value(ai: str) -> str | None:
        element = by_key.get(ai)
        return element.value if element is not None else None

    expiry_element = by_key.get("17")
    weight_element = by_key.get(_NET_WEIGHT_PREFIX)
    count = value("37")
    present = {element.ai.ai for element in elements}
    kind: ScanKind = "gs1"
    if present == {"00"}:
        kind = "sscc"
    elif present == {"01"}:
        kind = "gtin"
    return Scan(
        kind=kind,
        gtin=value("01"),
        content_gtin=value("02"),
        sscc=value("00"),
        lot=value("10"),
        expiry=expiry_element.date if expiry_element is not None else None,
        serial=value("21"),
        count=int(count) if count is not None else None,
        net_weight_kg=weight_element.decimal if weight_element is not None else None,
        raw=raw,
    )


def _check_key(element: GS1ElementString) -> None:
    # biip only records key check-digit failures in gtin_error/sscc_error and keeps going, so
    # the check is ours; we use our own helper rather than those fields because biip's GTIN
    # parser also reports unrelated problems (such as unknown GS1 prefixes) there.
    code = element.ai.ai
    if code in ("01", "02") and not has_valid_check_digit(element.value):
        raise _bad_check_digit(_FIELD_NAMES[code], element.value)
    if code == "00" and not is_valid_sscc(element.value):
        raise _bad_check_digit("SSCC", element.value)


def _unique_elements(elements: Iterable[GS1ElementString]) -> dict[str, GS1ElementString]:
    """Index elements by AI (by measure family for 31nn-36nn), rejecting conflicting repeats."""
    by_key: dict[str, GS1ElementString] = {}
    for element in elements:
        code = element.ai.ai
        key = code[:3] if len(code) == 4 and code.startswith(_MEASURE_FAMILIES) else code
        earlier = by_key.setdefault(key, element)
        if earlier is element:
            continue
        if earlier.ai.ai != code:
            raise BarcodeError(
                "forbidden_ai_combination",
                f"The barcode has {_describe(earlier)} and {_describe(element)}; "
                "only one of them is allowed.",
            )
        if earlier.value != element.value:
            raise BarcodeError(
                "forbidden_ai_combination",
                f"The barcode has two different values for {_field_name(code)} (AI {code}): "
                f"{earlier.value!r} and {element.value!r}.",
            )
    return by_key


def _combination_problem(present: set[str]) -> str | None:
    """Return why this set of AIs is not allowed in one scan, or None when it is."""
    if "01" in present and "02" in present:
        return (
            "The barcode has both a GTIN (AI 01) and a content GTIN (AI 02); GS1 does not allow "
            "both in one barcode."
        )
    if "01" in present and "37" in present:
        return (
            "The barcode has a count (AI 37) with a trade item GTIN (AI 01); a count only "
            "applies to pallets and other logistic units, with a content GTIN (AI 02)."
        )
    if "37" in present and not present & {"02", "8026"}:
        return "The barcode has a count (AI 37) but no content GTIN (AI 02) saying what is counted."
    if "02" in present and "37" not in present:
        return "The barcode has a content GTIN (AI 02) but no count (AI 37) of how many are inside."
    return None


# --- messages --------------------------------------------------------------------------------


def _no_data() -> BarcodeError:
    return BarcodeError("empty", "The scanner sent no barcode data. Scan the barcode again.")


def _bad_check_digit(name: str, digits: str) -> BarcodeError:
    expected = gs1_check_digit(digits[:-1])
    return BarcodeError(
        "bad_check_digit",
        f"{name} {digits} has a bad check digit (expected {expected}). Scan it again or key in "
        "the number.",
    )


def _malformed_field(ai: GS1ApplicationIdentifier, data: str, *, whole: bool) -> BarcodeError:
    """Explain why biip rejected ``data`` for ``ai``.

    ``whole`` says whether ``data`` had to be the entire field (HRI groups) or may be followed
    by further element strings (element-string scans).
    """
    name = _field_name(ai.ai)
    # When the AI's pattern matches, the format was right and biip rejected the date itself
    # (month 13, 30 February, ...).
    pattern = ai.pattern if whole else ai.pattern.removesuffix("$")
    matched = re.match(pattern, ai.ai + data)
    if matched is not None:
        value = "".join(group for group in matched.groups() if group is not None)
        return BarcodeError("malformed_gs1", f"The {name} (AI {ai.ai}) {value} is not a real date.")
    expected = _EXPECTED_FORMATS.get(_family(ai.ai), f"format {ai.format}")
    got = f"got {_snippet(data)}" if data else "it is empty"
    return BarcodeError(
        "malformed_gs1",
        f"The {name} (AI {ai.ai}) should be {expected}, but {got}; the barcode may be damaged "
        "or cut off.",
    )


def _missing_separator(element: GS1ElementString, rest: str) -> BarcodeError:
    name = _field_name(element.ai.ai)
    if _CSET82_CHAR.fullmatch(rest[0]):
        return BarcodeError(
            "malformed_gs1",
            f"The {name} (AI {element.ai.ai}) {element.value!r} runs straight into "
            f"{_snippet(rest)}: either the separator after it is missing or it is longer than GS1 "
            "allows.",
        )
    return BarcodeError(
        "malformed_gs1",
        f"Unexpected character {rest[0]!r} after the {name} (AI {element.ai.ai}) "
        f"{element.value!r}.",
    )


def _describe(element: GS1ElementString) -> str:
    return f"{_field_name(element.ai.ai)} (AI {element.ai.ai}) {element.value!r}"


def _field_name(ai: str) -> str:
    known = _FIELD_NAMES.get(_family(ai))
    if known is not None:
        return known
    try:
        return GS1ApplicationIdentifier.extract(ai).data_title
    except ParseError:
        return "field"


def _family(ai: str) -> str:
    return _NET_WEIGHT_PREFIX if ai.startswith(_NET_WEIGHT_PREFIX) else ai


def _snippet(text: str, limit: int = 24) -> str:
    shown = text if len(text) <= limit else text[:limit] + "..."
    return repr(shown)


# --- small validators ------------------------------------------------------------------------


def _is_digits(value: str) -> bool:
    return value.isascii() and value.isdigit()


def _checked_separators(chars: tuple[str, ...]) -> tuple[str, ...]:
    for char in chars:
        if len(char) != 1 or _CSET82_CHAR.fullmatch(char):
            msg = f"a separator must be one character that cannot occur in GS1 data, got {char!r}"
            raise ValueError(msg)
    return chars


def _checked_text(name: str, value: str) -> str:
    if not _CSET82_TEXT.fullmatch(value):
        msg = (
            f"{name} must be 1-20 GS1 CSET 82 characters (letters, digits, symbols), got {value!r}"
        )
        raise ValueError(msg)
    return value


def _fits_century_window(year: int) -> bool:
    # GS1 General Specifications 7.12: a two-digit year means the one within 49 years back and
    # 50 years ahead of today, which is how biip reads it back.
    this_year = dt.datetime.now(tz=dt.UTC).year
    return this_year - 49 <= year <= this_year + 50


def _encode_net_weight(weight: Decimal) -> str:
    if not weight.is_finite() or weight < 0:
        msg = f"net weight must be a finite, non-negative Decimal, got {weight!r}"
        raise ValueError(msg)
    decimals = max(0, -_int_exponent(weight))
    if decimals > _MAX_NET_WEIGHT_DECIMALS:
        # Trailing zeros beyond five places ("1.000000") are harmless; real precision is not.
        decimals = max(0, -_int_exponent(weight.normalize()))
    scaled = weight.scaleb(decimals)
    if decimals > _MAX_NET_WEIGHT_DECIMALS or scaled >= 10**_MAX_NET_WEIGHT_DIGITS:
        msg = f"net weight {weight} kg does not fit AI 310n (6 digits, at most 5 decimals)"
        raise ValueError(msg)
    return f"{_NET_WEIGHT_PREFIX}{decimals}{int(scaled):0{_MAX_NET_WEIGHT_DIGITS}d}"


def _int_exponent(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # only NaN and infinities have a str exponent
    return exponent
