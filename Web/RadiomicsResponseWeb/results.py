"""What the result panels show, as plain JSON-ready data made from the libraries' outputs.

Every number comes from a library call (lesion table, RECIST, waterfall, aggregation, signature,
nomogram, gauge); this module only picks columns and formats them for display. The later stages
are optional: a panel is offered only when its library imports and its demo model file exists, so
the workstation grows as the stages land (``available_stages``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

AGGREGATION_METHOD = "volume_weighted"

# (lesion-table column, header, decimals) shown in the lesion table panel.
LESION_COLUMNS = (
    ("lesion_id", "Lesion", None),
    ("location", "Location", None),
    ("status", "Status", None),
    ("target", "Target", None),
    ("baseline:longest_diameter_mm", "LD base (mm)", 1),
    ("followup:longest_diameter_mm", "LD follow (mm)", 1),
    ("baseline:volume_ml", "Vol base (ml)", 2),
    ("followup:volume_ml", "Vol follow (ml)", 2),
    ("reldelta:volume_ml", "Vol Δ (%)", 0),
)
RECIST_ITEMS = (
    ("recist_category", "RECIST 1.1", None),
    ("recist_reason", "Why", None),
    ("recist_targets", "Target lesions", None),
    ("baseline_sum_mm", "Sum of diameters, baseline (mm)", 1),
    ("followup_sum_mm", "Sum of diameters, follow-up (mm)", 1),
    ("percent_change_from_baseline", "Change from baseline (%)", 1),
    ("volumetric_change_percent", "Volume change (%)", 1),
    ("volumetric_category", "Volumetric category", None),
    ("choi_category", "Choi", None),
)
PERCENT_COLUMNS = {"reldelta:volume_ml"}


def fmt(value: Any, decimals: int | None = None) -> str:
    """A cell as text: numbers rounded, NaN/None as an empty string, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return f"{float(value):.{decimals}f}" if decimals is not None else f"{value:g}"
    return str(value)


def lesion_rows(table: pd.DataFrame) -> dict:
    """Headers and rows of the lesion table panel (formatted text, one dict per lesion)."""
    headers = [{"title": title, "key": _key(column), "sortable": False}
               for column, title, _ in LESION_COLUMNS if column in table.columns]
    rows = []
    for _, lesion in table.iterrows():
        row = {}
        for column, _, decimals in LESION_COLUMNS:
            if column in table.columns:
                value = lesion[column]
                if column in PERCENT_COLUMNS and isinstance(value, float):
                    value = 100.0 * value
                row[_key(column)] = fmt(_plain(value), decimals)
        rows.append(row)
    return {"headers": headers, "rows": rows}


def recist_items(recist: Mapping[str, Any]) -> list[dict]:
    """The RECIST / volumetric / Choi result as (label, value) items."""
    return [{"key": key, "label": label, "value": fmt(_plain(recist.get(key)), decimals)}
            for key, label, decimals in RECIST_ITEMS if key in recist]


def error_messages(errors) -> list[str]:
    """Per-lesion problems reported by the pipeline, one sentence each."""
    return [str(error.get("message", error)) for error in errors or []]


def waterfall_svg(table: pd.DataFrame) -> str:
    """The waterfall plot drawn by NomogramScoreLib.chart ('' if that stage is not installed)."""
    try:
        from NomogramScoreLib.chart import waterfall_svg as draw
    except ImportError:
        return ""
    return draw(table)


def waterfall_items(table: pd.DataFrame) -> list[dict]:
    """Every lesion's diameter change (lesion_table.waterfall_table), for the text under the plot."""
    from ResponseSignatureLib.formatting import change_percent
    from ResponseSignatureLib.lesion_table import waterfall_table

    return [{"lesion_id": str(row["lesion_id"]),
             "change": "new lesion" if row["status"] == "new" else change_percent(row["diameter_change_percent"])}
            for _, row in waterfall_table(table, include_new=True).iterrows()]


# ------------------------------------------------------------------------------ later stages
def signature_model_path() -> Path | None:
    """The shipped demo signature (ResponseSignatureLib.models.demo), or None if absent."""
    try:
        from ResponseSignatureLib.models.demo import default_demo_path

        path = default_demo_path()
    except Exception:  # a stage being written may fail to import with any error: hide its panel
        return None
    return path if path.is_file() else None


def nomogram_model_path() -> Path | None:
    """The shipped demo nomogram (NomogramScoreLib.demo_pipeline.shipped_model), or None if absent."""
    try:
        from NomogramScoreLib.demo_pipeline import shipped_model

        return shipped_model("NomogramScoreLib", "demo_nomogram.json")
    except Exception:  # not shipped yet, or the stage does not import: hide its panel
        return None


def demo_clinical_values() -> dict:
    """The demo patient's clinical values used by ``radiomics-response demo`` ({} if unavailable)."""
    try:
        from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL
    except Exception:
        return {}
    return {name: str(value) for name, value in DEMO_CLINICAL.items()}


def available_stages() -> dict[str, bool]:
    """Which later-stage panels can be shown: their library imports and their model exists."""
    return {
        "patient": _imports("LesionAggregateLib.aggregate"),
        "signature": _imports("ResponseSignatureLib.models.inference") and signature_model_path() is not None,
        "nomogram": (_imports("NomogramScoreLib.nomogram") and _imports("NomogramScoreLib.gauge")
                     and nomogram_model_path() is not None),
    }


def _imports(module: str) -> bool:
    import importlib

    try:
        importlib.import_module(module)
    except Exception:  # a stage being written may fail to import with any error: hide its panel
        return False
    return True


def patient_table(table: pd.DataFrame) -> pd.DataFrame:
    """LesionAggregateLib.aggregate.patient_table with the volume-weighted mean."""
    from LesionAggregateLib.aggregate import patient_table as aggregate

    return aggregate(table, method=AGGREGATION_METHOD)


def patient_items(patients: pd.DataFrame, columns=None) -> list[dict]:
    """Columns of the one-patient table: counts, RECIST, then ``columns`` (default: aggregated measures)."""
    if patients.empty:
        return []
    row = patients.iloc[0]
    first = ["n_lesions", "recist_category", "percent_change_from_baseline", "volumetric_change_percent"]
    if columns is None:
        columns = [f"{AGGREGATION_METHOD}:delta:{name}" for name in ("longest_diameter_mm", "volume_ml", "mean_hu")]
    return [{"label": column, "value": fmt(_plain(row[column]), 3)} for column in first + list(columns)
            if column in patients.columns]


def load_signature():
    """The demo signature model (validated JSON)."""
    from ResponseSignatureLib.models import load_model

    return load_model(signature_model_path())


def signature_params(model: Mapping):
    """The extraction settings the signature's columns assume: a preset name or a pyradiomics dict."""
    settings = model.get("extraction_settings") or {}
    if settings.get("preset"):
        return settings["preset"]
    if any(key in settings for key in ("imageType", "featureClass", "setting")):
        return {key: settings[key] for key in ("imageType", "featureClass", "setting") if key in settings}
    return None


def signature_score(model: Mapping, lesions: pd.DataFrame, patients: pd.DataFrame) -> dict:
    """Score the patient with the signature (patient-level model, or mean of lesion scores)."""
    from ResponseSignatureLib.models import inference

    if model.get("level") == "lesion":
        scored = inference.patient_scores(model, inference.apply_model(model, lesions))
    else:
        scored = inference.apply_model(model, patients)
    row = scored.iloc[0]
    from ResponseSignatureLib.formatting import score
    from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff

    reading = read_against_cutoff(float(row["score"]), model["threshold"]["value"], terms=outcome_terms(model), show=score)
    return {"score": float(row["score"]), "class": int(row["class"]), "model": model.get("name", ""),
            "threshold": float(model["threshold"]["value"]), "sha256": model.get("sha256", ""),
            "reading": reading.text, "reading_colour": reading.colour}


def load_nomogram():
    """The demo nomogram model (validated JSON)."""
    from ResponseSignatureLib.models import load_model

    import NomogramScoreLib.nomogram  # noqa: F401  (registers the nomogram model kind)

    return load_model(nomogram_model_path())


def clinical_fields(model: Mapping) -> list[dict]:
    """The nomogram's predictors as form fields (the signature score is filled in, not typed)."""
    from NomogramScoreLib.nomogram import predictors

    fields = []
    for predictor in predictors(model):
        levels = predictor.get("levels") or []
        fields.append({
            "name": predictor["name"],
            "label": predictor.get("label") or predictor["name"],
            "unit": predictor.get("unit") or "",
            "kind": "select" if levels else "number",
            "levels": [str(level) for level in levels],
        })
    return fields


def score_nomogram(model: Mapping, values: Mapping[str, Any]) -> dict:
    """Probability with CI, its reading against the cut-off and the gauge SVG
    (NomogramScoreLib.nomogram.score_patient + gauge.gauge_for)."""
    from NomogramScoreLib.gauge import gauge_for
    from NomogramScoreLib.nomogram import score_patient
    from ResponseSignatureLib.formatting import ci_text, percent

    result = score_patient(model, values)
    return {"heading": result["outcome"]["label"], "risk": percent(result["risk"]),
            "ci": ci_text(result["ci_low"], result["ci_high"]), "reading": result["reading"]["text"],
            "reading_colour": result["reading"]["colour"], "points": fmt(result["total_points"], 0),
            "warnings": list(result.get("warnings") or []), "svg": gauge_for(model, result)}


def _key(column: str) -> str:
    """A column name usable as a JavaScript object key in the browser."""
    return column.replace(":", "__")


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-ready)."""
    return value.item() if hasattr(value, "item") else value
