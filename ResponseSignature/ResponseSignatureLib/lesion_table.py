"""The lesion table: one row per lesion of one patient, the contract every later stage reads.

Columns (stable API; names keep pyradiomics' feature names so published signatures map 1:1):

- ``patient_id``: the patient.
- ``lesion_id``: the lesion's name (baseline segment name; the follow-up name for new lesions).
- ``location``: organ (liver, lung, node, ...); ``node`` marks a lymph node for RECIST.
- ``status``: ``matched`` (seen at both time points), ``new`` (follow-up only),
  ``disappeared`` (baseline only; measured as 0 mm / 0 ml at follow-up — a clinical finding).
- ``baseline_segment`` / ``followup_segment``: the segment names at each time point.
- ``match_method``: how the lesion was matched (``pair``, ``name``, ``centroid``; empty if unmatched);
  ``match_distance_mm``: centroid distance between the time points.
- ``target``: True if the lesion is a RECIST 1.1 target lesion (selected at baseline).
- ``<timepoint>:<measure>`` for timepoint in baseline, followup and measure in
  ``longest_diameter_mm`` (RECIST longest axial diameter), ``short_axis_mm`` (perpendicular short
  axis in the same slice), ``volume_ml``, ``mean_hu``, ``n_voxels``.
- ``<timepoint>:<feature>``: radiomic features, pyradiomics names (``original_glcm_JointEntropy``).
- ``delta:<x>`` = followup − baseline; ``reldelta:<x>`` = (followup − baseline) / |baseline|,
  empty where the baseline is 0 or missing. For every measure and feature.
- ``error``: why a lesion's features or measures are missing (empty when all is well).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import recist
from .errors import InputError

TIMEPOINTS = ("baseline", "followup")
MEASURES = ("longest_diameter_mm", "short_axis_mm", "volume_ml", "mean_hu", "n_voxels")
ID_COLUMNS = (
    "patient_id",
    "lesion_id",
    "location",
    "status",
    "baseline_segment",
    "followup_segment",
    "match_method",
    "match_distance_mm",
    "target",
)
# Measures that are 0 when a lesion is absent at a time point (RECIST: disappeared = 0 mm).
ZERO_WHEN_ABSENT = ("longest_diameter_mm", "short_axis_mm", "volume_ml", "n_voxels")



@dataclass(frozen=True)
class ColumnInfo:
    """What a table column holds: a short title (table header), a one-line description, the unit
    ('' when dimensionless or text) and the IBSI 1 code(s) where the quantity has one."""

    title: str
    description: str
    unit: str = ""
    ibsi: str = ""

    def as_dict(self) -> dict:
        return {key: value for key, value in asdict(self).items() if value}


#: the lesion table's own columns (everything but ``<timepoint|delta|reldelta>:<measure|feature>``)
COLUMNS = {
    "patient_id": ColumnInfo("Patient", "Patient identifier"),
    "lesion_id": ColumnInfo("Lesion", "Lesion name (baseline segment name; follow-up name for new lesions)"),
    "location": ColumnInfo("Location", "Organ of the lesion (node = lymph node)"),
    "status": ColumnInfo("Status", "matched, new (follow-up only) or disappeared (baseline only)"),
    "baseline_segment": ColumnInfo("Baseline segment", "Segment name at baseline"),
    "followup_segment": ColumnInfo("Follow-up segment", "Segment name at follow-up"),
    "match_method": ColumnInfo("Matched by", "How baseline and follow-up were matched: pair, name or centroid"),
    "match_distance_mm": ColumnInfo("Match distance", "Distance between the lesion centroids at the two time points",
                                    "mm"),
    "target": ColumnInfo("Target", "RECIST 1.1 target lesion"),
    "error": ColumnInfo("Error", "Why values are missing for this lesion"),
}
#: the measures per time point
MEASURE_COLUMNS = {
    "longest_diameter_mm": ColumnInfo("Longest diameter", "RECIST longest axial diameter", "mm"),
    "short_axis_mm": ColumnInfo("Short axis", "Short axis perpendicular to the longest diameter, same slice", "mm"),
    "volume_ml": ColumnInfo("Volume", "Lesion volume", "ml"),
    "mean_hu": ColumnInfo("Mean HU", "Mean intensity in the lesion", "HU"),
    "n_voxels": ColumnInfo("Voxels", "Number of voxels in the lesion"),
}
#: the patient RECIST 1.1 columns of ``recist_from_lesion_table`` (recist.patient_recist_summary)
RECIST_COLUMNS = {
    "recist_targets": ColumnInfo("RECIST targets", "Target lesions, comma-separated"),
    "baseline_sum_mm": ColumnInfo("Baseline sum", "Sum of the target lesions' RECIST diameters at baseline", "mm"),
    "followup_sum_mm": ColumnInfo("Follow-up sum", "Sum of the target lesions' RECIST diameters at follow-up", "mm"),
    "nadir_mm": ColumnInfo("Nadir", "Smallest sum of diameters so far (baseline included)", "mm"),
    "percent_change_from_baseline": ColumnInfo("Change from baseline", "Change of the sum of diameters from "
                                               "baseline", "%"),
    "percent_change_from_nadir": ColumnInfo("Change from nadir", "Change of the sum of diameters from the nadir",
                                            "%"),
    "recist_category": ColumnInfo("RECIST 1.1", "RECIST 1.1 response: CR, PR, SD, PD or NE"),
    "recist_reason": ColumnInfo("RECIST reason", "Why the RECIST category was given"),
    "volumetric_change_percent": ColumnInfo("Volume change", "Change of the summed lesion volume from baseline",
                                            "%"),
    "volumetric_category": ColumnInfo("Volumetric response", "Response category from the volume change"),
    "choi_category": ColumnInfo("Choi", "Choi response category (size and attenuation)"),
}
#: what a column-name prefix says about the values after it
TIMEPOINT_TITLES = {"baseline": "baseline", "followup": "follow-up"}

def infer_location(lesion_name: str) -> str:
    """Guess the organ from a segment name such as 'liver_1' or 'Lung lesion 2'; 'other' if unknown."""
    known = ("liver", "lung", "node", "lymph", "bone", "adrenal", "kidney", "peritoneum", "brain", "spleen", "pancreas")
    name = lesion_name.lower()
    for organ in known:
        if organ in name:
            return "node" if organ == "lymph" else organ
    return "other"


def relative_change(baseline: float, followup: float) -> float:
    """(followup − baseline) / |baseline|; NaN where the baseline is 0 or either value is missing."""
    if baseline is None or followup is None or not np.isfinite(baseline) or not np.isfinite(followup) or baseline == 0:
        return math.nan
    return (followup - baseline) / abs(baseline)


def build_lesion_table(
    patient_id: str,
    rows: Iterable[Mapping[str, Any]],
    values: Mapping[str, Mapping[str, Mapping[str, float]]],
) -> pd.DataFrame:
    """Assemble the lesion table.

    ``rows``: one mapping per lesion with the ID_COLUMNS (except patient_id) and ``error``.
    ``values[timepoint][segment_name]``: measures and features of that segment at that time point.
    Absent lesions get 0 for ZERO_WHEN_ABSENT measures and NaN for everything else.
    """
    value_names = _ordered_value_names(values)
    records = []
    for row in rows:
        record: dict[str, Any] = {"patient_id": patient_id}
        record.update({key: row.get(key) for key in ID_COLUMNS if key != "patient_id"})
        for timepoint in TIMEPOINTS:
            segment = row.get(f"{timepoint}_segment")
            found = values.get(timepoint, {}).get(segment, {}) if segment else {}
            for name in value_names:
                if segment:
                    record[f"{timepoint}:{name}"] = found.get(name, math.nan)
                else:
                    record[f"{timepoint}:{name}"] = 0.0 if name in ZERO_WHEN_ABSENT else math.nan
        for name in value_names:
            before, after = record[f"baseline:{name}"], record[f"followup:{name}"]
            record[f"delta:{name}"] = after - before if np.isfinite(before) and np.isfinite(after) else math.nan
            record[f"reldelta:{name}"] = relative_change(before, after)
        record["error"] = row.get("error") or ""
        records.append(record)
    columns = list(ID_COLUMNS) + [f"{prefix}:{name}" for prefix in (*TIMEPOINTS, "delta", "reldelta") for name in value_names] + ["error"]
    return pd.DataFrame.from_records(records, columns=columns)


def _ordered_value_names(values: Mapping[str, Mapping[str, Mapping[str, float]]]) -> list[str]:
    """Measures first (fixed order), then every feature name seen, in first-seen order."""
    names = list(MEASURES)
    seen = set(names)
    for per_segment in values.values():
        for segment_values in per_segment.values():
            for name in segment_values:
                if name not in seen:
                    seen.add(name)
                    names.append(name)
    return names


def recist_diameter_column(location: Any, timepoint: str, columns: Iterable[str] | None = None) -> str:
    """The RECIST diameter column of a lesion: short axis for nodes (when the table has it),
    longest diameter otherwise."""
    short_axis = f"{timepoint}:short_axis_mm"
    if recist.is_lymph_node(location) and (columns is None or short_axis in columns):
        return short_axis
    return f"{timepoint}:longest_diameter_mm"


@dataclass(frozen=True)
class WaterfallCategory:
    """A class of a lesion's own diameter change in the waterfall plots (report, web, Slicer): its
    key, the legend's words and the bar colour (Okabe-Ito: distinct for colour-blind readers)."""

    key: str
    label: str
    colour: str


#: The waterfall's bar categories, by a lesion's own change: at or beyond the RECIST thresholds
#: (+20 %, -30 %; RECIST applies them to the sum of target diameters, so per lesion they are descriptive).
WATERFALL_CATEGORIES = (WaterfallCategory("increase", "+20 % or more", "#d55e00"),
                        WaterfallCategory("stable", "-30 % to +20 %", "#9e9e9e"),
                        WaterfallCategory("decrease", "-30 % or less", "#0072b2"))


def waterfall_category(change: float) -> WaterfallCategory:
    """The WATERFALL_CATEGORIES entry of a (finite) percent change."""
    increase, stable, decrease = WATERFALL_CATEGORIES
    return increase if change >= 20.0 else decrease if change <= -30.0 else stable


def waterfall_table(table: pd.DataFrame, include_new: bool = False) -> pd.DataFrame:
    """Per-lesion RECIST diameter change in percent (short axis for lymph nodes), largest increase
    first; a disappeared lesion (0 mm at follow-up) is at -100 %.

    Columns ``lesion_id``, ``status``, ``diameter_change_percent``. By default only lesions with a
    change are listed; ``include_new=True`` lists every lesion, as a report must: new lesions
    (no baseline, no percent change: empty) first, then the changes, then lesions whose change
    cannot be computed (missing or zero baseline; empty).
    """
    rows = []
    for _, lesion in table.iterrows():
        status = lesion.get("status")
        change = math.nan
        if status != "new":
            location = lesion.get("location")
            before = lesion[recist_diameter_column(location, "baseline", table.columns)]
            after = lesion[recist_diameter_column(location, "followup", table.columns)]
            change = 100.0 * relative_change(before, after)
        if include_new or np.isfinite(change):
            rows.append({"lesion_id": lesion["lesion_id"], "status": status, "diameter_change_percent": change})
    result = pd.DataFrame(rows, columns=["lesion_id", "status", "diameter_change_percent"])
    order = np.where(result["status"] == "new", 0, np.where(np.isfinite(result["diameter_change_percent"].astype(float)), 1, 2))
    result = result.assign(_order=order, _change=-result["diameter_change_percent"].astype(float))
    result = result.sort_values(["_order", "_change"], kind="stable", na_position="last")
    return result.drop(columns=["_order", "_change"]).reset_index(drop=True)


#: The words a waterfall adds to a lesion's name by status (new lesions have no bar, disappeared ones are at -100 %).
WATERFALL_STATUS_NOTES = {"new": "new", "disappeared": "disappeared"}
WATERFALL_NEW_LABEL = "new lesion (no % change)"


def waterfall_series(table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The waterfall as plot series for a chart that colours whole series (Slicer's plot nodes): no
    missing value in any plotted column.

    ``bars``: one row per lesion, in ``waterfall_table(include_new=True)`` order (new lesions
    first): ``lesion_id``, ``label`` (the name with its status note: 'liver_4 (new)'), ``status``,
    ``diameter_change_percent`` (empty for new lesions: data, not plotted), ``position`` (0, 1, ...),
    then one column per WATERFALL_CATEGORIES key present: the lesion's change in its category's
    column, 0 in the others (a bar of height 0 is not drawn). ``new``: the new lesions' ``lesion_id``,
    ``label``, ``position`` and ``marker`` (0: a marker on the zero line, not a bar).
    """
    rows = waterfall_table(table, include_new=True)
    change = rows["diameter_change_percent"].astype(float)
    note = [WATERFALL_STATUS_NOTES.get(status, "") if np.isfinite(value) or status == "new" else "no change computed"
            for status, value in zip(rows["status"], change)]
    bars = pd.DataFrame({"lesion_id": rows["lesion_id"].astype(str),
                         "label": [f"{lesion} ({text})" if text else str(lesion) for lesion, text in zip(rows["lesion_id"], note)],
                         "status": rows["status"], "diameter_change_percent": change,
                         "position": np.arange(len(rows), dtype=float)})
    keys = [waterfall_category(value).key if np.isfinite(value) else None for value in change]
    for category in WATERFALL_CATEGORIES:
        if category.key in keys:
            bars[category.key] = [value if key == category.key else 0.0 for key, value in zip(keys, change)]
    new = bars.loc[bars["status"] == "new", ["lesion_id", "label", "position"]].assign(marker=0.0).reset_index(drop=True)
    return bars, new


def column_info(column: str) -> ColumnInfo | None:
    """Title, description, unit and IBSI code of a lesion-table column or of a patient RECIST column;
    None for a column not documented here.

    Feature columns (``<image>_<class>_<feature>``) are described by the engine's registry: the
    class's FeatureInfo, on the named image (``original``, ``log-sigma-2-0-mm-3D``, ``wavelet-LLH``...).
    The patient table's aggregates (``<method>:<lesion column>``) are LesionAggregateLib's to
    describe (``aggregate.column_info``, carried in ``table.attrs['columns']``).
    """
    for known in (COLUMNS, MEASURE_COLUMNS, RECIST_COLUMNS):
        if column in known:
            return known[column]
    prefix, sep, rest = column.partition(":")
    if not sep:
        return _feature_info(column)
    inner = column_info(rest)
    if inner is None:
        return None
    if prefix in TIMEPOINT_TITLES or prefix.startswith("followup"):
        when = TIMEPOINT_TITLES.get(prefix, prefix)
        return ColumnInfo(f"{inner.title} ({when})", f"{inner.description}, at {when}", inner.unit, inner.ibsi)
    if prefix == "delta":
        return ColumnInfo(f"Δ {inner.title}", f"Change (follow-up − baseline) of: {inner.description}", inner.unit,
                          inner.ibsi)
    if prefix == "reldelta":
        return ColumnInfo(f"Relative Δ {inner.title}",
                          f"Relative change (follow-up − baseline) / |baseline| of: {inner.description}", "",
                          inner.ibsi)
    return None


def _feature_info(name: str) -> ColumnInfo | None:
    """A radiomic feature column: ``<image>_<class>_<feature>`` from the engine's registry, or a
    ``zhao_<group>_<feature>`` of the Dercle signatures (zhao_features.py)."""
    from .engine import registry

    parts = name.split("_", 2)
    if len(parts) != 3:
        return None
    image, cls, feature = parts
    if image == "zhao":
        return ColumnInfo(f"{cls} {feature} (zhao)", f"Zhao-lab feature {cls} {feature} (see zhao_features.py)")
    descriptor = registry.find(cls)
    info = descriptor.info.get(feature) if descriptor is not None else None
    if info is None:
        return None
    return ColumnInfo(f"{cls} {feature} ({image})", f"{info.description}; {descriptor.title}, {image} image",
                      info.unit, info.ibsi)


def columns_info(columns: Iterable[str]) -> dict[str, ColumnInfo]:
    """``column_info`` of every documented column among ``columns`` (the others are left out)."""
    out = {}
    for column in columns:
        info = column_info(str(column))
        if info is not None:
            out[str(column)] = info
    return out


def recist_from_lesion_table(table: pd.DataFrame) -> dict:
    """Patient RECIST 1.1 / volumetric / Choi columns from one patient's lesion table.

    Baseline lesions are the matched and disappeared ones that could be measured; disappeared
    lesions count 0 mm at follow-up; new lesions mean PD; targets come from the ``target`` column.
    """
    baseline, followup, new_lesions, targets = _recist_inputs(table)
    return recist.patient_recist_summary(baseline, followup, new_lesions=new_lesions, targets=targets)


def recist_over_time(tables: Sequence[pd.DataFrame]) -> list[dict]:
    """RECIST 1.1 at each of several follow-ups of one patient, the nadir taken over all earlier ones.

    ``tables``: the patient's lesion tables baseline vs follow-up 1, baseline vs follow-up 2, ...
    in time order (same baseline segmentation; targets from the first table). A target missing
    from a later table is not evaluable at that follow-up. Returns one dict per follow-up.
    """
    if not tables:
        raise InputError("recist_over_time needs at least one lesion table.")
    baseline, first_followup, first_new, targets = _recist_inputs(tables[0])
    followups, new_lesions = [first_followup], [first_new]
    for index, table in enumerate(tables[1:], start=2):
        later_baseline, followup, new, _ = _recist_inputs(table)
        moved = sorted(t for t in targets if t in later_baseline and
                       later_baseline[t].longest_diameter_mm != baseline[t].longest_diameter_mm)
        if moved:
            raise InputError(f"follow-up {index}: the baseline of target(s) {', '.join(moved)} differs from the first "
                             "table's; all tables must share one baseline segmentation.")
        followups.append(followup)
        new_lesions.append(new)
    responses = recist.assess_response([baseline, *followups], targets, new_lesions_per_timepoint=new_lesions)
    return [{"followup": response.timepoint_index, "sum_diameters_mm": response.sum_diameters_mm,
             "baseline_sum_mm": response.baseline_sum_mm, "nadir_mm": response.nadir_mm,
             "percent_change_from_baseline": response.percent_change_from_baseline,
             "percent_change_from_nadir": response.percent_change_from_nadir,
             "recist_category": response.category, "recist_reason": response.reason,
             "new_lesions": ",".join(response.new_lesions), "not_evaluable": ",".join(response.not_evaluable)}
            for response in responses]


def _recist_inputs(table: pd.DataFrame):
    """(baseline measurements, follow-up measurements, new lesion ids, target ids) of one lesion table."""
    baseline, followup = {}, {}
    for _, lesion in table[table["status"] != "new"].iterrows():
        if not np.isfinite(lesion["baseline:longest_diameter_mm"]):
            continue
        baseline[str(lesion["lesion_id"])] = _measurement(lesion, "baseline", present=True)
        followup[str(lesion["lesion_id"])] = _measurement(lesion, "followup", present=lesion["status"] == "matched")
    new_lesions = [str(name) for name in table.loc[table["status"] == "new", "lesion_id"]]
    targets = [str(name) for name in table.loc[table["target"].astype(bool), "lesion_id"] if str(name) in baseline]
    return baseline, followup, new_lesions, targets


def _measurement(lesion: pd.Series, timepoint: str, present: bool) -> recist.LesionMeasurement:
    return recist.LesionMeasurement(
        lesion_id=str(lesion["lesion_id"]),
        location=str(lesion["location"]),
        longest_diameter_mm=float(lesion[f"{timepoint}:longest_diameter_mm"]),
        short_axis_mm=float(lesion[f"{timepoint}:short_axis_mm"]),
        volume_ml=float(lesion[f"{timepoint}:volume_ml"]),
        mean_hu=float(lesion[f"{timepoint}:mean_hu"]),
        present=present,
    )
