"""What the result panels show, as plain JSON-ready data made from the libraries' outputs.

Every number comes from a library call (lesion table, RECIST, waterfall, gauge) and the later
stages run through ``NomogramScoreLib.patient_pipeline``, the chain the command line and
``radiomics-response demo`` run too: the workstation's demo patient gets the demo's settings,
models and clinical values, so both give the same patient result. This module only picks columns
and formats them for display. Every stage is part of the package: a stage that fails to import or
a shipped model that is missing is an error, never a hidden panel.
"""
from __future__ import annotations

from typing import Any, Mapping

import pandas as pd

from ResponseSignatureLib.formatting import change_percent, is_missing, number


def lesion_rows(table: pd.DataFrame) -> dict:
    """Headers and rows of the lesion table panel, as the report's first lesion table: which lesion,
    its RECIST diameters at both time points and its change in RECIST diameter. The report's labels
    (``NomogramScoreLib.report``) and numbers (``ResponseSignatureLib.formatting``), as text;
    headers nest like the report's: 'Longest diameter (mm)' over 'Baseline' and 'Follow-up'
    (Vuetify ``children``)."""
    from NomogramScoreLib import report
    from NomogramScoreLib.chart import waterfall_rows

    changes = {lesion: change for lesion, _, change in waterfall_rows(table)}
    change = (report.DIAMETER_CHANGE_TITLE, "diameter_change",
              lambda lesion: report.diameter_change_text(lesion.get("status"), changes.get(str(lesion["lesion_id"]))))
    return _panel_table(table, report.IDENTITY_COLUMNS, report.RECIST_MEASURES, change)


def volume_rows(table: pd.DataFrame) -> dict:
    """Headers and rows of the second lesion table, as the report's: volume and mean density at both
    time points, then the volume change (two narrow tables fit the panel, as they fit a page)."""
    from NomogramScoreLib import report

    change = (report.VOLUME_CHANGE_TITLE, "volume_change",
              lambda lesion: report.volume_change_text(lesion["reldelta:volume_ml"]))
    return _panel_table(table, report.IDENTITY_COLUMNS[:1], report.OTHER_MEASURES,
                        change if "reldelta:volume_ml" in table.columns else None)


def _panel_table(table: pd.DataFrame, identity, measures, change=None) -> dict:
    """{'headers', 'rows'}: the ``identity`` columns (column, title), each measure (measure, title,
    decimals) at both time points, then ``change`` (title, key, lesion -> text) if given."""
    from NomogramScoreLib.report import TIMEPOINT_HEADS, identity_texts

    columns = set(table.columns)
    identity = [(column, title) for column, title in identity if column in columns]
    headers = [_header(title, column) for column, title in identity] + _measure_headers(measures, columns)
    headers += [_header(change[0], change[1])] if change else []
    rows = []
    for lesion in table.to_dict(orient="records"):
        texts = identity_texts(lesion)
        row = {_key(column): texts[column] for column, _ in identity}
        for measure, _, digits in measures:
            for timepoint in TIMEPOINT_HEADS:
                if f"{timepoint}:{measure}" in columns:
                    row[_key(f"{timepoint}:{measure}")] = number(lesion[f"{timepoint}:{measure}"], digits)
        if change:
            row[change[1]] = change[2](lesion)
        rows.append(row)
    return {"headers": headers, "rows": rows}


def _header(title: str, column: str) -> dict:
    return {"title": title, "key": _key(column), "sortable": False}


def _measure_headers(measures, columns) -> list[dict]:
    """One header per measure with its time points as children (only those the table has)."""
    from NomogramScoreLib.report import TIMEPOINT_HEADS

    headers = []
    for measure, title, _ in measures:
        children = [_header(head, f"{timepoint}:{measure}") for timepoint, head in TIMEPOINT_HEADS.items()
                    if f"{timepoint}:{measure}" in columns]
        if children:
            headers.append({"title": title, "align": "center", "children": children})
    return headers


def recist_items(recist: Mapping[str, Any]) -> list[dict]:
    """The RECIST / volumetric / Choi result as (key, label, value) items, in the report's words."""
    from NomogramScoreLib.report import CATEGORY_NAMES, recist_rows

    items = []
    category = recist.get("recist_category")
    if not is_missing(category):
        name = CATEGORY_NAMES.get(str(category))
        items.append({"key": "recist_category", "label": "Overall response",
                      "value": f"{category} ({name})" if name else number(category)})
    return items + [{"key": key, "label": label, "value": text} for key, label, text in recist_rows(recist)]


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
    from ResponseSignatureLib.signature_features import model_extraction_params

    return model_extraction_params(signature)


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
    return [{"label": _patient_label(column), "value": _patient_value(column, row[column])}
            for column in first + list(columns) if column in row]


def _patient_label(column: str) -> str:
    """The report's label of a patient-table column (``lesion_table.column_info`` title, unit)."""
    from NomogramScoreLib.report import PATIENT_LABELS
    from ResponseSignatureLib.lesion_table import column_info

    info = column_info(column)
    if column in PATIENT_LABELS or info is None:
        return PATIENT_LABELS.get(column, column)
    return f"{info.title} ({info.unit})" if info.unit and info.unit != "%" else info.title


def _patient_value(column: str, value: Any) -> str:
    """Percentages with their sign ('+12.0 %'), other numbers with three decimals, text as it is."""
    from ResponseSignatureLib.lesion_table import column_info

    info = column_info(column)
    return change_percent(value) if info is not None and info.unit == "%" else number(value, 3)


def signature_panel(result) -> dict:
    """The signature panel: score, its reading against the cut-off, the model's name and hash."""
    from ResponseSignatureLib.formatting import score
    from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff

    signature = result.signature
    reading = read_against_cutoff(signature["score"], signature["threshold"], terms=outcome_terms(signature),
                                  show=score)
    return {"score": signature["score"], "score_text": score(signature["score"]), "class": signature["class"],
            "model": signature.get("name", ""),
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
            "reading_colour": risk["reading"]["colour"], "points": number(risk["total_points"], 0),
            "warnings": list(risk.get("warnings") or []), "svg": gauge_for(model, risk)}


def _key(column: str) -> str:
    """A column name usable as a JavaScript object key in the browser."""
    return column.replace(":", "__")


