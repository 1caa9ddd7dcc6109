"""Lesion table -> patient table: one value per patient for each aggregated lesion column.

The formulas live in the docstrings of the per-method functions below (``volume_weighted_mean``,
``mean``, ``median``, ``minimum``, ``maximum``, ``largest_lesion_value``, ``total``, ``count``,
``size_weighted_vote``). Shared rules, applied by every method:

- **Missing values.** A lesion whose value in the aggregated column is missing (empty/NaN) is left
  out of that column's aggregate: out of the numerator *and* of the weight total. A weighted
  method also leaves out a lesion whose weight (volume) is missing. If no lesion of the patient has
  a value the aggregate is empty (NaN; ``count`` gives 0) and ``aggregation_notes`` says so.
- **Weights.** Weighted methods (``volume_weighted``, ``largest``, ``vote``) use the lesion volume at
  ``weight_timepoint``: the lesion-table column ``<weight_timepoint>:volume_ml`` (default
  ``baseline:volume_ml``). With baseline weights a patient whose lesions all disappeared at
  follow-up (follow-up volume 0) is aggregated normally; a *new* lesion has no baseline volume
  (0 ml) and so does not enter a baseline-weighted aggregate (weight by ``followup`` to include it).
- **Zero total weight.** If the lesions with a value all have volume 0 at ``weight_timepoint``
  (e.g. weighting by follow-up volume when every lesion disappeared), ``volume_weighted`` and
  ``vote`` fall back to the *unweighted* mean of those values and ``largest`` is left empty;
  either way ``aggregation_notes`` records it. Nothing becomes NaN without a note.
- **Probabilities vs logits.** ``vote`` and the other methods average the column as given: averaging
  lesion probabilities is not the same as averaging logits and taking expit. Aggregate the column
  that matches the model you publish (the Ligero et al. patient score is the mean of lesion
  probabilities).
- **Location.** With ``location`` (e.g. ``liver``) only lesions at that location (case-insensitive)
  are aggregated; patients without such a lesion keep a row with ``n_lesions`` 0. RECIST is always
  computed on all of the patient's lesions (RECIST 1.1 is a whole-patient assessment).

Patient-table columns produced here (stable API, see DESIGN.md):

- ``patient_id``: the patient.
- ``n_lesions``: number of lesions of the patient that were aggregated (after the location filter).
- ``<method>:<lesion column>``: the aggregate of a lesion-table column, ``<method>`` one of
  ``volume_weighted, mean, median, min, max, largest, sum, count, vote`` (e.g.
  ``volume_weighted:delta:original_firstorder_Entropy``).
- ``vote_class:<lesion column>``: for ``vote`` only, 1 if ``vote:<column>`` >= 0.5 else 0
  (empty where the vote is empty).
- RECIST 1.1 carried over from ``ResponseSignatureLib.lesion_table.recist_from_lesion_table``
  (documented there): ``recist_targets, baseline_sum_mm, followup_sum_mm, nadir_mm,
  percent_change_from_baseline, percent_change_from_nadir, recist_category, recist_reason,
  volumetric_change_percent, volumetric_category, choi_category``.
- ``aggregation_notes``: ``"; "``-separated notes ``<method>:<column>: <what happened>`` for every
  empty or fallback value of the row; empty when every value followed the plain formula.

``patient_table(...).attrs["provenance"]`` holds what produced the table and ``attrs["columns"]``
what each column means (``column_info``: title, description, unit; the unit of a ``count`` is
lesions, of a ``vote`` a probability, of a ``vote_class`` a class); ``write_table`` stores both
beside the CSV as ``<out>.provenance.json``, and Slicer's table nodes show them.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ResponseSignatureLib import tableio
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.lesion_table import MEASURES, ColumnInfo
from ResponseSignatureLib.lesion_table import column_info as lesion_column_info
from ResponseSignatureLib.provenance import make_provenance

RECIST_MARKER_COLUMN = "baseline:longest_diameter_mm"
VOTE_THRESHOLD = 0.5


# --------------------------------------------------------------------------------------------
# Per-method formulas. Each takes the values of one patient's lesions (and their weights, the
# lesion volumes at the weighting time point) and returns (value, note); note is "" when the
# plain formula applied.
# --------------------------------------------------------------------------------------------

def _as_float(values: Any) -> np.ndarray:
    return np.asarray(values, dtype=float)


def _weighted_inputs(values: Any, weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(values with a value, their weights with a known weight, values with a value and a weight)."""
    x, w = _as_float(values), _as_float(weights)
    has_value = ~np.isnan(x)
    usable = has_value & ~np.isnan(w)
    return x[has_value], w[usable], x[usable]


def volume_weighted_mean(values: Any, weights: Any) -> tuple[float, str]:
    """Volume-weighted mean  sum_j V_j x_j / sum_j V_j.

    x_j is the lesion value, V_j its volume at the weighting time point; the sums run over the
    lesions with both a value and a volume. If that weight total is 0 the unweighted mean of the
    lesions with a value, sum_j x_j / n, is returned instead, with a note.
    """
    present, w, x = _weighted_inputs(values, weights)
    if present.size == 0:
        return math.nan, "no lesion has a value"
    if w.sum() <= 0:
        return float(present.mean()), "total lesion volume is 0: unweighted mean used"
    return float(np.sum(w * x) / np.sum(w)), ""


def _unweighted(values: Any, statistic: Callable[[np.ndarray], float]) -> tuple[float, str]:
    """``statistic`` of the lesions with a value; empty, with a note, if none has one."""
    x = _as_float(values)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, "no lesion has a value"
    return float(statistic(x)), ""


def mean(values: Any, weights: Any = None) -> tuple[float, str]:
    """Mean  sum_j x_j / n  over the n lesions with a value (Ligero et al. patient score)."""
    return _unweighted(values, np.mean)


def median(values: Any, weights: Any = None) -> tuple[float, str]:
    """Median of the lesions with a value (mean of the two middle values when n is even)."""
    return _unweighted(values, np.median)


def minimum(values: Any, weights: Any = None) -> tuple[float, str]:
    """Minimum  min_j x_j  over the lesions with a value."""
    return _unweighted(values, np.min)


def maximum(values: Any, weights: Any = None) -> tuple[float, str]:
    """Maximum  max_j x_j  over the lesions with a value (the 'worst lesion' for a risk score)."""
    return _unweighted(values, np.max)


def largest_lesion_value(values: Any, weights: Any) -> tuple[float, str]:
    """Value of the largest lesion  x_k  with  k = argmax_j V_j.

    Among the lesions with both a value and a volume; on a tie the first such lesion in table
    order (the lesion table is sorted by lesion_id) wins. Empty, with a note, if none of them has
    a volume > 0.
    """
    present, w, x = _weighted_inputs(values, weights)
    if present.size == 0:
        return math.nan, "no lesion has a value"
    if w.size == 0 or w.max() <= 0:
        return math.nan, "no lesion with a value has a volume > 0"
    return float(x[int(np.argmax(w))]), ""


def total(values: Any, weights: Any = None) -> tuple[float, str]:
    """Sum  sum_j x_j  over the lesions with a value (empty, with a note, if none has one)."""
    return _unweighted(values, np.sum)


def count(values: Any, weights: Any = None) -> tuple[float, str]:
    """Count  n  of the lesions with a value (0 if none; never empty)."""
    x = _as_float(values)
    return float(np.count_nonzero(~np.isnan(x))), ""


def size_weighted_vote(values: Any, weights: Any) -> tuple[float, str]:
    """Size-weighted vote of class probabilities  sum_j V_j p_j / sum_j V_j  (Zhou et al. 2023).

    p_j in [0, 1] is the lesion's probability of the positive class, V_j its volume; the patient
    class is 1 if the vote is >= 0.5 (``vote_class``). Missing values and a zero weight total are
    handled exactly as in ``volume_weighted_mean`` (unweighted mean of p_j, with a note).
    """
    x = _as_float(values)
    known = x[~np.isnan(x)]
    if np.any((known < 0) | (known > 1)):
        raise InputError("a size-weighted vote needs class probabilities between 0 and 1")
    return volume_weighted_mean(values, weights)


METHODS: dict[str, Callable[..., tuple[float, str]]] = {
    "volume_weighted": volume_weighted_mean,
    "mean": mean,
    "median": median,
    "min": minimum,
    "max": maximum,
    "largest": largest_lesion_value,
    "sum": total,
    "count": count,
    "vote": size_weighted_vote,
}
WEIGHTED_METHODS = ("volume_weighted", "largest", "vote")


# --------------------------------------------------------------------------------------------
# The same formulas on many columns at once. A lesion table has thousands of columns (2 308 in a
# dercle2020 table) and calling a formula once per column and patient made the patient table the
# slowest serial step of a cohort run. The functions below take the columns of one patient that
# have a value in the *same* lesions: ``x`` holds one row per column (C order), the values of
# those lesions; ``w`` the lesions' weights (with missing ones, as the formulas see them). They
# return (one value per row, the note shared by every row).
#
# Why the values are bit-for-bit those of the per-column formulas: a row of ``x`` is exactly the
# array the formula builds for its column (``values[~isnan(values)]``, same lesions, same order),
# and the weights, lesion selections, argmax and the branches (no value, zero weight total) depend
# only on which lesions have a value, so they are the formula's own, computed by the same calls.
# What remains are numpy reductions, and a reduction of a C-ordered 2-D array along its last axis
# runs the same inner loop on each row as on that row alone (the sum's pairwise summation over the
# same n values, minimum/maximum, the partition of ``median``, ``mean`` = that sum / n), which
# ``test_fast_table_equals_the_formulas_bit_for_bit`` checks, -0.0 and 8+ lesions included. C
# order matters: along the last axis of an F-ordered array numpy adds the columns one after the
# other, not pairwise, and from 8 lesions on that can differ in the last bit.
# --------------------------------------------------------------------------------------------

def _no_value(x: np.ndarray) -> tuple[np.ndarray, str]:
    return np.full(len(x), math.nan), "no lesion has a value"


def _rows_volume_weighted_mean(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, str]:
    """``volume_weighted_mean`` of each row."""
    if x.shape[1] == 0:
        return _no_value(x)
    known = ~np.isnan(w)
    w = w[known]
    if w.sum() <= 0:
        return np.mean(x, axis=1), "total lesion volume is 0: unweighted mean used"
    x = np.ascontiguousarray(x[:, known])      # x[:, mask] comes out in F order: sums would not be pairwise
    return np.sum(w * x, axis=1) / np.sum(w), ""


def _rows_unweighted(statistic: Callable[..., np.ndarray]) -> Callable[..., tuple[np.ndarray, str]]:
    """``_unweighted(values, statistic)`` of each row."""
    def rows(x: np.ndarray, w: Any = None) -> tuple[np.ndarray, str]:
        if x.shape[1] == 0:
            return _no_value(x)
        return statistic(x, axis=1), ""
    return rows


def _rows_largest_lesion_value(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, str]:
    """``largest_lesion_value`` of each row."""
    if x.shape[1] == 0:
        return _no_value(x)
    known = np.flatnonzero(~np.isnan(w))
    w = w[known]
    if w.size == 0 or w.max() <= 0:
        return np.full(len(x), math.nan), "no lesion with a value has a volume > 0"
    return x[:, known[int(np.argmax(w))]], ""


def _rows_count(x: np.ndarray, w: Any = None) -> tuple[np.ndarray, str]:
    """``count`` of each row: every row has a value in its x.shape[1] lesions."""
    return np.full(len(x), float(x.shape[1])), ""


def _rows_size_weighted_vote(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, str]:
    """``size_weighted_vote`` of each row (InputError if a row is not probabilities)."""
    if np.any((x < 0) | (x > 1)):
        raise InputError("a size-weighted vote needs class probabilities between 0 and 1")
    return _rows_volume_weighted_mean(x, w)


ROWS_METHODS: dict[str, Callable[..., tuple[np.ndarray, str]]] = {
    "volume_weighted": _rows_volume_weighted_mean,
    "mean": _rows_unweighted(np.mean),
    "median": _rows_unweighted(np.median),
    "min": _rows_unweighted(np.min),
    "max": _rows_unweighted(np.max),
    "largest": _rows_largest_lesion_value,
    "sum": _rows_unweighted(np.sum),
    "count": _rows_count,
    "vote": _rows_size_weighted_vote,
}


# --------------------------------------------------------------------------------------------
# What the patient-table columns mean (title, description, unit)
# --------------------------------------------------------------------------------------------

#: method -> (title tag, how the aggregate reads, unit: None keeps the lesion column's unit)
METHOD_INFO: dict[str, tuple[str, str, str | None]] = {
    "volume_weighted": ("volume-weighted", "Volume-weighted mean over the patient's lesions", None),
    "mean": ("mean", "Mean over the patient's lesions", None),
    "median": ("median", "Median over the patient's lesions", None),
    "min": ("min", "Minimum over the patient's lesions", None),
    "max": ("max", "Maximum over the patient's lesions", None),
    "largest": ("largest", "Value of the patient's largest lesion", None),
    "sum": ("sum", "Sum over the patient's lesions", None),
    "count": ("count", "Number of the patient's lesions with a value", "lesions"),
    "vote": ("vote", "Size-weighted vote over the patient's lesions (probability of class 1)", "probability"),
    "vote_class": ("vote class", f"Patient class from the size-weighted vote (1 if the vote >= {VOTE_THRESHOLD})",
                   "class"),
}
#: the columns patient_table adds beside the aggregates and RECIST
PATIENT_COLUMNS = {
    "n_lesions": ColumnInfo("Lesions", "Number of the patient's lesions aggregated (after the location filter)",
                            "lesions"),
    "aggregation_notes": ColumnInfo("Aggregation notes", "Aggregates that are empty or not the plain formula, and "
                                    "why ('<method>:<column>: <what happened>', '; '-separated)"),
}


def column_info(column: str) -> ColumnInfo | None:
    """Title, description and unit of a patient-table column: ``n_lesions``, ``aggregation_notes``,
    ``<method>:<lesion column>`` / ``vote_class:<lesion column>`` (the lesion column's meaning
    after the method's; its unit unless the method gives its own), else the lesion table's
    (RECIST, ``lesion_table.column_info``); None if undocumented."""
    if column in PATIENT_COLUMNS:
        return PATIENT_COLUMNS[column]
    method, _, lesion_column = column.partition(":")
    if method not in METHOD_INFO or not lesion_column:
        return lesion_column_info(column)
    tag, reads, unit = METHOD_INFO[method]
    inner = lesion_column_info(lesion_column) or ColumnInfo(lesion_column, lesion_column)
    keeps_meaning = unit is None  # a count, vote or class is not the lesion quantity itself
    return ColumnInfo(f"{inner.title} [{tag}]", f"{reads} of: {inner.description}",
                      inner.unit if keeps_meaning else unit, inner.ibsi if keeps_meaning else "")


class ColumnMetadata(Mapping):
    """``table.attrs['columns']`` of a patient table: column -> ``column_info(column).as_dict()`` for
    its documented columns, computed when read. Read-only, so a deep copy is the object itself:
    pandas deep-copies a table's attrs on every column access, and a dict of a thousand columns'
    metadata made that seconds per table."""

    def __init__(self, columns: Sequence[str]):
        self._columns = tuple(str(column) for column in columns)

    def __getitem__(self, column: str) -> dict:
        info = column_info(column) if column in self._columns else None
        if info is None:
            raise KeyError(column)
        return info.as_dict()

    def __iter__(self) -> Iterator[str]:
        return (column for column in self._columns if column_info(column) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __deepcopy__(self, memo) -> ColumnMetadata:
        return self


# --------------------------------------------------------------------------------------------
# The patient table
# --------------------------------------------------------------------------------------------

def default_columns(lesion_table: pd.DataFrame) -> list[str]:
    """Lesion columns aggregated by default: the numeric ``<timepoint|delta|reldelta>:<name>`` ones."""
    return [
        column
        for column, dtype in lesion_table.dtypes.items()  # dtypes, not columns: no Series per column
        if ":" in str(column) and pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
    ]


def patient_table(
    lesion_table: pd.DataFrame,
    method: str = "volume_weighted",
    columns: Sequence[str] | None = None,
    location: str | None = None,
    weight_timepoint: str = "baseline",
    methods: dict[str, str] | None = None,
    recist: bool | None = None,
) -> pd.DataFrame:
    """One row per patient: ``patient_id, n_lesions, <method>:<column>..., RECIST..., aggregation_notes``.

    ``method`` applies to every column in ``columns`` (default: ``default_columns``); ``methods``
    maps a column to its own method (its columns are added to ``columns``). ``location`` keeps
    only the lesions at that location. ``recist``: True carries the patient's RECIST 1.1 result
    over (needs the RECIST measure columns), False leaves it out, None (default) carries it over
    when the table has ``baseline:longest_diameter_mm``. Rules for missing values and weights:
    see the module docstring. Raises InputError naming a missing/non-numeric column or unknown method.
    """
    source_provenance = lesion_table.attrs.get("provenance")
    # without attrs: pandas deep-copies them on every copy, slice and column access (a cohort
    # table's provenance holds every case's)
    lesion_table = pd.DataFrame(lesion_table, copy=False)
    lesion_table.attrs = {}
    plan = _plan(lesion_table, method, columns, methods)
    weight_column = f"{weight_timepoint}:volume_ml"
    if any(m in WEIGHTED_METHODS for m in plan.values()):
        _require_columns(lesion_table, [weight_column], "weighting")
    if location is not None:
        _require_columns(lesion_table, ["location"], "location filter")
    with_recist = _want_recist(lesion_table, recist)
    values = _float_columns(lesion_table, list(plan))
    weights = _float_columns(lesion_table, [weight_column])[:, 0] if weight_column in lesion_table.columns else None
    kept = _at_location(lesion_table, location)
    by_method = _positions_by_method(plan)
    measures = _recist_measures(lesion_table) if with_recist else None
    rows = []
    for patient_id, positions in _patients(lesion_table):
        selected = positions[kept[positions]]
        row = {"patient_id": patient_id, "n_lesions": int(len(selected))}
        patient_weights = None if weights is None else weights[selected]
        row.update(_aggregate_patient(values[selected], patient_weights, plan, by_method))
        if with_recist:
            row.update(_recist_row(measures.iloc[positions]))
        rows.append(row)
    result = pd.DataFrame.from_records(rows, columns=_output_columns(rows, plan))
    result.attrs["columns"] = ColumnMetadata(result.columns)
    result.attrs["provenance"] = make_provenance(
        stage="aggregate",
        methods=dict(plan),
        location=location,
        weight_column=weight_column if any(m in WEIGHTED_METHODS for m in plan.values()) else None,
        zero_weight_rule="volume_weighted/vote: unweighted mean; largest: empty (noted in aggregation_notes)",
        recist_carried_over=with_recist,
        source=source_provenance,
    )
    return result


def _plan(lesion_table: pd.DataFrame, method: str, columns, methods) -> dict[str, str]:
    """column -> method, validated."""
    chosen = list(columns) if columns is not None else default_columns(lesion_table)
    plan = {column: method for column in chosen}
    for column, column_method in (methods or {}).items():
        plan[column] = column_method
    for column, column_method in plan.items():
        if column_method not in METHODS:
            raise InputError(f"unknown aggregation method '{column_method}' for column '{column}'; "
                             f"choose one of {', '.join(METHODS)}")
    _require_columns(lesion_table, list(plan), "aggregation")
    dtypes = dict(lesion_table.dtypes.items())       # a dict: a Series lookup per column is ~10 us
    for column in plan:
        if not pd.api.types.is_numeric_dtype(dtypes[column]):
            raise InputError(f"lesion-table column '{column}' is not numeric and cannot be aggregated")
    if not plan:
        raise InputError("the lesion table has no numeric '<timepoint>:<name>' column to aggregate")
    return plan


def _require_columns(table: pd.DataFrame, needed: Sequence[str], purpose: str) -> None:
    missing = [column for column in ["patient_id", *needed] if column not in table.columns]
    if missing:
        raise InputError(f"the lesion table has no column {', '.join(repr(c) for c in missing)} "
                         f"(needed for {purpose})")


def _want_recist(lesion_table: pd.DataFrame, recist: bool | None) -> bool:
    if recist is None:
        return RECIST_MARKER_COLUMN in lesion_table.columns and "target" in lesion_table.columns
    if recist:
        _require_columns(lesion_table, [RECIST_MARKER_COLUMN, "target", "status"], "RECIST 1.1")
    return bool(recist)


def _float_columns(lesion_table: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The columns as one float array (rows = lesions), each converted as ``Series.to_numpy(dtype=float)``;
    the float64 ones (nothing to convert) copied in one block, not one Series per column."""
    values = np.empty((len(lesion_table), len(columns)))
    dtypes = dict(lesion_table.dtypes.items())
    plain = [index for index, column in enumerate(columns) if dtypes[column] == np.dtype(float)]
    if plain:
        values[:, plain] = lesion_table[[columns[index] for index in plain]].to_numpy(dtype=float)
    for index in sorted(set(range(len(columns))) - set(plain)):
        values[:, index] = lesion_table[columns[index]].to_numpy(dtype=float)
    return values


def _patients(lesion_table: pd.DataFrame) -> Iterator[tuple[str, np.ndarray]]:
    """(patient_id, row positions of that patient's lesions sorted by lesion_id) for each patient,
    sorted by id."""
    _require_columns(lesion_table, [], "grouping")
    rows_of: dict[str, list[int]] = {}
    for position, patient_id in enumerate(lesion_table["patient_id"].astype(str)):
        rows_of.setdefault(patient_id, []).append(position)
    lesion_ids = lesion_table["lesion_id"].astype(str).to_numpy() if "lesion_id" in lesion_table.columns else None
    for patient_id in sorted(rows_of):
        positions = np.asarray(rows_of[patient_id], dtype=np.intp)
        if lesion_ids is not None:
            positions = positions[np.argsort(lesion_ids[positions], kind="stable")]
        yield patient_id, positions


def _at_location(lesion_table: pd.DataFrame, location: str | None) -> np.ndarray:
    """For each lesion (row), whether it is at ``location`` (case-insensitive); all True if None."""
    if location is None:
        return np.ones(len(lesion_table), dtype=bool)
    wanted = location.strip().lower()
    return (lesion_table["location"].astype(str).str.strip().str.lower() == wanted).to_numpy()


def _aggregate_patient(values: np.ndarray, weights: np.ndarray | None, plan: dict[str, str],
                       by_method: dict[str, np.ndarray]) -> dict[str, Any]:
    """The aggregated values of one patient, plus its ``aggregation_notes``: ``values`` holds the
    patient's lesions (rows) in the plan's columns, ``weights`` their volumes (None if not needed),
    ``by_method`` is ``_positions_by_method(plan)``.

    Each method runs once per set of columns with a value in the same lesions (``ROWS_METHODS``,
    bit-for-bit the per-column formulas); if a formula refuses a column, the formulas are run
    column by column in plan order so that the error names the same column as they would."""
    by_column = np.ascontiguousarray(values.T)                 # one row per column: C order
    aggregated = np.empty(len(plan))
    notes: dict[int, str] = {}                                 # plan position -> note
    try:
        for method, positions in by_method.items():
            for lesions, columns in _columns_by_lesions(~np.isnan(by_column[positions])):
                columns = positions[columns]
                x = np.ascontiguousarray(by_column[np.ix_(columns, lesions)])
                result, note = ROWS_METHODS[method](x, None if weights is None else weights[lesions])
                aggregated[columns] = result
                if note:
                    notes.update(dict.fromkeys(columns.tolist(), note))
    except InputError:
        _raise_first_refusal(values, weights, plan)
        raise
    return _patient_row(aggregated, notes, plan)


def _positions_by_method(plan: dict[str, str]) -> dict[str, np.ndarray]:
    """method -> positions (in plan order) of the columns it aggregates."""
    positions: dict[str, list[int]] = {}
    for position, method in enumerate(plan.values()):
        positions.setdefault(method, []).append(position)
    return {method: np.asarray(found, dtype=np.intp) for method, found in positions.items()}


def _columns_by_lesions(present: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(lesion positions, column positions) for each set of lesions in which columns have a value;
    ``present`` is one row per column, one column per lesion."""
    if present.all():                  # every column has a value in every lesion (or no lesion)
        return [(np.arange(present.shape[1]), np.arange(present.shape[0]))]
    packed = np.packbits(present, axis=1)                      # a column's lesions as a few bytes
    _, inverse = np.unique(packed.view(f"V{packed.shape[1]}").ravel(), return_inverse=True)
    inverse = inverse.reshape(-1)
    order = np.argsort(inverse, kind="stable")
    ends = np.cumsum(np.bincount(inverse))[:-1]
    return [(np.flatnonzero(present[columns[0]]), columns) for columns in np.split(order, ends)]


def _raise_first_refusal(values: np.ndarray, weights: np.ndarray | None, plan: dict[str, str]) -> None:
    """Raise the InputError of the first column (plan order) whose formula refuses its values."""
    for index, (column, method) in enumerate(plan.items()):
        try:
            METHODS[method](values[:, index], weights)
        except InputError as error:
            raise InputError(f"column '{column}': {error}") from None


def _patient_row(aggregated: np.ndarray, notes: dict[int, str], plan: dict[str, str]) -> dict[str, Any]:
    """``<method>:<column>`` -> value (an int for ``count``, with ``vote_class`` after a ``vote``),
    in plan order, and the notes in plan order."""
    row: dict[str, Any] = {}
    for (column, method), value in zip(plan.items(), aggregated.tolist()):
        if method == "count":
            value = int(value)
        row[f"{method}:{column}"] = value
        if method == "vote":
            row[f"vote_class:{column}"] = math.nan if math.isnan(value) else int(value >= VOTE_THRESHOLD)
    columns = list(plan.items())
    row["aggregation_notes"] = "; ".join(f"{columns[position][1]}:{columns[position][0]}: {note}"
                                         for position, note in sorted(notes.items()))
    return row


def _recist_measures(lesion_table: pd.DataFrame) -> pd.DataFrame:
    """The lesion table without its radiomic features: the columns that describe a lesion (no
    ``:``) and its ``<timepoint>:<measure>`` ones, all that RECIST reads. Taking a patient's rows
    of 2 000 feature columns (and copying them in ``reset_index``) cost more than RECIST itself."""
    kept = [column for column in lesion_table.columns
            if ":" not in str(column) or str(column).split(":", 1)[1] in MEASURES]
    return lesion_table[kept]


def _recist_row(lesions: pd.DataFrame) -> dict[str, Any]:
    """The patient's RECIST 1.1 / volumetric / Choi result, from all of its lesions."""
    from ResponseSignatureLib.lesion_table import recist_from_lesion_table

    return dict(recist_from_lesion_table(lesions.reset_index(drop=True)))


def _output_columns(rows: list[dict], plan: dict[str, str]) -> list[str]:
    columns = dict.fromkeys(["patient_id", "n_lesions"])       # a dict: ordered, and quick to look up
    for column, method in plan.items():
        columns[f"{method}:{column}"] = None
        if method == "vote":
            columns[f"vote_class:{column}"] = None
    for row in rows:
        columns.update((key, None) for key in row if key != "aggregation_notes")
    return list(columns) + ["aggregation_notes"]


def with_clinical(patients: pd.DataFrame, clinical: pd.DataFrame) -> pd.DataFrame:
    """The patient table with the columns of a clinical table (one row per ``patient_id``) added.

    Clinical values (outcomes, laboratory values, times) are copied as they are; a patient without
    a clinical row gets empty values. InputError for a clinical table without ``patient_id``, with a
    patient twice, or with a column the patient table already has.
    """
    if "patient_id" not in clinical.columns:
        raise InputError("the clinical table has no 'patient_id' column")
    ids = clinical["patient_id"].astype(str)
    if ids.duplicated().any():
        raise InputError(f"the clinical table lists patient '{ids[ids.duplicated()].iloc[0]}' twice")
    clash = [c for c in clinical.columns if c != "patient_id" and c in patients.columns]
    if clash:
        raise InputError(f"the clinical table's column(s) {', '.join(clash)} are already in the patient table")
    values = clinical.assign(patient_id=ids).set_index("patient_id")
    added = values.reindex(patients["patient_id"].astype(str).to_numpy()).reset_index(drop=True)
    joined = pd.concat([patients.reset_index(drop=True), added], axis=1)
    joined.attrs = {"columns": ColumnMetadata(joined.columns),
                    "provenance": {**dict(patients.attrs.get("provenance") or {}),
                                   "clinical_table": clinical.attrs.get("source_file", "given"),
                                   "clinical_columns": [c for c in clinical.columns if c != "patient_id"]}}
    return joined


# --------------------------------------------------------------------------------------------
# Reading lesion tables (CSV + provenance sidecar: ResponseSignatureLib.tableio)
# --------------------------------------------------------------------------------------------

def read_lesion_tables(paths: Sequence[str | os.PathLike]) -> pd.DataFrame:
    """Read and stack lesion tables; a lesion (patient_id, lesion_id) in two files is an InputError."""
    tables = [tableio.read_table(path) for path in paths]
    for table, path in zip(tables, paths):
        if "patient_id" not in table.columns:
            raise InputError(f"{path}: no 'patient_id' column; is this a lesion table?")
    combined = pd.concat(tables, ignore_index=True, sort=False)
    if "lesion_id" in combined.columns:
        files = [str(path) for table, path in zip(tables, paths) for _ in range(len(table))]
        keys = combined["patient_id"].astype(str) + "/" + combined["lesion_id"].astype(str)
        duplicated = keys[keys.duplicated(keep=False)]
        if len(duplicated):
            where = sorted({files[index] for index in duplicated.index})
            raise InputError(f"lesion {duplicated.iloc[0]} appears more than once (in {', '.join(where)})")
    combined.attrs["provenance"] = {
        "lesion_tables": [{"file": str(p), "provenance": t.attrs.get("provenance")} for t, p in zip(tables, paths)]
    }
    return combined
