"""The barcodes a dock scanner reads: GS1-128 strings with real check digits.

Written here (not imported from the service) because the simulator is a client: it prints
labels as a supplier would, and the service has to read them.
"""

from __future__ import annotations

import datetime as dt

GS = "\x1d"  # the FNC1 separator after a variable-length field
SYMBOLOGY = "]C1"  # GS1-128 symbology identifier, as scanners prefix it
SUPPLIER_PREFIX = "9501234"  # the simulated suppliers' GS1 company prefix (for SSCCs)


def check_digit(body: str) -> str:
    """GS1 mod-10 check digit of `body` (weights 3,1,3,... from the right)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str((10 - total % 10) % 10)


def gtin14(gtin: str) -> str:
    return gtin.zfill(14)


def sscc(serial: int) -> str:
    """An 18-digit SSCC: extension 0, the supplier's prefix, a serial and the check digit."""
    body = f"0{SUPPLIER_PREFIX}{serial:0{16 - len(SUPPLIER_PREFIX)}d}"
    return body + check_digit(body)


def item_label(gtin: str, *, lot: str = "", expiry: dt.date | None = None) -> str:
    """GS1-128: (01) GTIN, (17) expiry, (10) lot; the lot goes last (variable length)."""
    label = f"{SYMBOLOGY}01{gtin14(gtin)}"
    if expiry is not None:
        label += f"17{expiry:%y%m%d}"
    if lot:
        label += f"10{lot}"
    return label


def pallet_label(code: str) -> str:
    return f"{SYMBOLOGY}00{code}"


def pick_item(gtin: str, lot: str = "") -> str:
    """What a picker scans: the plain GTIN, or (01)+(10) for a lot-tracked item."""
    return f"{SYMBOLOGY}01{gtin14(gtin)}10{lot}" if lot else gtin


def bad_check_digit(gtin: str) -> str:
    """The GTIN with a wrong last digit: what a smudged label reads as."""
    wrong = str((int(gtin[-1]) + 3) % 10)
    return f"{SYMBOLOGY}01{gtin14(gtin[:-1] + wrong)}"


def unknown_gtin(number: int) -> str:
    """A well-formed GTIN of a product nobody announced (another company's prefix)."""
    body = f"0{4006381}{number:06d}"
    return f"{SYMBOLOGY}01{body}{check_digit(body)}"


def malformed() -> str:
    """A GS1-128 read cut short: AI 01 with too few digits."""
    return f"{SYMBOLOGY}0109501"
