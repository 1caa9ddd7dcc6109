"""How numbers look to a reader: one formatting for the report, the gauge, the command line,
the Slicer modules and the web workstation.

Rules (the same everywhere, so a value printed in two places reads the same):

* Missing values (None, NaN, empty text) are an en dash ``–``; booleans are ``yes`` / ``no``.
* A probability is a percentage with a space before the sign: ``48 %``; one decimal below 10 %
  (``4.2 %``) and above 90 % (``93.5 %``) where whole percents hide the difference between 90 and
  99.6; ``<0.1 %`` / ``>99.9 %`` at the ends (never ``0 %`` or ``100 %`` for a model's estimate).
* A confidence interval is ``95 % CI 32 to 65 %`` ("to", not a dash that could read as a minus).
* A change in percent carries its sign: ``+0.3 %``, ``-24.0 %``; one decimal.
* Measurements have a fixed number of decimals per quantity (``number(value, digits)``).
* Scores between 0 and 1 (signatures) have three decimals: ``0.076``; other model inputs three
  significant digits (``predictor_value``).
"""
from __future__ import annotations

import math
from typing import Any

MISSING = "–"


def is_missing(value: Any) -> bool:
    """None, NaN or empty/blank text."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (so ``isinstance`` checks and formatting work)."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def number(value: Any, digits: int = 1) -> str:
    """A measurement: ``digits`` decimals (3 significant digits when smaller than that shows),
    integers as they are, booleans yes/no, text unchanged, missing as ``–``."""
    value = plain(value)
    if is_missing(value):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        if value != 0 and abs(value) < 0.5 * 10 ** -digits:
            return f"{value:.3g}"
        text = f"{value:.{digits}f}"
        return "0" + text[2:] if text.startswith("-0") and float(text) == 0 else text  # no "-0.0"
    return str(value)


def significant(value: float, digits: int = 3) -> str:
    """``digits`` significant digits without an exponent for usual clinical magnitudes: 1.1, 42, 0.0762."""
    value = float(plain(value))
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{round(value, decimals):.{decimals}f}".rstrip("0").rstrip(".") if decimals else f"{round(value):.0f}"


def predictor_value(value: Any) -> str:
    """A model input as entered: scores below 1 with three decimals (0.076), other numbers with three
    significant digits (1.1, 42, 340), text as it is."""
    value = plain(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and not is_missing(value):
        return score(value) if abs(value) < 1 else significant(value)
    return number(value)


def score(value: Any) -> str:
    """A signature score (0-1 scale): three decimals."""
    return number(value, 3)


def percent_number(probability: float) -> str:
    """A probability in percent without the unit: '48', '4.2', '93.5', '<0.1', '>99.9'."""
    value = 100.0 * float(probability)
    if value < 0.1:
        return "<0.1"
    if value > 99.9:
        return ">99.9"
    if value < 10 or value > 90:
        return f"{value:.1f}"
    return f"{value:.0f}"


def percent(probability: Any) -> str:
    """A probability as a percentage: '48 %' (see the module docstring); missing as '–'."""
    probability = plain(probability)
    if is_missing(probability):
        return MISSING
    return f"{percent_number(probability)} %"


def ci_text(low: Any, high: Any, level: float = 0.95) -> str:
    """'95 % CI 32 to 65 %' for a probability interval ('' when either end is missing)."""
    low, high = plain(low), plain(high)
    if is_missing(low) or is_missing(high):
        return ""
    low, high = sorted((float(low), float(high)))
    return f"{100 * level:g} % CI {percent_number(low)} to {percent_number(high)} %"


def with_ci(probability: Any, low: Any = None, high: Any = None, level: float = 0.95) -> str:
    """'48 % (95 % CI 32 to 65 %)', or just '48 %' without an interval."""
    interval = ci_text(low, high, level)
    return f"{percent(probability)} ({interval})" if interval else percent(probability)


def change_percent(value: Any, digits: int = 1) -> str:
    """A change in percent with its sign: '+0.3 %', '-100.0 %'; missing as '–'."""
    value = plain(value)
    if is_missing(value):
        return MISSING
    text = number(float(value), digits)
    sign = "+" if float(value) > 0 and not text.startswith("-") and text.strip("0.") else ""
    return f"{sign}{text} %"


def quantity(value: Any, unit: str = "", digits: int = 1) -> str:
    """A number with its unit: '61.9 mm'; missing as '–' (no unit)."""
    text = number(value, digits)
    return f"{text} {unit}" if unit and text != MISSING else text
