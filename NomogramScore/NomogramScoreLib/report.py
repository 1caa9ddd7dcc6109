"""One self-contained HTML page per patient: lesions, RECIST, waterfall, signature, nomogram, gauge.

The page has no external resources (inline CSS and SVG, no scripts, no web fonts) so it can be
archived, e-mailed or opened inside Slicer's web widget offline. Every piece of text that comes
from data is HTML-escaped. Element ids the tests (and users' own tooling) can rely on:

  #patient, #lesions (table#lesion-table, tr.lesion-row), #recist (#recist-category),
  #waterfall, #signature (#signature-score), #nomogram (table#points-table, svg.nomogram-chart),
  #gauge (svg.risk-gauge), #provenance (table#provenance-table), #disclaimer

Sections without data say so ("not available") instead of disappearing, so a reader sees what
was not assessed.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from ResponseSignatureLib.models.modelfile import write_text_atomic

from .chart import lesion_changes, nomogram_svg, waterfall_svg
from .gauge import risk_gauge_svg
from .svg import esc, percent, pretty_unit, short_number

DISCLAIMER = ("Research use only. This report is produced by research software that is not a medical device. "
              "It must not be used for diagnosis or treatment decisions.")

LESION_COLUMNS = [
    ("lesion_id", "Lesion"), ("location", "Location"), ("status", "Status"), ("target", "Target"),
    ("baseline:longest_diameter_mm", "Baseline LD (mm)"), ("followup:longest_diameter_mm", "Follow-up LD (mm)"),
    ("change_pct", "RECIST diameter change (%)"),
    ("baseline:short_axis_mm", "Baseline SA (mm)"), ("followup:short_axis_mm", "Follow-up SA (mm)"),
    ("baseline:volume_ml", "Baseline volume (ml)"), ("followup:volume_ml", "Follow-up volume (ml)"),
    ("baseline:mean_hu", "Baseline mean HU"), ("followup:mean_hu", "Follow-up mean HU"),
    ("score", "Lesion score"), ("signature_score", "Lesion score"), ("error", "Error"),
]
RECIST_CATEGORY_KEYS = ("overall_response", "response", "category", "recist_category", "target_response")

CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #212121;
       margin: 0 auto; max-width: 1000px; padding: 16px 24px; background: #ffffff; font-size: 14px; }
header { border-bottom: 3px solid #37474f; padding-bottom: 8px; margin-bottom: 8px; }
h1 { font-size: 22px; margin: 0 0 4px 0; } h2 { font-size: 17px; margin: 22px 0 8px 0; color: #37474f;
     border-bottom: 1px solid #cfd8dc; padding-bottom: 3px; }
.banner { background: #fff3e0; border: 1px solid #ffb74d; padding: 6px 10px; font-weight: bold; }
.facts { display: flex; flex-wrap: wrap; gap: 6px 24px; margin: 6px 0; }
.facts div span { color: #616161; }
table { border-collapse: collapse; margin: 4px 0; font-size: 13px; }
th, td { border: 1px solid #cfd8dc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eceff1; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.big { font-size: 26px; font-weight: bold; } .muted { color: #616161; } .na { color: #757575; font-style: italic; }
.pill { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #ffffff; font-weight: bold; }
.row { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
.warning { color: #b71c1c; } svg { max-width: 100%; height: auto; }
footer { margin-top: 28px; border-top: 1px solid #cfd8dc; padding-top: 8px; font-size: 12px; color: #424242; }
@media print { body { max-width: none; } section { break-inside: avoid; } }
"""


def fmt(value: Any, digits: int = 1) -> str:
    """Table cell text: floats with ``digits`` decimals, missing as an en dash, booleans yes/no."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        return f"{value:.{digits}f}" if abs(value) >= 10 ** -digits or value == 0 else f"{value:.3g}"
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cell(value: Any, digits: int = 1) -> str:
    css = ' class="num"' if _is_number(value) else ""
    return f"<td{css}>{esc(fmt(value, digits))}</td>"


def _key_value_table(items: Mapping[str, Any], table_id: str = "", digits: int = 3) -> str:
    rows = "".join(f"<tr><th>{esc(key)}</th>{_cell(value, digits)}</tr>" for key, value in items.items())
    ident = f' id="{esc(table_id)}"' if table_id else ""
    return f"<table{ident}>{rows}</table>"


def _not_available(what: str) -> str:
    return f'<p class="na">{esc(what)} not available.</p>'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>\n{body}\n</section>'


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------

def patient_header(patient: Mapping[str, Any]) -> str:
    """Patient id as the title plus the other given fields (no identifying data is added)."""
    patient_id = patient.get("patient_id", "unknown")
    facts = "".join(f"<div><span>{esc(key.replace('_', ' '))}:</span> {esc(fmt(value))}</div>"
                    for key, value in patient.items() if key != "patient_id")
    return (f'<header id="patient"><h1>Response assessment report — patient <span id="patient-id">{esc(patient_id)}'
            f'</span></h1><div class="banner">{esc(DISCLAIMER)}</div><div class="facts">{facts}</div></header>')


def lesion_section(lesion_table) -> str:
    """Per-lesion table (known columns in a fixed order) with the diameter change computed."""
    if lesion_table is None or len(lesion_table) == 0:
        return _section("lesions", "Lesions", _not_available("Lesion table"))
    table = lesion_table.copy()
    if "change_pct" not in table.columns:
        changes = dict(lesion_changes(table))
        if changes and "lesion_id" in table.columns:
            table["change_pct"] = [changes.get(str(i)) for i in table["lesion_id"]]
    columns, seen = [], set()
    for column, title in LESION_COLUMNS:
        if column in table.columns and title not in seen:
            columns.append((column, title))
            seen.add(title)
    if not columns:
        columns = [(c, c) for c in list(table.columns)[:8]]
    head = "".join(f"<th>{esc(title)}</th>" for _, title in columns)
    rows = []
    for _, row in table.iterrows():
        lesion = esc(row.get("lesion_id", ""))
        cells = "".join(_cell(_plain(row[c])) for c, _ in columns)
        rows.append(f'<tr class="lesion-row" data-lesion="{lesion}">{cells}</tr>')
    body = f'<table id="lesion-table"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    return _section("lesions", "Lesions", body)


def _plain(value: Any) -> Any:
    """numpy scalars -> Python numbers so formatting and number detection work."""
    return value.item() if hasattr(value, "item") and not isinstance(value, (str, bytes)) else value


def recist_section(recist: Mapping[str, Any] | None) -> str:
    """RECIST 1.1 summary: the category prominently, then every other scalar item."""
    if not recist:
        return _section("recist", "RECIST 1.1", _not_available("RECIST assessment"))
    key = next((k for k in RECIST_CATEGORY_KEYS if recist.get(k) not in (None, "")), None)
    category = recist.get(key) if key else "NE"
    others = {k.replace("_", " "): _plain(v) for k, v in recist.items()
              if k != key and not isinstance(v, (dict, list, tuple))}
    body = (f'<p>Overall response: <span id="recist-category" class="big">{esc(category)}</span></p>'
            + _key_value_table(others, "recist-table", digits=1))
    return _section("recist", "RECIST 1.1", body)


def waterfall_section(lesion_table) -> str:
    """Waterfall plot of per-lesion diameter change."""
    if lesion_table is None or not lesion_changes(lesion_table):
        return _section("waterfall", "Waterfall plot", _not_available("Per-lesion diameter change"))
    note = ('<p class="muted">Per-lesion bars are descriptive; RECIST 1.1 applies the −30 % / +20 % thresholds '
            'to the sum of target-lesion diameters.</p>')
    return _section("waterfall", "Waterfall plot", waterfall_svg(lesion_table) + note)


def signature_section(signature: Mapping[str, Any] | None) -> str:
    """Radiomics signature: score, class against the model's threshold, model identity."""
    if not signature or signature.get("score") is None:
        return _section("signature", "Radiomics signature", _not_available("Signature score"))
    score = float(signature["score"])
    threshold = signature.get("threshold")
    label = signature.get("class") or signature.get("label")
    if label is None and threshold is not None:
        label = "high risk" if score >= float(threshold) else "low risk"
    details = {k.replace("_", " "): _plain(v) for k, v in signature.items()
               if k not in ("score", "class", "label") and not isinstance(v, (dict, list, tuple))}
    body = (f'<p>Score <span id="signature-score" class="big">{score:.3f}</span> '
            f'<span id="signature-class">{esc(label or "")}</span></p>' + _key_value_table(details, "signature-table"))
    return _section("signature", "Radiomics signature", body)


def _points_rows(result: Mapping[str, Any], model: Mapping[str, Any] | None) -> str:
    declared = {p["name"]: p for p in (model or {}).get("model", {}).get("predictors", [])}
    rows = []
    for name, points in result["points"].items():
        predictor = declared.get(name, {})
        value = result.get("values", {}).get(name)
        unit = pretty_unit(predictor.get("unit"))
        shown = f"{short_number(value)} {unit}".strip() if _is_number(value) else fmt(value)
        rows.append(f'<tr class="points-row"><td>{esc(predictor.get("label", name))}</td><td>{esc(shown)}</td>'
                    f'<td class="num">{points:.1f}</td></tr>')
    rows.append(f'<tr><th colspan="2">Total points</th><td class="num" id="total-points">{result["total_points"]:.1f}</td></tr>')
    return "".join(rows)


def nomogram_section(result: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> str:
    """Points per predictor, the prediction with its CI, warnings, and the nomogram chart."""
    if not result:
        return _section("nomogram", "Nomogram", _not_available("Nomogram prediction"))
    outcome = result.get("outcome", {}).get("label") or "Predicted risk"
    table = (f'<table id="points-table"><thead><tr><th>Predictor</th><th>Value</th><th>Points</th></tr></thead>'
             f'<tbody>{_points_rows(result, model)}</tbody></table>')
    prediction = (f'<p>{esc(outcome)}: <strong id="nomogram-risk">{esc(percent(result["risk"]))}</strong> '
                  f'(95 % CI {esc(percent(result["ci_low"]))} – {esc(percent(result["ci_high"]))}), '
                  f'band <strong>{esc(result.get("band") or "–")}</strong>; linear predictor '
                  f'{result["linear_predictor"]:.3f} ± {result.get("se_linear_predictor", 0.0):.3f} (SE).</p>')
    warnings = "".join(f'<p class="warning">⚠ {esc(w)}</p>' for w in result.get("warnings", []))
    chart = nomogram_svg(model, result) if model else ""
    return _section("nomogram", "Nomogram", table + prediction + warnings + chart)


def gauge_section(result: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> str:
    """The risk gauge with the model's bands and decision threshold."""
    if not result:
        return _section("gauge", "Risk gauge", _not_available("Risk estimate"))
    content = (model or {}).get("model", {})
    svg = risk_gauge_svg(result["risk"], result.get("ci_low"), result.get("ci_high"), bands=content.get("risk_bands"),
                         title=result.get("outcome", {}).get("label", ""), threshold=result.get("threshold"))
    note = ('<p class="muted">The needle shows the predicted risk of the outcome event; the dark arc its 95 % '
            'confidence interval (delta method on the linear predictor); the black tick the decision cut-off.</p>')
    return _section("gauge", "Risk gauge", f'<div class="row"><div>{svg}</div><div>{note}</div></div>')


def _flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat[name] = ", ".join(str(v) for v in value)
        else:
            flat[name] = _plain(value)
    return flat


def provenance_section(provenance: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> str:
    """Versions, settings hash, model identity (name, version, kind, sha256) and anything else given."""
    items = _flatten(dict(provenance or {}))
    if model:
        items.update({"nomogram model.name": model.get("name"), "nomogram model.version": model.get("version"),
                      "nomogram model.kind": model.get("kind"), "nomogram model.sha256": model.get("sha256")})
    if not items:
        return _section("provenance", "Provenance", _not_available("Provenance"))
    rows = "".join(f"<tr><th>{esc(k)}</th><td>{esc(fmt(v, 6))}</td></tr>" for k, v in items.items())
    return _section("provenance", "Provenance", f'<table id="provenance-table">{rows}</table>')


# --------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------

def build_report(patient: Mapping[str, Any], lesion_table=None, recist: Mapping[str, Any] | None = None,
                 signature: Mapping[str, Any] | None = None, nomogram_result: Mapping[str, Any] | None = None,
                 model: Mapping[str, Any] | None = None, provenance: Mapping[str, Any] | None = None) -> str:
    """The whole report as one HTML string (UTF-8, inline CSS/SVG, no scripts, no external URLs)."""
    title = f"Response report {patient.get('patient_id', '')}".strip()
    body = "\n".join([
        patient_header(patient),
        lesion_section(lesion_table),
        recist_section(recist),
        waterfall_section(lesion_table),
        signature_section(signature),
        gauge_section(nomogram_result, model),
        nomogram_section(nomogram_result, model),
        provenance_section(provenance, model),
        f'<footer id="disclaimer">{esc(DISCLAIMER)}</footer>',
    ])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n')


def write_report(patient: Mapping[str, Any], lesion_table=None, recist=None, signature=None, nomogram_result=None,
                 model=None, provenance=None, path: str | Path = "report.html") -> Path:
    """``build_report`` written atomically (temp file + rename) to ``path``; returns the path."""
    path = Path(path)
    write_text_atomic(path, build_report(patient, lesion_table, recist, signature, nomogram_result, model, provenance))
    return path
