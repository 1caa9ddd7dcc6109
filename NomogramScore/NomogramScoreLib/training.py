"""Training and evaluation of nomograms from a patient table.

``train_nomogram`` fits a logistic model (statsmodels ``Logit``: maximum likelihood, covariance =
inverse observed information) or a Cox model (lifelines ``CoxPHFitter``: Breslow baseline,
Efron ties, covariance = ``variance_matrix_``) on the design matrix of ``nomogram.py`` and returns
a model document (kind ``nomogram_logistic`` / ``nomogram_cox``) ready for ``save_model``.
statsmodels and lifelines are imported inside the functions that need them; scoring a saved model
needs only numpy.

Evaluation metrics (conventions of reference/clinical_methods.md §4.5 and §5):

* ``harrell_c_index``: Harrell's C. A pair (i, j) is comparable when i has the event and
  T_i < T_j, or T_i = T_j and j is censored (lifelines' convention; pairs of events at the same
  time are not comparable). Concordant when the subject who fails first has the HIGHER risk;
  risk ties count 1/2. Equals ``lifelines.utils.concordance_index(T, -risk, E)`` (lifelines wants
  predicted survival: higher = longer).
* ``time_dependent_auc``: cumulative/dynamic AUC(t) (Heagerty & Zheng 2005): cases T_i <= t with
  an event, controls T_j > t, with inverse-probability-of-censoring weights 1/G(T_i-) for cases
  (Uno et al. 2007, Hung & Chiang 2010; the estimator of ``sksurv.metrics.cumulative_dynamic_auc``),
  G = Kaplan-Meier estimate of the censoring distribution. Risk ties count 1/2.
* ``decision_curve``: net benefit NB(pt) = TP/n - FP/n * pt / (1 - pt) (Vickers & Elkin 2006),
  treat all: pi - (1 - pi) pt / (1 - pt), treat none: 0.
* ``calibration``: intercept (calibration-in-the-large: logistic model of y with offset logit(p)),
  slope (logistic regression of y on logit(p)), Brier, Hosmer-Lemeshow and grouped curve
  (``ResponseSignatureLib.models.evaluation``).
* Cut-off: Youden's J on the training predictions (``evaluation.choose_threshold``; a patient is
  above the cut-off when the predicted probability >= cut-off). For Cox models, on the risk at the display time t among
  patients with known status at t (event by t vs. still event-free after t).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.models.evaluation import (auc_delong, brier_score, calibration_curve, choose_threshold,
                                                     hosmer_lemeshow, separates_perfectly)
from ResponseSignatureLib.models.modelfile import FORMAT, SCHEMA_VERSION, content_hash, validate_model
from ResponseSignatureLib.models.outcome import OutcomeTerms, declare_outcome, outcome_terms, zone_colours

from . import nomogram as nm
from .clinical import check_training_values, standard_unit

RESEARCH_USE = "Research use only. Not a medical device; not for clinical decision making."


# --------------------------------------------------------------------------------------------
# predictors and design matrix
# --------------------------------------------------------------------------------------------

def declare_predictors(table: pd.DataFrame, predictors: Sequence[Any]) -> list[dict]:
    """Predictor declarations from names or dicts (name, label, unit, type, levels, transform,
    min, max, plausible_min, plausible_max, quantity). Missing min/max (the nomogram axis) = the
    observed range widened to round numbers (``nomogram.rounded_range``);
    missing levels = sorted distinct values (first = reference); type inferred from the dtype."""
    declared = []
    for item in predictors:
        spec = {"name": item} if isinstance(item, str) else dict(item)
        name = spec["name"]
        if name not in table.columns:
            raise InputError(_missing_column_message(name, table.columns))
        column = table[name]
        spec.setdefault("label", name)
        spec.setdefault("type", "continuous" if pd.api.types.is_numeric_dtype(column) else "categorical")
        if spec["type"] == "categorical":
            spec.setdefault("levels", sorted(str(v) for v in column.dropna().unique()))
            spec["levels"] = [str(v) for v in spec["levels"]]
        else:
            values = pd.to_numeric(column, errors="coerce")
            spec.setdefault("unit", standard_unit(name))
            spec.setdefault("transform", None)
            check_training_values(spec, float(values.min()), float(values.max()))
            low, high = nm.rounded_range(float(values.min()), float(values.max()), spec["transform"] == "log")
            spec.setdefault("min", low)
            spec.setdefault("max", high)
        declared.append(spec)
    return declared


def _missing_column_message(name: str, columns) -> str:
    """'signature_score is not in the table' with the closest column names (never the whole list)."""
    import difflib

    columns = [str(c) for c in columns]
    close = difflib.get_close_matches(name, columns, n=3, cutoff=0.6)
    text = f"Predictor column '{name}' is not in the table ({len(columns)} columns"
    text += f"; closest: {', '.join(close)})." if close else ")."
    if name == "signature_score":
        text += (" The signature score comes from 'radiomics-response apply --model M.json --table T.csv "
                 "--out scored.csv --table-out T_scored.csv'.")
    return text


def design_matrix(declared: Sequence[Mapping[str, Any]], table: pd.DataFrame, with_intercept: bool) -> pd.DataFrame:
    """Design matrix with the columns of ``nomogram.design_columns_for`` (g(x) and 0/1 dummies)."""
    columns: dict[str, np.ndarray] = {}
    if with_intercept:
        columns["(intercept)"] = np.ones(len(table))
    for predictor in declared:
        name = predictor["name"]
        if predictor["type"] == "categorical":
            values = table[name].astype(str).to_numpy()
            unknown = sorted(set(values) - set(predictor["levels"]))
            if unknown:
                raise InputError(f"Column '{name}' holds {unknown}, not among the levels {predictor['levels']}.")
            for level in predictor["levels"][1:]:
                columns[f"{name}={level}"] = (values == level).astype(float)
        else:
            values = pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=float)
            columns[name] = np.log(values) if predictor.get("transform") == "log" else values
    return pd.DataFrame(columns, index=table.index)


def _complete_rows(table: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    columns = list(columns)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(f"The table has no column(s) {', '.join(missing)}.")
    complete = table.dropna(subset=columns)
    if len(complete) < len(table):
        dropped = len(table) - len(complete)
        if len(complete) < 10:
            raise InputError(f"Only {len(complete)} complete rows after dropping {dropped} with missing values in {columns}.")
    return complete


# --------------------------------------------------------------------------------------------
# fitting
# --------------------------------------------------------------------------------------------

def fit_logistic(design: pd.DataFrame, y: np.ndarray, allow_separation: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-likelihood logistic regression (statsmodels Logit): (coefficients, covariance).

    Fitting problems become one InputError: perfect separation (the classes are split completely by
    the predictors, so the maximum-likelihood coefficients are infinite; refused unless
    ``allow_separation``), non-convergence and singular designs. statsmodels' own warnings are
    collected, not printed.
    """
    import statsmodels.api as sm

    x = design.to_numpy(dtype=float)
    y = np.asarray(y, dtype=float)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = sm.Logit(y, x).fit(disp=0, maxiter=200)
        except Exception as error:  # statsmodels raises PerfectSeparationError (old) / LinAlgError
            if "separation" in str(error).lower():
                _refuse_separation(design, y, allow_separation=False)
            raise InputError(f"The logistic model cannot be fitted ({error}); check for collinear predictors.") from None
    params = np.asarray(result.params, dtype=float)
    separated = any("separation" in str(w.message).lower() for w in caught) or separates_perfectly(y, x @ params)
    if separated:
        _refuse_separation(design, y, allow_separation)
    elif not result.mle_retvals.get("converged", True):
        raise InputError("The logistic model did not converge in 200 iterations; check for collinear or badly "
                         "scaled predictors (--log for skewed values such as CEA).")
    covariance = np.asarray(result.cov_params(), dtype=float)
    if not np.all(np.isfinite(covariance)):
        raise InputError("The logistic model's coefficient covariance is not finite (singular design): check for "
                         "collinear predictors or a category level without events.")
    return params, (covariance + covariance.T) / 2.0


def _refuse_separation(design: pd.DataFrame, y: np.ndarray, allow_separation: bool) -> None:
    """InputError for a perfectly separated outcome (naming the predictors that split it alone)."""
    if allow_separation:
        return
    alone = [c for c in design.columns if c != "(intercept)" and separates_perfectly(y, design[c].to_numpy(dtype=float))]
    which = (f"{', '.join(alone)} alone split{'s' if len(alone) == 1 else ''} it" if alone
             else "a combination of the predictors splits it")
    raise InputError(f"The outcome is perfectly separated ({which}): the maximum-likelihood coefficients are "
                     "infinite and the risks would be 0 or 1. Use more patients or fewer predictors, or "
                     "--allow-separation to save such a model anyway.")


def fit_cox(design: pd.DataFrame, time: np.ndarray, event: np.ndarray, allow_separation: bool = False):
    """Cox proportional hazards model (lifelines CoxPHFitter, Efron ties): the fitted object.

    Convergence problems (lifelines warns of them, e.g. when a predictor separates early from late
    events) become one InputError unless ``allow_separation``.
    """
    from lifelines import CoxPHFitter

    frame = design.copy()
    frame["__time"] = np.asarray(time, dtype=float)
    frame["__event"] = np.asarray(event, dtype=int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fitter = CoxPHFitter().fit(frame, duration_col="__time", event_col="__event")
        except Exception as error:  # lifelines ConvergenceError
            raise InputError(f"The Cox model cannot be fitted ({str(error).splitlines()[0]}); check for collinear "
                             "predictors or too few events.") from None
    problems = [str(w.message).strip().splitlines()[0] for w in caught
                if "convergence" in w.category.__name__.lower() or "converge" in str(w.message).lower()]
    if problems and not allow_separation:
        raise InputError(f"The Cox model did not converge properly ({problems[0]}); a predictor may separate the "
                         "events completely. Use more patients or fewer predictors, or --allow-separation.")
    return fitter


def baseline_survival_at_times(fitter, times: Sequence[float]) -> dict[str, float]:
    """S0(t) at the requested times: the Breslow step function, value at the last event time <= t.

    (lifelines' ``predict_survival_function(times=...)`` interpolates the cumulative hazard linearly
    between event times instead; the step function is the estimator itself.)
    """
    s0 = fitter.baseline_survival_.iloc[:, 0]
    table = {}
    for t in times:
        before = s0[s0.index <= t]
        value = float(before.iloc[-1]) if len(before) else 1.0
        if not 0.0 < value < 1.0 or t > float(s0.index.max()):
            raise InputError(f"Baseline survival at time {t:g} is {value:g}: choose times inside the follow-up "
                             f"(events from {s0.index.min():g} to {s0.index.max():g}).")
        table[f"{float(t):g}"] = value
    return table


def train_nomogram(table: pd.DataFrame, outcome: str | None, predictors: Sequence[Any], kind: str = "logistic",
                   time_col: str | None = None, event_col: str | None = None, times: Sequence[float] | None = None,
                   time: float | None = None, time_unit: str = "", name: str = "nomogram", version: str = "1.0.0",
                   outcome_label: str | None = None, risk_bands: list[dict] | None = None,
                   threshold_method: str = "youden", model_card: Mapping[str, Any] | None = None,
                   outcome_unfavourable: bool | None = None, allow_separation: bool = False) -> dict:
    """Fit a nomogram and return its model document (with sha256), ready for ``save_model``.

    logistic: ``outcome`` is a 0/1 column (1 = the event whose probability the nomogram shows).
    cox: ``time_col`` / ``event_col`` (1 = event), ``times`` where S0(t) is stored, ``time`` the
    one the gauge shows (default: the first of ``times``).
    ``outcome_label`` (what outcome 1 / the event means in words) and ``outcome_unfavourable``
    (None: not stated) make the document's ``outcome`` block (ResponseSignatureLib.models.outcome).
    """
    if kind not in ("logistic", "cox"):
        raise InputError(f"kind = {kind!r} is not supported; expected 'logistic' or 'cox'.")
    declared = declare_predictors(table, predictors)
    names = [p["name"] for p in declared]
    if kind == "logistic":
        content, performance, threshold = _train_logistic(table, outcome, declared, names, threshold_method,
                                                          allow_separation)
    else:
        content, performance, threshold = _train_cox(table, declared, names, time_col, event_col, times, time,
                                                     time_unit, threshold_method, allow_separation)
    outcome_block = declare_outcome(outcome or event_col, outcome_label or (event_col if kind == "cox" else None),
                                    outcome_unfavourable)
    terms = outcome_terms({"outcome": outcome_block})
    content["risk_bands"] = [dict(b) for b in (risk_bands or bands_at_threshold(threshold["value"], terms))]
    content["points_scale"] = 100
    card = {"intended_use": RESEARCH_USE, "research_use_only": True, "training_performance": performance,
            "ci_method": _ci_note(kind)}
    card.update(dict(model_card or {}))
    doc = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "name": name, "version": version,
           "kind": f"nomogram_{kind}", "level": "patient", "inputs": names, "model": content,
           "threshold": threshold, "model_card": card, "outcome": outcome_block}
    doc = _json_ready(doc)
    validate_model(doc, check_hash=False)
    doc["sha256"] = content_hash(doc)
    return doc


def bands_at_threshold(cut: float, terms: OutcomeTerms | None = None) -> list[dict]:
    """Two bands split at the decision cut-off: the model's own cut-off, not ad hoc tertiles
    (reference/clinical_methods.md section 4.4), named and tinted by the outcome's direction."""
    below, above = zone_colours(terms)
    names = [(terms.below_cutoff if terms else "") or "below the cut-off", (terms.above_cutoff if terms else "") or "above the cut-off"]
    names = [name[:1].upper() + name[1:] for name in names]
    return [{"name": names[0], "lower": 0.0, "upper": float(cut), "color": below},
            {"name": names[1], "lower": float(cut), "upper": 1.0, "color": above}]


def _ci_note(kind: str) -> str:
    note = "95 % CI of an individual prediction: delta method on the linear predictor, SE = sqrt(d' V d), transformed by the link."
    if kind == "cox":
        note += " The uncertainty of the baseline survival S0(t) is not included, so the interval is somewhat too narrow."
    return note


def _train_logistic(table, outcome, declared, names, threshold_method, allow_separation):
    if outcome is None:
        raise InputError("A logistic nomogram needs the outcome column (0/1).")
    data = _complete_rows(table, names + [outcome])
    y = pd.to_numeric(data[outcome], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isin(y, (0.0, 1.0))):
        raise InputError(f"Outcome column '{outcome}' must be coded 0/1 (1 = event).")
    design = design_matrix(declared, data, with_intercept=True)
    beta, covariance = fit_logistic(design, y, allow_separation)
    _set_coefficients(declared, dict(zip(design.columns, beta)))
    content = {"predictors": declared, "intercept": float(beta[0]), "design_columns": list(design.columns),
               "covariance": covariance.tolist()}
    p = nm.expit(design.to_numpy() @ beta)
    cut = choose_threshold(y, p, threshold_method)
    performance = {"n": int(len(y)), "n_events": int(y.sum()), **auc_delong(y, p), **calibration(y, p, bins=10)}
    performance.pop("table", None)
    if separates_perfectly(y, p):
        performance["warning"] = ("fitted on perfectly separated data (--allow-separation): the coefficients are "
                                  "not finite estimates and the probabilities are close to 0 or 1")
    threshold = {"value": cut, "method": threshold_method, "scale": "probability",
                 "rule": "above the cut-off when the predicted probability >= value", "chosen_on": "training predictions"}
    return content, performance, threshold


def _train_cox(table, declared, names, time_col, event_col, times, time, time_unit, threshold_method,
               allow_separation):
    if not time_col or not event_col or not times:
        raise InputError("A Cox nomogram needs time_col, event_col and times (where the survival is reported).")
    data = _complete_rows(table, names + [time_col, event_col])
    durations = pd.to_numeric(data[time_col], errors="coerce").to_numpy(dtype=float)
    events = pd.to_numeric(data[event_col], errors="coerce").to_numpy(dtype=float)
    design = design_matrix(declared, data, with_intercept=False)
    fitter = fit_cox(design, durations, events, allow_separation)
    beta = fitter.params_.reindex(design.columns).to_numpy(dtype=float)
    _set_coefficients(declared, dict(zip(design.columns, beta)))
    means = design.mean(axis=0).to_numpy(dtype=float)
    display_time = float(times[0] if time is None else time)
    content = {"predictors": declared, "design_columns": list(design.columns),
               "covariance": fitter.variance_matrix_.reindex(index=design.columns, columns=design.columns).to_numpy().tolist(),
               "design_means": means.tolist(), "centering": float(means @ beta),
               "baseline_survival": baseline_survival_at_times(fitter, sorted(set(list(times) + [display_time]))),
               "time": display_time, "time_unit": time_unit}
    lp = (design.to_numpy() - means) @ beta
    s0 = content["baseline_survival"][f"{display_time:g}"]
    risk = 1.0 - np.power(s0, np.exp(lp))
    performance = {"n": int(len(durations)), "n_events": int(events.sum()),
                   "c_index": harrell_c_index(durations, events, lp),
                   "time_dependent_auc": {f"{float(t):g}": time_dependent_auc(durations, events, lp, t) for t in times}}
    known = (durations > display_time) | ((durations <= display_time) & (events == 1))
    status = ((durations <= display_time) & (events == 1)).astype(int)
    if len(set(status[known])) < 2:
        raise InputError(f"At the display time {display_time:g} every patient with known status is in the same class "
                         "(all with or all without the event): no cut-off can be chosen; pick another --time.")
    cut = choose_threshold(status[known], risk[known], threshold_method)
    threshold = {"value": cut, "method": threshold_method, "scale": "probability",
                 "rule": f"above the cut-off when the predicted probability of the event by {display_time:g} {time_unit} >= value".replace("  ", " "),
                 "chosen_on": "training predictions of patients with known status at the display time"}
    return content, performance, threshold


def _set_coefficients(declared: list[dict], coefficients: Mapping[str, float]) -> None:
    for predictor in declared:
        if predictor["type"] == "categorical":
            predictor["coefficients"] = [float(coefficients[f"{predictor['name']}={lvl}"]) for lvl in predictor["levels"][1:]]
        else:
            predictor["coefficient"] = float(coefficients[predictor["name"]])


def _json_ready(value: Any) -> Any:
    """Plain Python types (numpy scalars -> float/int) so the document serialises as JSON."""
    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------------------------
# prediction for a whole table
# --------------------------------------------------------------------------------------------

def predict_table(model: Mapping[str, Any], table: pd.DataFrame, id_col: str | None = "patient_id") -> pd.DataFrame:
    """score_patient on every row: columns risk, ci_low, ci_high, band, reading (above / below /
    indeterminate: the CI against the cut-off), total_points, linear_predictor.

    A row whose values are refused raises InputError naming the row (patient id when present).
    """
    rows = []
    for index, row in table.iterrows():
        who = row[id_col] if id_col and id_col in table.columns else index
        try:
            result = nm.score_patient(model, row.to_dict())
        except InputError as error:
            raise InputError(f"patient {who}: {error}") from None
        rows.append({"risk": result["risk"], "ci_low": result["ci_low"], "ci_high": result["ci_high"],
                     "band": result["band"], "reading": result["reading"]["kind"], "total_points": result["total_points"],
                     "linear_predictor": result["linear_predictor"]})
    return pd.DataFrame(rows, index=table.index)


# --------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------

def _survival_arrays(time, event, risk) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    t = np.asarray(time, dtype=float).ravel()
    e = np.asarray(event, dtype=float).ravel()
    r = np.asarray(risk, dtype=float).ravel()
    if not (t.size == e.size == r.size) or t.size == 0:
        raise InputError(f"time, event and risk must have the same non-zero length (got {t.size}, {e.size}, {r.size}).")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(r)) and np.all(np.isin(e, (0.0, 1.0)))):
        raise InputError("time and risk must be finite numbers and event must be 0/1.")
    return t, e.astype(bool), r


def harrell_c_index(time, event, risk) -> float:
    """Harrell's C: concordant fraction of comparable pairs (higher risk = shorter survival).

    Comparable: event_i and (T_i < T_j or (T_i == T_j and not event_j)).
    C = (concordant + 0.5 * risk ties) / comparable pairs. O(n * events) with numpy.
    """
    t, e, r = _survival_arrays(time, event, risk)
    concordant = ties = pairs = 0.0
    for i in np.flatnonzero(e):
        comparable = (t > t[i]) | ((t == t[i]) & ~e)
        pairs += comparable.sum()
        concordant += (r[comparable] < r[i]).sum()
        ties += (r[comparable] == r[i]).sum()
    if pairs == 0:
        raise InputError("No comparable pairs: the C-index needs at least one event before another patient's time.")
    return float((concordant + 0.5 * ties) / pairs)


def censoring_survival_before(time, event, at) -> np.ndarray:
    """G(s-) = P(C >= s): Kaplan-Meier of the censoring times (censored = 'event'), left limit."""
    t = np.asarray(time, dtype=float)
    censored = ~np.asarray(event, dtype=bool)
    at = np.atleast_1d(np.asarray(at, dtype=float))
    steps = np.unique(t[censored])
    factors = np.array([1.0 - np.sum(censored & (t == s)) / np.sum(t >= s) for s in steps])
    cumulative = np.cumprod(factors) if factors.size else np.array([])
    result = np.ones_like(at)
    for k, s in enumerate(at):
        before = np.searchsorted(steps, s, side="left")
        result[k] = cumulative[before - 1] if before > 0 else 1.0
    return result


def time_dependent_auc(time, event, risk, t: float) -> float:
    """Cumulative/dynamic AUC(t) with IPCW (Uno 2007): cases T_i <= t & event, controls T_j > t.

    AUC(t) = sum_i sum_j w_i [I(r_i > r_j) + 0.5 I(r_i = r_j)] / (sum_i w_i * n_controls),
    w_i = 1 / G(T_i-). (The controls' weight 1/G(t) is common to all and cancels.)
    """
    times, events, r = _survival_arrays(time, event, risk)
    cases = np.flatnonzero((times <= t) & events)
    controls = times > t
    if cases.size == 0 or not controls.any():
        raise InputError(f"time-dependent AUC at t = {t:g} needs events by t and patients still at risk after t.")
    weights = 1.0 / censoring_survival_before(times, events, times[cases])
    wins = np.array([(r[controls] < r[i]).sum() + 0.5 * (r[controls] == r[i]).sum() for i in cases])
    return float(np.sum(weights * wins) / (weights.sum() * controls.sum()))


def decision_curve(y, p, thresholds: Sequence[float] | None = None) -> pd.DataFrame:
    """Net benefit of the model, of treating all and of treating none (Vickers & Elkin 2006).

    NB_model(pt) = TP/n - FP/n * pt/(1 - pt), classifying p >= pt as positive;
    NB_all(pt) = pi - (1 - pi) * pt/(1 - pt); NB_none = 0; standardised NB = NB / pi.
    """
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.size != p.size or y.size == 0 or not np.all(np.isin(y, (0.0, 1.0))):
        raise InputError("decision_curve needs a 0/1 outcome and one predicted probability per patient.")
    thresholds = np.arange(0.01, 1.0, 0.01) if thresholds is None else np.asarray(thresholds, dtype=float)
    n, prevalence = y.size, y.mean()
    rows = []
    for pt in thresholds:
        if not 0.0 < pt < 1.0:
            raise InputError(f"threshold probability {pt:g} must lie strictly between 0 and 1.")
        odds = pt / (1.0 - pt)
        positive = p >= pt
        tp, fp = np.sum(positive & (y == 1)), np.sum(positive & (y == 0))
        nb_model = tp / n - fp / n * odds
        rows.append({"threshold": float(pt), "net_benefit_model": float(nb_model),
                     "net_benefit_all": float(prevalence - (1 - prevalence) * odds), "net_benefit_none": 0.0,
                     "standardized_net_benefit": float(nb_model / prevalence) if prevalence > 0 else math.nan})
    return pd.DataFrame(rows)


def calibration(y, p, bins: int = 10) -> dict:
    """Calibration of predicted probabilities: intercept, slope, Brier, Hosmer-Lemeshow, table.

    intercept: a in logit P(y=1) = a + logit(p) (offset); slope: b in logit P(y=1) = a' + b logit(p).
    Ideal: intercept 0, slope 1. ``table``: grouped mean predicted vs observed (DataFrame).
    """
    import statsmodels.api as sm

    y = np.asarray(y, dtype=float).ravel()
    p = np.clip(np.asarray(p, dtype=float).ravel(), 1e-12, 1 - 1e-12)
    logit = np.log(p / (1 - p))
    ones = np.ones((y.size, 1))
    intercept = sm.GLM(y, ones, family=sm.families.Binomial(), offset=logit).fit().params[0]
    slope = sm.GLM(y, np.column_stack([ones, logit]), family=sm.families.Binomial()).fit().params[1]
    hl = hosmer_lemeshow(y, p, bins)
    return {"calibration_intercept": float(intercept), "calibration_slope": float(slope), "brier": brier_score(y, p),
            "hosmer_lemeshow_statistic": hl["statistic"], "hosmer_lemeshow_df": hl["df"],
            "hosmer_lemeshow_p": hl["p_value"], "table": calibration_curve(y, p, bins)}


def kaplan_meier_at(time, event, t: float) -> float:
    """Kaplan-Meier survival S(t) = prod over event times s <= t of (1 - d_s / n_s)."""
    times, events, _ = _survival_arrays(time, event, np.zeros(len(np.atleast_1d(time))))
    survival = 1.0
    for s in np.unique(times[events & (times <= t)]):
        survival *= 1.0 - np.sum(events & (times == s)) / np.sum(times >= s)
    return float(survival)


def survival_calibration(time, event, risk, t: float, groups: int = 5) -> pd.DataFrame:
    """Per risk group (equal counts by predicted risk at t): mean predicted risk vs KM 1 - S(t)."""
    times, events, r = _survival_arrays(time, event, risk)
    rows = []
    for number, index in enumerate(np.array_split(np.argsort(r, kind="mergesort"), groups), start=1):
        if index.size:
            rows.append({"group": number, "n": int(index.size), "mean_predicted_risk": float(r[index].mean()),
                         "observed_risk_km": 1.0 - kaplan_meier_at(times[index], events[index], t)})
    return pd.DataFrame(rows)


def evaluate_nomogram(model: Mapping[str, Any], table: pd.DataFrame, outcome: str | None = None,
                      time_col: str | None = None, event_col: str | None = None,
                      thresholds: Sequence[float] | None = None) -> dict:
    """Metrics of a saved nomogram on a table (external validation): JSON-ready dict.

    logistic: n, n_events, AUC with DeLong CI, calibration, decision curve, classification at the
    model's cut-off. Cox: n, n_events, Harrell C, time-dependent AUC at every stored time,
    calibration by risk group at the display time.
    """
    predicted = predict_table(model, table)
    risk = predicted["risk"].to_numpy()
    if nm.is_cox(model):
        if not time_col or not event_col:
            raise InputError("Evaluating a Cox nomogram needs time_col and event_col.")
        t = table[time_col].to_numpy(dtype=float)
        e = table[event_col].to_numpy(dtype=float)
        times = sorted(float(k) for k in model["model"]["baseline_survival"])
        return {"n": int(t.size), "n_events": int(e.sum()), "c_index": harrell_c_index(t, e, risk),
                "time_dependent_auc": {f"{s:g}": _safe(time_dependent_auc, t, e, risk, s) for s in times},
                "calibration": survival_calibration(t, e, risk, float(model["model"]["time"])).to_dict(orient="records")}
    if not outcome:
        raise InputError("Evaluating a logistic nomogram needs the outcome column.")
    y = table[outcome].to_numpy(dtype=float)
    result = {"n": int(y.size), "n_events": int(y.sum()), **auc_delong(y, risk)}
    cal = calibration(y, risk)
    result.update({k: v for k, v in cal.items() if k != "table"})
    result["calibration"] = cal["table"].to_dict(orient="records")
    result["decision_curve"] = decision_curve(y, risk, thresholds).to_dict(orient="records")
    cut = model.get("threshold", {}).get("value")
    if cut is not None:
        high = risk >= cut
        result["cutoff"] = {"value": cut, "sensitivity": float(np.mean(high[y == 1])) if (y == 1).any() else None,
                            "specificity": float(np.mean(~high[y == 0])) if (y == 0).any() else None}
    return _json_ready(result)


def _safe(function, *args):
    try:
        return function(*args)
    except InputError:
        return None
