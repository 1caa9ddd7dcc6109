"""Nomogram models: points, total points -> risk, individual risk with a 95 % confidence interval.

Two model kinds share the model-file format of ``ResponseSignatureLib.models.modelfile``
(JSON, canonical SHA-256, validated on load):

``nomogram_logistic``  P(event | x) = expit(lp),  lp = b0 + sum_j f_j(x_j)
``nomogram_cox``       S(t | x) = S0(t) ** exp(lp - centering),  lp = sum_j f_j(x_j)
                       risk shown = 1 - S(t | x) at ``model['time']`` (risk of the event by time t)

The gauge, the report and ``score_patient`` always show the *probability of the model's outcome*
(for Cox: of the event by time t); the document's ``outcome`` block says what the outcome is and
whether it is unfavourable (only then is the probability called a "risk"; see
ResponseSignatureLib.models.outcome). For Cox models the survival probability is returned as well
(``survival``).

Term contributions f_j:
  continuous   f_j(x) = beta_j * g(x), g = identity, or natural log when ``transform == "log"``
  categorical  f_j(level) = beta_level, the first level is the reference (beta = 0)

Points arithmetic exactly as R's ``rms::nomogram`` (Harrell; R/nomogram.s), see
reference/clinical_methods.md section 4.1:
  R_j = max f_j - min f_j over the predictor's axis range [min, max] (all levels if categorical)
  sc = 100 / max_j R_j                                  (points per unit of linear predictor)
  points_j(x) = (f_j(x) - min f_j) * sc                 (the lowest-risk value gets 0 points)
  Intercept* = b0 + sum_j min f_j                       (b0 = -centering for Cox)
  lp = T / sc + Intercept*                              (T = total points)

Confidence interval of an individual prediction (delta method on the link scale, as DynNom and
``predict.glm(se.fit=TRUE)`` do): with d the design row (1, g(x), dummies) for logistic, or
(design row - design_means) for Cox, and V the coefficient covariance, SE(lp) = sqrt(d' V d); the CI is the response function applied to
lp +/- 1.959964 * SE. For Cox this ignores the uncertainty of the baseline survival S0(t), so it is
somewhat too narrow (documented in the model card written by ``training.train_nomogram``).

Only numpy is needed here (no statsmodels / lifelines at scoring time).

Model content (``doc['model']``)::

    outcome          older files only: {"name", "label"} (now the document's top-level ``outcome``)
    predictors       [{"name", "label", "unit", "type": "continuous"|"categorical",
                       "min", "max" (continuous: nomogram axis range, by default the training
                                     range widened to round numbers),
                       "coefficient" (continuous), "transform": null|"log",
                       "levels" + "coefficients" (categorical: one coefficient per non-reference level),
                       "plausible_min", "plausible_max" (optional, in ``unit``; else the
                                     default of ``quantity`` in clinical.QUANTITIES)}]
    design_columns   names of the design row, the order of ``covariance``:
                     ["(intercept)", <continuous name>, <categorical name>=<level>, ...] (logistic;
                     Cox has no intercept column)
    covariance       square matrix of the coefficients' covariance, ordered like design_columns
    intercept        logistic only
    baseline_survival, centering, design_means, time, time_unit
                     Cox only: {"<time>": S0(time)} at the training means of the design columns
                     (centering = sum beta * design_means, lifelines' convention)
    risk_bands       [{"name", "lower", "upper", "color"}] covering 0..1 in order (training writes
                     two bands split at the model's cut-off ``doc['threshold']['value']``)
    points_scale     100 (the rms ``maxscale``)
"""
from __future__ import annotations

import math
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np

from ResponseSignatureLib.errors import ModelFileError
from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff

KINDS = ("nomogram_logistic", "nomogram_cox")
DEFAULT_BANDS = [
    {"name": "Low risk", "lower": 0.0, "upper": 1.0 / 3.0, "color": "#2e7d32"},
    {"name": "Intermediate risk", "lower": 1.0 / 3.0, "upper": 2.0 / 3.0, "color": "#f9a825"},
    {"name": "High risk", "lower": 2.0 / 3.0, "upper": 1.0, "color": "#c62828"},
]


# --------------------------------------------------------------------------------------------
# term contributions and design rows
# --------------------------------------------------------------------------------------------

def is_cox(model: Mapping[str, Any]) -> bool:
    """True for a ``nomogram_cox`` model document."""
    return model["kind"] == "nomogram_cox"


def predictors(model: Mapping[str, Any]) -> list[dict]:
    """The predictor declarations of a model document."""
    return list(model["model"]["predictors"])


def transform_value(predictor: Mapping[str, Any], x: float) -> float:
    """g(x): the value the coefficient multiplies (x, or ln x when transform is 'log')."""
    if predictor.get("transform") == "log":
        return math.log(x)
    return float(x)


def term(predictor: Mapping[str, Any], value: Any) -> float:
    """f_j(value): the predictor's contribution to the linear predictor."""
    if predictor["type"] == "categorical":
        index = predictor["levels"].index(value)
        return 0.0 if index == 0 else float(predictor["coefficients"][index - 1])
    return float(predictor["coefficient"]) * transform_value(predictor, value)


def term_range(predictor: Mapping[str, Any]) -> tuple[float, float]:
    """(min f_j, max f_j) over the axis range (continuous) or all levels (categorical)."""
    if predictor["type"] == "categorical":
        values = [term(predictor, level) for level in predictor["levels"]]
    else:
        values = [term(predictor, predictor["min"]), term(predictor, predictor["max"])]
    return min(values), max(values)


def design_columns_for(predictor_list: list[Mapping[str, Any]], with_intercept: bool) -> list[str]:
    """Design-row column names: "(intercept)", continuous names, then "name=level" dummies."""
    columns = ["(intercept)"] if with_intercept else []
    for predictor in predictor_list:
        if predictor["type"] == "categorical":
            columns += [f"{predictor['name']}={level}" for level in predictor["levels"][1:]]
        else:
            columns.append(predictor["name"])
    return columns


def design_row(model: Mapping[str, Any], values: Mapping[str, Any]) -> np.ndarray:
    """x-tilde: the design row of one patient (1, g(x), dummies), ordered like ``design_columns``."""
    row = [1.0] if not is_cox(model) else []
    for predictor in predictors(model):
        value = values[predictor["name"]]
        if predictor["type"] == "categorical":
            row += [1.0 if value == level else 0.0 for level in predictor["levels"][1:]]
        else:
            row.append(transform_value(predictor, value))
    return np.asarray(row, dtype=float)


def coefficient_vector(model: Mapping[str, Any]) -> np.ndarray:
    """beta ordered like the design row (intercept first for logistic)."""
    content = model["model"]
    beta = [float(content["intercept"])] if not is_cox(model) else []
    for predictor in predictors(model):
        if predictor["type"] == "categorical":
            beta += [float(c) for c in predictor["coefficients"]]
        else:
            beta.append(float(predictor["coefficient"]))
    return np.asarray(beta, dtype=float)


def mean_design_row(model: Mapping[str, Any]) -> np.ndarray:
    """Cox: the training means of the design columns (``design_means``); centering = beta . means."""
    return np.asarray(model["model"]["design_means"], dtype=float)


# --------------------------------------------------------------------------------------------
# points (rms arithmetic)
# --------------------------------------------------------------------------------------------

def points_per_unit(model: Mapping[str, Any]) -> float:
    """sc = maxscale / max_j R_j (rms: 'points per unit of linear predictor')."""
    widest = max(high - low for low, high in (term_range(p) for p in predictors(model)))
    if widest <= 0:
        raise ModelFileError(f"Model '{model['name']}': every predictor has a zero effect range; no nomogram can be drawn.")
    return float(model["model"].get("points_scale", 100)) / widest


def base_intercept(model: Mapping[str, Any]) -> float:
    """b0: the logistic intercept, or -centering for Cox (rms centres the Cox lp)."""
    if is_cox(model):
        return -float(model["model"]["centering"])
    return float(model["model"]["intercept"])


def shifted_intercept(model: Mapping[str, Any]) -> float:
    """Intercept* = b0 + sum_j min f_j: the linear predictor at 0 total points."""
    return base_intercept(model) + sum(term_range(p)[0] for p in predictors(model))


def predictor_points(model: Mapping[str, Any], predictor: Mapping[str, Any], value: Any) -> float:
    """points_j(x) = (f_j(x) - min f_j) * sc."""
    return (term(predictor, value) - term_range(predictor)[0]) * points_per_unit(model)


def lp_to_risk(model: Mapping[str, Any], lp: float | np.ndarray, time: float | None = None) -> Any:
    """Risk of the event from the (centred, for Cox) linear predictor.

    logistic: expit(lp); Cox: 1 - S0(t) ** exp(lp) with lp = sum beta x - centering.
    """
    lp = np.asarray(lp, dtype=float)
    if is_cox(model):
        s0 = baseline_survival_at(model, time)
        with np.errstate(over="ignore"):  # exp(lp) = inf is the right limit: risk 1
            risk = -np.expm1(np.exp(lp) * math.log(s0))
    else:
        risk = expit(lp)
    return float(risk) if risk.ndim == 0 else risk


def expit(lp: float | np.ndarray) -> Any:
    """1 / (1 + exp(-lp)) without overflow for any lp (written as (1 + tanh(lp / 2)) / 2)."""
    return 0.5 * (1.0 + np.tanh(np.asarray(lp, dtype=float) / 2.0))


def risk_to_lp(model: Mapping[str, Any], risk: float | np.ndarray, time: float | None = None) -> Any:
    """Inverse of ``lp_to_risk``: logit(p), or log(log(1 - p) / log S0(t)) for Cox."""
    risk = np.asarray(risk, dtype=float)
    if is_cox(model):
        s0 = baseline_survival_at(model, time)
        lp = np.log(np.log1p(-risk) / math.log(s0))
    else:
        lp = np.log(risk / (1.0 - risk))
    return float(lp) if lp.ndim == 0 else lp


def total_points_to_lp(model: Mapping[str, Any], total_points: float | np.ndarray) -> Any:
    """lp = T / sc + Intercept*."""
    return np.asarray(total_points, dtype=float) / points_per_unit(model) + shifted_intercept(model)


def total_points_to_risk(model: Mapping[str, Any], total_points: float | np.ndarray, time: float | None = None) -> Any:
    """Risk of the event for a total number of points: lp_to_risk(T / sc + Intercept*)."""
    return lp_to_risk(model, total_points_to_lp(model, total_points), time)


def risk_to_total_points(model: Mapping[str, Any], risk: float | np.ndarray, time: float | None = None) -> Any:
    """Total points at which the predicted risk equals ``risk``: T = (lp(risk) - Intercept*) * sc."""
    return (np.asarray(risk_to_lp(model, risk, time)) - shifted_intercept(model)) * points_per_unit(model)


def baseline_survival_at(model: Mapping[str, Any], time: float | None = None) -> float:
    """S0(t) for one of the stored times (default: the model's display time ``model['time']``)."""
    content = model["model"]
    table = {float(key): float(value) for key, value in content["baseline_survival"].items()}
    wanted = float(content["time"] if time is None else time)
    for stored, survival in table.items():
        if math.isclose(stored, wanted, rel_tol=0.0, abs_tol=1e-9):
            return survival
    raise ModelFileError(
        f"Model '{model['name']}' has no baseline survival at time {wanted:g}; stored times: "
        + ", ".join(f"{t:g}" for t in sorted(table))
    )


def nice_step(low: float, high: float, count: int = 10) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= (high - low) / count."""
    raw = (high - low) / count
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)


def rounded_range(low: float, high: float, log: bool = False) -> tuple[float, float]:
    """[low, high] widened to round numbers: multiples of ``nice_step`` (or 1-2-5 values for log axes)."""
    if high <= low:
        return float(low), float(high)
    if log:
        grid = log_ticks(10.0 ** math.floor(math.log10(low)), 10.0 ** math.ceil(math.log10(high)))
        return max(v for v in grid if v <= low * (1 + 1e-12)), min(v for v in grid if v >= high * (1 - 1e-12))
    step = nice_step(low, high)
    return (round(math.floor(low / step + 1e-9) * step, 12), round(math.ceil(high / step - 1e-9) * step, 12))


def nice_ticks(low: float, high: float, count: int = 10) -> list[float]:
    """About ``count`` round tick values covering [low, high] (1, 2, 2.5, 5 x 10^k steps)."""
    if high <= low:
        return [float(low)]
    step = nice_step(low, high, count)
    first = math.ceil(low / step - 1e-9) * step
    ticks = []
    value = first
    while value <= high + 1e-9 * step:
        ticks.append(round(value, 12))
        value += step
    return ticks


def axis_values(predictor: Mapping[str, Any], count: int = 10) -> list[Any]:
    """Values shown on a predictor's axis: its levels, or round ticks (1-2-5 for log) plus the range ends."""
    if predictor["type"] == "categorical":
        return list(predictor["levels"])
    low, high = float(predictor["min"]), float(predictor["max"])
    if predictor.get("transform") == "log":
        ticks = log_ticks(low, high)
    else:
        ticks = [t for t in nice_ticks(low, high, count) if low <= t <= high]
    return sorted(set([low] + ticks + [high]))


def log_ticks(low: float, high: float) -> list[float]:
    """1-2-5 ticks (..., 1, 2, 5, 10, 20, ...) inside [low, high] (low > 0), for log-scaled axes."""
    ticks = []
    for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1):
        for mantissa in (1, 2, 5):
            value = float(f"{mantissa}e{exponent}")
            if low <= value <= high:
                ticks.append(value)
    return ticks


def points_table(model: Mapping[str, Any], count: int = 10):
    """DataFrame: predictor, label, unit, value, points - the nomogram's scales as a table."""
    import pandas as pd

    rows = []
    for predictor in predictors(model):
        for value in axis_values(predictor, count):
            rows.append({
                "predictor": predictor["name"],
                "label": predictor.get("label", predictor["name"]),
                "unit": predictor.get("unit", ""),
                "value": value,
                "points": predictor_points(model, predictor, value),
            })
    return pd.DataFrame(rows, columns=["predictor", "label", "unit", "value", "points"])


def max_total_points(model: Mapping[str, Any]) -> float:
    """Sum over predictors of their maximum points (sc * R_j)."""
    sc = points_per_unit(model)
    return sum((high - low) * sc for low, high in (term_range(p) for p in predictors(model)))


def total_points_table(model: Mapping[str, Any], step: float = 10.0, time: float | None = None):
    """DataFrame: total_points -> linear_predictor, risk (and survival for Cox), 0..max in ``step``s."""
    import pandas as pd

    top = max_total_points(model)
    totals = np.arange(0.0, top + step, step)
    totals = totals[totals <= top + 1e-9]
    lp = total_points_to_lp(model, totals)
    risk = np.asarray(lp_to_risk(model, lp, time), dtype=float).reshape(-1)
    table = pd.DataFrame({"total_points": totals, "linear_predictor": lp, "risk": risk})
    if is_cox(model):
        table["survival"] = 1.0 - risk
    return table


# --------------------------------------------------------------------------------------------
# scoring one patient
# --------------------------------------------------------------------------------------------

def band_for(model_or_bands: Any, risk: float) -> dict | None:
    """The risk band [lower, upper) holding ``risk`` (the last band includes its upper end)."""
    bands = model_or_bands
    if isinstance(model_or_bands, Mapping):
        bands = model_or_bands["model"].get("risk_bands") or DEFAULT_BANDS
    for index, band in enumerate(bands):
        last = index == len(bands) - 1
        if band["lower"] <= risk < band["upper"] or (last and risk == band["upper"]):
            return dict(band)
    return None


def linear_predictor_se(model: Mapping[str, Any], values: Mapping[str, Any]) -> float:
    """SE(lp) = sqrt(d' V d), d = design row (logistic) or design row - training means (Cox)."""
    row = design_row(model, values)
    if is_cox(model):
        row = row - mean_design_row(model)
    covariance = np.asarray(model["model"]["covariance"], dtype=float)
    return float(math.sqrt(max(float(row @ covariance @ row), 0.0)))


def linear_predictor(model: Mapping[str, Any], values: Mapping[str, Any]) -> float:
    """lp = b0 + sum_j f_j(x_j) (for Cox b0 = -centering, i.e. the centred lp)."""
    return base_intercept(model) + sum(term(p, values[p["name"]]) for p in predictors(model))


def score_patient(model: Mapping[str, Any], values: Mapping[str, Any], time: float | None = None,
                  level: float = 0.95) -> dict:
    """Individual prediction with points and a confidence interval.

    ``values`` maps predictor names to values (numbers in the model unit, or "3.5 g/dL"-style
    strings / (value, unit) pairs; categorical: a level). They are checked and converted by
    ``clinical.validate_clinical_values`` (InputError naming field, value and expected range).

    Returns risk, ci_low, ci_high (event risk, CI from lp +/- z SE on the link scale), band (name),
    band_color, points {predictor: points}, total_points, linear_predictor, se_linear_predictor,
    values (converted), warnings (extrapolation outside the training range), outcome (the words of
    ``outcome_terms`` with ``label`` = ``outcome_heading``), reading (``read_against_cutoff``:
    above / below / indeterminate, in words and colour; 'no_cutoff' without a threshold), and for
    Cox time and survival (= 1 - risk).
    """
    from .clinical import range_warnings, validate_clinical_values

    clean = validate_clinical_values(model, values)
    points = {p["name"]: predictor_points(model, p, clean[p["name"]]) for p in predictors(model)}
    total = float(sum(points.values()))
    lp = linear_predictor(model, clean)
    se = linear_predictor_se(model, clean)
    z = _normal_quantile(0.5 + level / 2.0)
    risk = lp_to_risk(model, lp, time)
    low, high = sorted([lp_to_risk(model, lp - z * se, time), lp_to_risk(model, lp + z * se, time)])
    band = band_for(model, risk)
    result = {
        "risk": risk,
        "ci_low": low,
        "ci_high": high,
        "ci_level": level,
        "band": band["name"] if band else None,
        "band_color": band.get("color") if band else None,
        "points": points,
        "total_points": total,
        "linear_predictor": lp,
        "se_linear_predictor": se,
        "values": clean,
        "warnings": range_warnings(model, clean),
        "outcome": {**outcome_terms(model).as_dict(), "label": outcome_heading(model, time)},
        "model_name": model.get("name"),
        "model_version": model.get("version"),
        "model_sha256": model.get("sha256"),
    }
    if is_cox(model):
        result["time"] = float(model["model"]["time"] if time is None else time)
        result["time_unit"] = model["model"].get("time_unit", "")
        result["survival"] = 1.0 - risk
    threshold = model.get("threshold", {}).get("value")
    if threshold is not None:
        result["threshold"] = float(threshold)
        result["above_threshold"] = bool(risk >= float(threshold))  # evaluation.choose_threshold: positive when >=
    result["reading"] = read_against_cutoff(risk, threshold, low, high, outcome_terms(model)).as_dict()
    return result


def outcome_heading(model: Mapping[str, Any], time: float | None = None) -> str:
    """What the prediction is, in words: 'Risk of no clinical benefit at 6 months', or for Cox
    'Probability of death by 12 months' (the time shown: ``time`` or the model's display time)."""
    label = outcome_terms(model).label
    if is_cox(model):
        shown = float(model["model"]["time"] if time is None else time)
        label = f"{label} by {shown:g} {model['model'].get('time_unit', '')}".strip()
    return label


def _normal_quantile(p: float) -> float:
    """Standard normal quantile (``statistics.NormalDist``, standard library)."""
    return NormalDist().inv_cdf(p)


# --------------------------------------------------------------------------------------------
# validation of the model content (registered with the model-file loader)
# --------------------------------------------------------------------------------------------

def _fail(model: Mapping[str, Any], message: str) -> None:
    raise ModelFileError(f"Nomogram '{model.get('name')}': {message}")


def _number(model: Mapping[str, Any], value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        _fail(model, f"{where} must be a finite number, got {value!r}.")
    return float(value)


def _validate_predictor(model: Mapping[str, Any], predictor: Any) -> None:
    if not isinstance(predictor, Mapping) or not isinstance(predictor.get("name"), str):
        _fail(model, f"each predictor must be an object with a 'name', got {predictor!r}.")
    name = predictor["name"]
    kind = predictor.get("type")
    if kind == "continuous":
        low = _number(model, predictor.get("min"), f"predictor '{name}' min")
        high = _number(model, predictor.get("max"), f"predictor '{name}' max")
        _number(model, predictor.get("coefficient"), f"predictor '{name}' coefficient")
        if not low < high:
            _fail(model, f"predictor '{name}' needs min < max, got {low:g} and {high:g}.")
        if predictor.get("transform") not in (None, "log"):
            _fail(model, f"predictor '{name}' transform must be null or 'log', got {predictor.get('transform')!r}.")
        if predictor.get("transform") == "log" and low <= 0:
            _fail(model, f"predictor '{name}' has a log transform, so its min must be > 0 (got {low:g}).")
    elif kind == "categorical":
        levels = predictor.get("levels")
        if not isinstance(levels, list) or len(levels) < 2 or not all(isinstance(v, str) for v in levels):
            _fail(model, f"categorical predictor '{name}' needs 'levels': a list of at least two strings.")
        if len(set(levels)) != len(levels):
            _fail(model, f"categorical predictor '{name}' has repeated levels {levels}.")
        coefficients = predictor.get("coefficients")
        if not isinstance(coefficients, list) or len(coefficients) != len(levels) - 1:
            _fail(model, f"categorical predictor '{name}' needs one coefficient per non-reference level "
                         f"({len(levels) - 1}), got {coefficients!r}.")
        for level, value in zip(levels[1:], coefficients):
            _number(model, value, f"predictor '{name}' coefficient of level '{level}'")
    else:
        _fail(model, f"predictor '{name}' type must be 'continuous' or 'categorical', got {kind!r}.")


def _validate_covariance(model: Mapping[str, Any], content: Mapping[str, Any]) -> None:
    expected = design_columns_for(content["predictors"], with_intercept=not is_cox(model))
    if content.get("design_columns") != expected:
        _fail(model, f"'design_columns' must be {expected}, got {content.get('design_columns')}.")
    matrix = content.get("covariance")
    size = len(expected)
    if not isinstance(matrix, list) or len(matrix) != size or any(not isinstance(r, list) or len(r) != size for r in matrix):
        _fail(model, f"'covariance' must be a {size}x{size} matrix ordered like design_columns.")
    array = np.array([[_number(model, v, "covariance entry") for v in r] for r in matrix])
    if not np.allclose(array, array.T, rtol=1e-6, atol=1e-12) or np.any(np.diag(array) < 0):
        _fail(model, "'covariance' must be symmetric with a non-negative diagonal.")


def _validate_bands(model: Mapping[str, Any], bands: Any) -> None:
    if bands is None:
        return
    if not isinstance(bands, list) or not bands:
        _fail(model, "'risk_bands' must be a non-empty list.")
    previous = 0.0
    for band in bands:
        if not isinstance(band, Mapping) or not isinstance(band.get("name"), str):
            _fail(model, f"each risk band needs a 'name', got {band!r}.")
        lower = _number(model, band.get("lower"), f"risk band '{band['name']}' lower")
        upper = _number(model, band.get("upper"), f"risk band '{band['name']}' upper")
        if not math.isclose(lower, previous, abs_tol=1e-9) or not lower < upper:
            _fail(model, f"risk bands must cover 0..1 in order without gaps; band '{band['name']}' is {lower:g}-{upper:g}.")
        previous = upper
    if not math.isclose(previous, 1.0, abs_tol=1e-9):
        _fail(model, f"risk bands must end at 1, the last ends at {previous:g}.")


def _validate_cox(model: Mapping[str, Any], content: Mapping[str, Any]) -> None:
    _number(model, content.get("centering"), "'centering'")
    table = content.get("baseline_survival")
    if not isinstance(table, Mapping) or not table:
        _fail(model, "'baseline_survival' must be an object {time: S0(time)}.")
    for key, value in table.items():
        try:
            float(key)
        except ValueError:
            _fail(model, f"baseline_survival time {key!r} is not a number.")
        survival = _number(model, value, f"baseline_survival[{key}]")
        if not 0.0 < survival < 1.0:
            _fail(model, f"baseline_survival[{key}] = {survival:g} must lie strictly between 0 and 1.")
    _number(model, content.get("time"), "'time'")
    baseline_survival_at(model)
    means = content.get("design_means")
    if not isinstance(means, list) or len(means) != len(content["design_columns"]):
        _fail(model, "'design_means' must hold the training mean of each design column.")
    centering = float(np.dot([_number(model, m, "design mean") for m in means], coefficient_vector(model)))
    if not math.isclose(centering, content["centering"], rel_tol=1e-6, abs_tol=1e-9):
        _fail(model, f"'centering' ({content['centering']:g}) must equal sum(coefficient * design mean) = {centering:g}.")


def validate_nomogram(model: dict) -> None:
    """Check a nomogram's ``model`` content (registered for both kinds); raises ModelFileError."""
    content = model.get("model", {})
    items = content.get("predictors")
    if not isinstance(items, list) or not items:
        _fail(model, "'model.predictors' must be a non-empty list.")
    for predictor in items:
        _validate_predictor(model, predictor)
    names = [p["name"] for p in items]
    if len(set(names)) != len(names):
        _fail(model, f"predictor names must be unique, got {names}.")
    if list(model.get("inputs", [])) != names:
        _fail(model, f"'inputs' must list the predictors in order: {names}, got {model.get('inputs')}.")
    if is_cox(model):
        _validate_covariance(model, content)
        _validate_cox(model, content)
    else:
        _number(model, content.get("intercept"), "'intercept'")
        _validate_covariance(model, content)
    _validate_bands(model, content.get("risk_bands"))
    points_per_unit(model)
    threshold = model.get("threshold", {}).get("value")
    if threshold is not None and not 0.0 <= _number(model, threshold, "threshold value") <= 1.0:
        _fail(model, f"threshold value {threshold} must be a risk between 0 and 1.")


def load_nomogram(source) -> dict:
    """Read and verify a nomogram model file (path or parsed dict); ModelFileError if it is not one."""
    from ResponseSignatureLib.models.modelfile import load_model

    model = load_model(source)
    if model["kind"] not in KINDS:
        raise ModelFileError(f"{source if not isinstance(source, Mapping) else 'model'}: '{model['name']}' is a "
                             f"{model['kind']} model, not a nomogram ({' or '.join(KINDS)}).")
    return model
