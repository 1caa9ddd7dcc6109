"""Images + segmentations at baseline and follow-up -> lesion table + patient RECIST.

This is the one function the CLI, the Slicer Logic, the batch runner and the tests call:
measure and extract every segment at every time point, match lesions across time points, select
RECIST targets, build the lesion table and assess the response. A problem with one lesion is
recorded in its ``error`` column and in ``errors``; the other lesions are still computed.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from . import imageio, lesion_table, matching, measure, recist
from .errors import InputError, LesionError
from .extraction import DEFAULT_ENGINE, FeatureExtractor, load_params
from .progress import CancelCallback, ProgressCallback, check_cancel, report
from .provenance import make_provenance, settings_hash


@dataclass
class LesionTableResult:
    """What compute_lesion_table returns: the lesion table, patient RECIST, per-lesion errors, provenance."""

    table: pd.DataFrame
    recist: dict
    errors: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)


def compute_lesion_table(
    timepoints: Mapping[str, tuple[Any, Sequence[imageio.Segment]]],
    params: Any = None,
    patient_id: str = "patient",
    locations: Mapping[str, str] | str | Path | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    tolerance_mm: float = 15.0,
    engine: str = DEFAULT_ENGINE,
    progress: ProgressCallback = None,
    should_cancel: CancelCallback = None,
) -> LesionTableResult:
    """Measure, extract, match and assess one patient.

    ``timepoints`` maps 'baseline' and 'followup' to (SimpleITK image, segments on its grid).
    ``params``: preset name, pyradiomics YAML path or dict. ``locations``: lesion name -> organ
    (or a CSV with columns lesion_id,location); unknown names are inferred from the segment name.
    """
    _check_timepoints(timepoints)
    settings = load_params(params)
    extractor = FeatureExtractor(settings, engine=engine)
    location_of = _location_lookup(locations)
    values, centroids, errors = _measure_all(timepoints, extractor, progress, should_cancel)
    matches = matching.match_lesions(centroids["baseline"], centroids["followup"], tolerance_mm=tolerance_mm, pairs=pairs)
    rows = _lesion_rows(matches, location_of, errors)
    targets = _select_targets(rows, values["baseline"])
    for row in rows:
        row["target"] = row["lesion_id"] in targets
    table = lesion_table.build_lesion_table(patient_id, rows, values)
    report(progress, 1.0, "Lesion table ready")
    provenance = make_provenance(
        patient_id=patient_id,
        engine=engine,
        extraction_settings=extractor.settings,
        extraction_settings_sha256=settings_hash(extractor.settings),
        matching={"tolerance_mm": tolerance_mm, "pairs": [list(pair) for pair in pairs or []]},
    )
    return LesionTableResult(table, lesion_table.recist_from_lesion_table(table), errors, provenance)


def run_case_files(
    baseline_image: str | Path,
    baseline_seg: str | Path,
    followup_image: str | Path,
    followup_seg: str | Path,
    patient_id: str | None = None,
    **kwargs: Any,
) -> LesionTableResult:
    """compute_lesion_table on files (NRRD/NIfTI/MHA/DICOM folder images; .seg.nrrd or label maps)."""
    timepoints = {}
    for name, image_path, seg_path in (("baseline", baseline_image, baseline_seg), ("followup", followup_image, followup_seg)):
        image = imageio.read_image(image_path)
        timepoints[name] = (image, imageio.read_segments(seg_path, image))
    result = compute_lesion_table(timepoints, patient_id=patient_id or Path(str(baseline_image)).stem, **kwargs)
    result.provenance["inputs"] = {
        "baseline_image": str(baseline_image),
        "baseline_segmentation": str(baseline_seg),
        "followup_image": str(followup_image),
        "followup_segmentation": str(followup_seg),
    }
    return result


def _check_timepoints(timepoints: Mapping[str, Any]) -> None:
    if set(timepoints) != set(lesion_table.TIMEPOINTS):
        raise InputError(f"Expected the time points {lesion_table.TIMEPOINTS}, got {tuple(timepoints)}.")
    for name, (_, segments) in timepoints.items():
        names = [segment.name for segment in segments]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"Segment names must be unique within a time point; at {name} repeated: {', '.join(duplicates)}.")


def _measure_all(timepoints, extractor, progress, should_cancel):
    """Measures + features per time point per segment; centroids for matching; per-lesion errors."""
    values: dict[str, dict[str, dict[str, float]]] = {name: {} for name in timepoints}
    centroids: dict[str, dict[str, tuple[float, float, float]]] = {name: {} for name in timepoints}
    errors: list[dict[str, str]] = []
    jobs = [(name, image, segment) for name, (image, segments) in timepoints.items() for segment in segments]
    for index, (name, image, segment) in enumerate(jobs):
        check_cancel(should_cancel)
        report(progress, index / max(len(jobs), 1), f"{name}: {segment.name}")
        measures, features, error = _measure_segment(image, segment, extractor, name)
        if measures is not None:
            centroids[name][segment.name] = tuple(measures[f"centroid_{axis}_mm"] for axis in "xyz")
        if error:
            errors.append({"lesion_id": segment.name, "timepoint": name, "message": error})
        values[name][segment.name] = {**{k: v for k, v in (measures or {}).items() if k in lesion_table.MEASURES}, **features}
    return values, centroids, errors


def _measure_segment(image, segment, extractor, timepoint):
    """(measures or None, features, error message or '') for one segment at one time point."""
    if segment.note:
        return None, {}, str(LesionError(segment.name, segment.note, timepoint))
    try:
        measures = measure.measure_lesion(image, segment.mask, segment.name)
    except LesionError as error:
        return None, {}, _with_timepoint(error, segment.name, timepoint)
    try:
        features = extractor.extract(image, segment.mask, lesion_id=segment.name, timepoint=timepoint)
    except LesionError as error:
        return measures, {}, _with_timepoint(error, segment.name, timepoint)
    return measures, features, ""


def _with_timepoint(error: LesionError, lesion_id: str, timepoint: str) -> str:
    return str(error) if error.timepoint else str(LesionError(lesion_id, str(error).split(": ", 1)[-1], timepoint))


def _lesion_rows(matches, location_of, errors) -> list[dict[str, Any]]:
    """One row per matched/new/disappeared lesion with its id, location, match and errors."""
    messages: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        messages.setdefault((error["timepoint"], error["lesion_id"]), []).append(error["message"])
    rows = []
    for match in matches:
        lesion_id = match.baseline_id or match.followup_id
        row_errors = messages.get(("baseline", match.baseline_id), []) + messages.get(("followup", match.followup_id), [])
        rows.append(
            {
                "lesion_id": lesion_id,
                "location": location_of(match.baseline_id, match.followup_id),
                "status": match.status,
                "baseline_segment": match.baseline_id,
                "followup_segment": match.followup_id,
                "match_method": match.method or "",
                "match_distance_mm": match.distance_mm,
                "error": "; ".join(row_errors),
            }
        )
    return rows


def _select_targets(rows, baseline_values) -> set[str]:
    """RECIST 1.1 target lesions among the baseline lesions that could be measured."""
    candidates = []
    for row in rows:
        measures = baseline_values.get(row["baseline_segment"] or "", {})
        if "longest_diameter_mm" in measures:
            candidates.append(
                {
                    "lesion_id": row["lesion_id"],
                    "location": row["location"],
                    "longest_diameter_mm": measures["longest_diameter_mm"],
                    "short_axis_mm": measures["short_axis_mm"],
                }
            )
    return set(recist.select_targets(candidates))


def _location_lookup(locations):
    """A function (baseline name, follow-up name) -> location, from a mapping, a CSV or names."""
    if isinstance(locations, (str, Path)):
        locations = read_locations(locations)
    known = dict(locations or {})

    def location_of(baseline_name, followup_name):
        for name in (baseline_name, followup_name):
            if name and name in known:
                return known[name]
        return lesion_table.infer_location(baseline_name or followup_name)

    return location_of


def read_locations(path: str | Path) -> dict[str, str]:
    """Read a locations CSV (columns lesion_id,location) into a dict."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Locations file not found: {path}")
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        if not reader.fieldnames or not {"lesion_id", "location"} <= set(reader.fieldnames):
            raise InputError(f"{path} must have the columns lesion_id,location; found {reader.fieldnames}.")
        return {row["lesion_id"].strip(): row["location"].strip() for row in reader if row["lesion_id"].strip()}
