"""What the result panels show, as plain JSON-ready data made from the libraries' outputs.

Every number comes from a library call (lesion table, RECIST, waterfall, gauge) and the later
stages run through ``NomogramScoreLib.patient_pipeline``, the chain the command line and
``radiomics-response demo`` run too: the workstation's demo patient gets the demo's settings,
models and clinical values, so both give the same patient result. This module only picks columns
and formats them for display. Every stage is part of the package: a stage that fails to import or
a shipped model that is missing is an error, never a hidden panel.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import pandas as pd


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
    """The waterfall plot drawn by NomogramScoreLib.chart."""
    from NomogramScoreLib.chart import waterfall_svg as draw

    return draw(table)


def waterfall_items(table: pd.DataFrame) -> list[dict]:
    """Every lesion's diameter change (lesion_table.waterfall_table), for the text under the plot."""
    from ResponseSignatureLib.formatting import change_percent
    from ResponseSignatureLib.lesion_table import waterfall_table

    return [{"lesion_id": str(row["lesion_id"]),
             "change": "new lesion" if row["status"] == "new" else change_percent(row["diameter_change_percent"])}
            for _, row in waterfall_table(table, include_new=True).iterrows()]


# ------------------------------------------------------------------------------ later stages
def signature_model() -> dict:
    """The shipped demo signature (validated JSON)."""
    from NomogramScoreLib.demo_pipeline import demo_models

    return demo_models()[0]


def nomogram_model() -> dict:
    """The shipped demo nomogram (validated JSON)."""
    from NomogramScoreLib.demo_pipeline import demo_models

    return demo_models()[1]


def demo_clinical_values() -> dict:
    """The demo patient's clinical values used by ``radiomics-response demo``, as form text."""
    from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL

    return {name: str(value) for name, value in DEMO_CLINICAL.items()}


def extraction_params(demo: bool, signature: Mapping):
    """Settings of the lesion computation: the demo's own (``demo_pipeline.demo_params``) for the
    demo case, else those the signature's columns assume (a preset name or a pyradiomics dict)."""
    if demo:
        from NomogramScoreLib.demo_pipeline import demo_params

        return demo_params()
    settings = signature.get("extraction_settings") or {}
    if settings.get("preset"):
        return settings["preset"]
    if any(key in settings for key in ("imageType", "featureClass", "setting")):
        return {key: settings[key] for key in ("imageType", "featureClass", "setting") if key in settings}
    return None


def patient_result(lesion_result, signature: Mapping):
    """Patient row (volume-weighted) and signature score: ``patient_pipeline.from_lesion_result``."""
    from NomogramScoreLib.patient_pipeline import from_lesion_result

    return from_lesion_result(lesion_result, signature_model=signature)


def with_nomogram(result, model: Mapping, values: Mapping[str, Any]):
    """The patient result with the clinical form's values and the nomogram's risk. The form shows
    the signature score rounded; the risk uses the patient row's own (full precision) score."""
    from NomogramScoreLib.patient_pipeline import add_clinical, add_nomogram
    from ResponseSignatureLib.models.inference import SIGNATURE_SCORE

    clinical = {name: value for name, value in values.items() if name != SIGNATURE_SCORE}
    return add_nomogram(add_clinical(result, clinical), model)


def patient_items(result, columns=None) -> list[dict]:
    """Rows of the patient panel: counts, RECIST, then ``columns`` (default: aggregated measures)."""
    from NomogramScoreLib.patient_pipeline import AGGREGATION

    row = result.row
    first = ["n_lesions", "recist_category", "percent_change_from_baseline", "volumetric_change_percent"]
    if columns is None:
        columns = [f"{AGGREGATION}:delta:{name}" for name in ("longest_diameter_mm", "volume_ml", "mean_hu")]
    return [{"label": column, "value": fmt(row[column], 3)} for column in first + list(columns) if column in row]


def signature_panel(result) -> dict:
    """The signature panel: score, its reading against the cut-off, the model's name and hash."""
    from ResponseSignatureLib.formatting import score
    from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff

    signature = result.signature
    reading = read_against_cutoff(signature["score"], signature["threshold"], terms=outcome_terms(signature),
                                  show=score)
    return {"score": signature["score"], "class": signature["class"], "model": signature.get("name", ""),
            "threshold": signature["threshold"], "sha256": signature.get("sha256", ""),
            "reading": reading.text, "reading_colour": reading.colour}


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


def nomogram_panel(result) -> dict:
    """Probability with CI, its reading against the cut-off, points and the gauge SVG of a patient
    result scored by the nomogram (``gauge.gauge_for``)."""
    from NomogramScoreLib.gauge import gauge_for
    from ResponseSignatureLib.formatting import ci_text, percent

    risk, model = result.risk, result.nomogram
    return {"heading": risk["outcome"]["label"], "risk": percent(risk["risk"]),
            "ci": ci_text(risk["ci_low"], risk["ci_high"]), "reading": risk["reading"]["text"],
            "reading_colour": risk["reading"]["colour"], "points": fmt(risk["total_points"], 0),
            "warnings": list(risk.get("warnings") or []), "svg": gauge_for(model, risk)}


def _key(column: str) -> str:
    """A column name usable as a JavaScript object key in the browser."""
    return column.replace(":", "__")


def _plain(value: Any) -> Any:
    """numpy scalars -> Python scalars (JSON-ready)."""
    return value.item() if hasattr(value, "item") else value
