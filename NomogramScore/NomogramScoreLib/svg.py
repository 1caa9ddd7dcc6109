"""Small helpers shared by the SVG pictures (gauge, nomogram chart, waterfall): escaping, coordinates.

Numbers a reader sees are formatted by ``ResponseSignatureLib.formatting`` (``percent`` is re-exported).
"""
from __future__ import annotations

import re
from html import escape

from ResponseSignatureLib.formatting import percent  # noqa: F401  (one formatting of probabilities)
from ResponseSignatureLib.formatting import significant as short_number  # noqa: F401  (tick labels)

SVG_NS = "http://www.w3.org/2000/svg"
FONT = "font-family=\"DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif\""
_COLOR = re.compile(r"^(#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|[a-zA-Z]{3,20})$")


def esc(text: object) -> str:
    """XML/HTML-escape any value for element text or attribute values (quotes included)."""
    return escape(str(text), quote=True)


def safe_color(color: object, default: str = "#9e9e9e") -> str:
    """A CSS colour that cannot break out of an attribute: #rgb, #rrggbb or a colour name."""
    text = str(color or "")
    return text if _COLOR.match(text) else default


def num(value: float) -> str:
    """Coordinates with 2 decimals, no trailing zeros ('12.5', '3')."""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def pretty_unit(unit: str | None) -> str:
    """Unit for display: 'x10^9/L' -> '×10⁹/L', 'ug' -> 'µg' (data keeps the ASCII spelling)."""
    text = str(unit or "")
    text = re.sub(r"\^(-?\d+)", lambda m: m.group(1).translate(_SUPERSCRIPTS), text)
    text = re.sub(r"^x(?=10)", "×", text)
    return re.sub(r"\bu(?=[gLl]|mol)", "µ", text)
