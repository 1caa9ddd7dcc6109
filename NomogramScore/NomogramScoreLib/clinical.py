"""Clinical input validation: units, conversions and plausible ranges of nomogram predictors.

Every continuous predictor of a nomogram declares the unit its coefficient assumes (``unit``) and
may declare a plausible range in that unit (``plausible_min`` / ``plausible_max``). Well-known
laboratory quantities get a default plausible range from ``QUANTITIES`` when the model does not
declare one (the predictor's ``quantity`` key, or its name, selects the entry).

A value may be given as a number (already in the model's unit), as a string with a unit
("3.5 g/dL", "1200 /uL"), as a (value, unit) pair or as {"value": ..., "unit": ...}. Units of the
same dimension are converted:

  mass concentration (base g/L):  1 g/dL = 10 g/L;  1 mg/dL = 0.01 g/L;  1 ng/mL = 1 ug/L = 1e-6 g/L
  cell count (base 10^9/L):       1 x10^9/L = 1 x10^3/uL = 1 /nL;  1 cell/uL = 1 /mm^3 = 1e-3 x10^9/L
  catalytic activity (base U/L):  1 ukat/L = 60 U/L

Missing values, NaN, unknown units, unknown categorical levels and values outside the plausible
range are refused with an ``InputError`` naming the field, the value and the expected range, e.g.
``albumin = 350 g/L is outside the plausible range 10–60 g/L (serum albumin) ...``.
"""
from __future__ import annotations

import math
import re
from typing import Any, Mapping

from ResponseSignatureLib.errors import InputError

# normalised unit spelling -> (dimension, factor to the dimension's base unit, display spelling)
UNITS: dict[str, tuple[str, float, str]] = {
    "g/l": ("mass concentration", 1.0, "g/L"),
    "g/dl": ("mass concentration", 10.0, "g/dL"),
    "mg/ml": ("mass concentration", 1.0, "mg/mL"),
    "mg/dl": ("mass concentration", 1e-2, "mg/dL"),
    "mg/l": ("mass concentration", 1e-3, "mg/L"),
    "ug/ml": ("mass concentration", 1e-3, "ug/mL"),
    "ug/l": ("mass concentration", 1e-6, "ug/L"),
    "ng/ml": ("mass concentration", 1e-6, "ng/mL"),
    "ng/l": ("mass concentration", 1e-9, "ng/L"),
    "pg/ml": ("mass concentration", 1e-9, "pg/mL"),
    "10^9/l": ("cell count", 1.0, "x10^9/L"),
    "10^3/ul": ("cell count", 1.0, "x10^3/uL"),
    "10^3/mm3": ("cell count", 1.0, "x10^3/mm3"),
    "10^6/ml": ("cell count", 1.0, "x10^6/mL"),
    "/nl": ("cell count", 1.0, "/nL"),
    "/ul": ("cell count", 1e-3, "/uL"),
    "cells/ul": ("cell count", 1e-3, "cells/uL"),
    "/mm3": ("cell count", 1e-3, "/mm3"),
    "cells/mm3": ("cell count", 1e-3, "cells/mm3"),
    "u/l": ("catalytic activity", 1.0, "U/L"),
    "iu/l": ("catalytic activity", 1.0, "IU/L"),
    "ukat/l": ("catalytic activity", 60.0, "ukat/L"),
    "mmol/l": ("amount concentration", 1.0, "mmol/L"),
    "umol/l": ("amount concentration", 1e-3, "umol/L"),
    "%": ("fraction", 0.01, "%"),
    "fraction": ("fraction", 1.0, "fraction"),
    "": ("dimensionless", 1.0, ""),
    "1": ("dimensionless", 1.0, "1"),
    "score": ("dimensionless", 1.0, "score"),
    "years": ("age", 1.0, "years"),
    "y": ("age", 1.0, "y"),
}

# default plausible ranges (low, high, unit, description) for well-known predictors
QUANTITIES: dict[str, tuple[float, float, str, str]] = {
    "albumin": (10.0, 60.0, "g/L", "serum albumin"),
    "lymphocytes": (0.05, 50.0, "x10^9/L", "absolute lymphocyte count"),
    "neutrophils": (0.05, 100.0, "x10^9/L", "absolute neutrophil count"),
    "cea": (0.0, 100000.0, "ng/mL", "carcinoembryonic antigen"),
    "ldh": (20.0, 20000.0, "U/L", "lactate dehydrogenase"),
    "crp": (0.0, 600.0, "mg/L", "C-reactive protein"),
    "age": (0.0, 120.0, "years", "age"),
    "signature_score": (0.0, 1.0, "", "radiomics signature score"),
}


def standard_unit(name: str) -> str:
    """The unit a known predictor is read in when the model does not say (``QUANTITIES``; '' else):
    albumin g/L, lymphocytes and neutrophils x10^9/L, CEA ng/mL, LDH U/L, CRP mg/L, age years."""
    known = QUANTITIES.get(str(name).lower())
    return known[2] if known else ""


def check_training_values(predictor: Mapping[str, Any], low: float, high: float) -> None:
    """InputError when a training column's values (low..high) are implausible in the predictor's
    unit, with the unit that would make them plausible, e.g. albumin 2.9-4.6 read as g/L."""
    plausible = plausible_range(predictor)
    if plausible is None or (plausible[0] <= low and high <= plausible[1]):
        return
    unit = predictor.get("unit", "")
    hint = ""
    own = unit_factor(unit)
    for dimension, factor, display in UNITS.values():
        if own and dimension == own[0] and factor != own[1] and all(
                plausible[0] <= v * factor / own[1] <= plausible[1] for v in (low, high)):
            hint = f" If the column is in {display}, give --units {predictor['name']}={display}."
            break
    raise InputError(f"{predictor['name']} values in the table range {low:g}-{high:g}, which is implausible in "
                     f"{unit or 'the model unit'} ({plausible[2]}: {_format_range(plausible[0], plausible[1], unit)})."
                     f"{hint}")


def describe_reading(predictor: Mapping[str, Any], raw: Any, clean: Any) -> str:
    """How a given value was read, e.g. '3.4 g/dL = 34 g/L' or '38 g/L (no unit given: the model's unit)'."""
    if predictor["type"] == "categorical":
        return str(clean)
    unit = predictor.get("unit", "")
    number, given_unit = parse_value(raw)
    if given_unit is None:
        return f"{_with_unit(clean, unit)}" + (" (no unit given: read in the model's unit)" if unit else "")
    if normalise_unit(given_unit) == normalise_unit(unit):
        return _with_unit(clean, unit)
    return f"{_with_unit(float(number), given_unit)} = {_with_unit(clean, unit)}"


def normalise_unit(unit: str | None) -> str:
    """Canonical spelling used as key of ``UNITS``: lower case, no spaces, u for micro, 10^k."""
    text = (unit or "").strip().lower().replace(" ", "")
    text = text.replace("µ", "u").replace("μ", "u").replace("×", "x").replace("*", "x")
    text = text.replace("mm³", "mm3").replace("mm^3", "mm3").replace("10e", "10^").replace("10x", "10^")
    text = re.sub(r"^x(?=10\^)", "", text)
    text = text.replace("cell/", "cells/")
    return text


def unit_factor(unit: str | None) -> tuple[str, float] | None:
    """(dimension, factor to base) for a known unit, else None."""
    entry = UNITS.get(normalise_unit(unit))
    return None if entry is None else entry[:2]


def unit_hint(number: float, model_unit: str | None, low: float, high: float) -> str:
    """'if 3.4 was measured in g/dL, write albumin="3.4 g/dL"' when another unit makes it plausible."""
    own = unit_factor(model_unit)
    if own is None:
        return ""
    for dimension, factor, display in UNITS.values():
        if dimension == own[0] and factor != own[1] and low <= number * factor / own[1] <= high:
            return f" If {number:g} was measured in {display}, give the unit: \"{number:g} {display}\"."
    return ""


def convert(value: float, from_unit: str | None, to_unit: str | None) -> float:
    """Convert between two units of the same dimension; raises InputError otherwise."""
    if normalise_unit(from_unit) == normalise_unit(to_unit):
        return float(value)
    source, target = unit_factor(from_unit), unit_factor(to_unit)
    if source is None or target is None or source[0] != target[0]:
        raise InputError(f"cannot convert {value:g} {from_unit} to {to_unit}: the units are unknown or of different kinds.")
    return float(value) * source[1] / target[1]


def parse_value(raw: Any) -> tuple[Any, str | None]:
    """Split a raw input into (value, unit or None): numbers, "3.5 g/dL", (3.5, "g/dL"), dicts."""
    if isinstance(raw, Mapping):
        return raw.get("value"), raw.get("unit")
    if isinstance(raw, (tuple, list)) and len(raw) == 2:
        return raw[0], raw[1]
    if isinstance(raw, str):
        match = re.fullmatch(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(.*?)\s*", raw)
        if match:
            return float(match.group(1)), (match.group(2) or None)
    return raw, None


def plausible_range(predictor: Mapping[str, Any]) -> tuple[float, float, str] | None:
    """(low, high, description) in the predictor's unit: declared in the model, else the default."""
    description = predictor.get("label", predictor["name"])
    if predictor.get("plausible_min") is not None and predictor.get("plausible_max") is not None:
        return float(predictor["plausible_min"]), float(predictor["plausible_max"]), description
    default = QUANTITIES.get(str(predictor.get("quantity", predictor["name"])).lower())
    if default is None:
        return None
    low, high, unit, description = default
    try:
        return convert(low, unit, predictor.get("unit")), convert(high, unit, predictor.get("unit")), description
    except InputError:
        return None


def _format_range(low: float, high: float, unit: str) -> str:
    return f"{low:g}–{high:g}{(' ' + unit) if unit else ''}"


def _with_unit(value: float, unit: str | None) -> str:
    return f"{value:g}{(' ' + unit) if unit else ''}"


def _check_continuous(predictor: Mapping[str, Any], raw: Any) -> float:
    name, unit = predictor["name"], predictor.get("unit", "")
    value, given_unit = parse_value(raw)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} = {raw!r} is not a number; expected a value in {unit or 'the model unit'}.") from None
    plausible = plausible_range(predictor)
    expected = f" (expected {_format_range(plausible[0], plausible[1], unit)})" if plausible else ""
    if not math.isfinite(number):
        raise InputError(f"{name} = {number} is missing or not a finite number{expected}.")
    if given_unit is not None and unit_factor(given_unit) is None and normalise_unit(given_unit) != normalise_unit(unit):
        raise InputError(f"{name} = {raw!r}: unknown unit '{given_unit}'; the model expects {unit or 'no unit'}.")
    try:
        converted = convert(number, given_unit if given_unit is not None else unit, unit)
    except InputError:
        raise InputError(f"{name} = {_with_unit(number, given_unit)} cannot be converted to {unit or 'a dimensionless value'}.") from None
    if plausible and not plausible[0] <= converted <= plausible[1]:
        shown = _with_unit(converted, unit)
        if given_unit is not None and normalise_unit(given_unit) != normalise_unit(unit):
            shown = f"{_with_unit(number, given_unit)} (= {shown})"
        hint = unit_hint(number, unit, plausible[0], plausible[1]) if given_unit is None else ""
        raise InputError(
            f"{name} = {shown} is outside the plausible range {_format_range(plausible[0], plausible[1], unit)} "
            f"({plausible[2]}). Check the value and its unit.{hint}"
        )
    if predictor.get("transform") == "log" and converted <= 0:
        raise InputError(f"{name} = {_with_unit(converted, unit)} must be > 0 (the model uses its logarithm).")
    return converted


def _check_categorical(predictor: Mapping[str, Any], raw: Any) -> str:
    name, levels = predictor["name"], list(predictor["levels"])
    if isinstance(raw, float) and math.isnan(raw):
        raw = None
    text = str(raw).strip() if raw is not None else ""
    for level in levels:
        if text.lower() == level.lower():
            return level
    raise InputError(f"{name} = {raw!r} is not one of the expected levels: {', '.join(levels)}.")


def _is_missing(raw: Any) -> bool:
    if raw is None:
        return True
    if isinstance(raw, str) and raw.strip() == "":
        return True
    return isinstance(raw, float) and math.isnan(raw)


def validate_clinical_values(model: Mapping[str, Any], values: Mapping[str, Any]) -> dict:
    """Check and convert the model's inputs: {name: float in the model unit | categorical level}.

    Raises InputError for the first missing, non-numeric, NaN, unknown-unit, unknown-level or
    implausible value, naming the field, the value and the expected range or levels.
    Values for names the model does not use are ignored here (a table row holds many other
    columns); check names a user typed with ``check_variable_names``.
    """
    clean: dict[str, Any] = {}
    for predictor in model["model"]["predictors"]:
        name = predictor["name"]
        raw = values.get(name)
        if _is_missing(raw):
            raise InputError(f"{name} is missing: the nomogram needs {_expected(predictor)}.")
        if predictor["type"] == "categorical":
            clean[name] = _check_categorical(predictor, raw)
        else:
            clean[name] = _check_continuous(predictor, raw)
    return clean


def check_variable_names(model: Mapping[str, Any], names) -> None:
    """InputError for a name the user typed that is not one of the model's predictors (a misspelt
    variable would otherwise be ignored without a word), listing the expected names."""
    expected = [predictor["name"] for predictor in model["model"]["predictors"]]
    unknown = [str(name) for name in names if name not in expected]
    if not unknown:
        return
    import difflib

    hints = [f"'{close[0]}' for '{name}'" for name in unknown
             for close in [difflib.get_close_matches(name, expected, n=1, cutoff=0.6)] if close]
    plural = "s" if len(unknown) > 1 else ""
    raise InputError(f"unknown clinical variable{plural} {', '.join(repr(n) for n in unknown)}; the nomogram "
                     f"'{model.get('name', '')}' uses: {', '.join(expected)}."
                     + (f" Did you mean {', '.join(hints)}?" if hints else ""))


def _expected(predictor: Mapping[str, Any]) -> str:
    label = predictor.get("label", predictor["name"])
    if predictor["type"] == "categorical":
        return f"{label}, one of {', '.join(predictor['levels'])}"
    plausible = plausible_range(predictor)
    unit = predictor.get("unit", "")
    if plausible:
        return f"{label} in {unit or 'no unit'} (plausible range {_format_range(plausible[0], plausible[1], unit)})"
    return f"{label} in {unit or 'no unit'}"


def range_warnings(model: Mapping[str, Any], clean: Mapping[str, Any]) -> list[str]:
    """Plausible values outside the training range (nomogram axis min..max): extrapolation warnings."""
    warnings = []
    for predictor in model["model"]["predictors"]:
        if predictor["type"] != "continuous":
            continue
        value, unit = clean[predictor["name"]], predictor.get("unit", "")
        if not predictor["min"] <= value <= predictor["max"]:
            warnings.append(
                f"{predictor['name']} = {_with_unit(value, unit)} lies outside the range the model was built on "
                f"({_format_range(predictor['min'], predictor['max'], unit)}); the prediction is an extrapolation."
            )
    return warnings
