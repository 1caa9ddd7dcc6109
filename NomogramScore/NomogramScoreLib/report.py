"""One self-contained HTML page per patient, for the tumour board: what was found, what the models
say, how sure they are, and what produced it.

The page has no external resources (inline CSS and SVG, no scripts, no web fonts) so it can be
archived, e-mailed or opened inside Slicer's web widget offline. Every piece of text that comes
from data is HTML-escaped. It prints on A4 (at most three pages for one patient): tables are
split rather than clipped, pictures scale to the page width, the full provenance record is
collapsed (``<details>``) and written beside the report as JSON (``write_report``).

Clinical wording follows the models' declared outcomes (ResponseSignatureLib.models.outcome):
"risk" only for an unfavourable outcome, and a prediction whose 95 % CI spans the cut-off is read
as indeterminate, never as low or high. Numbers are formatted by ResponseSignatureLib.formatting.

Element ids the tests (and users' own tooling) can rely on:

  #patient, #summary (#summary-recist, #summary-signature, #summary-nomogram),
  #lesions (table#lesion-table with tr.lesion-row, table#lesion-volume-table), #recist
  (#recist-category, table#recist-table), #waterfall, #signature (#signature-score,
  #signature-reading), #nomogram (#gauge with svg.risk-gauge, #nomogram-risk, #nomogram-reading,
  table#points-table, svg.nomogram-chart), #provenance (table#provenance-table: the summary;
  details#provenance-full: the whole record), #disclaimer

Sections without data say so ("not available") instead of disappearing, so a reader sees what
was not assessed.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator, Mapping

from ResponseSignatureLib.formatting import (MISSING, change_percent, ci_text, is_missing, number, percent, plain,
                                             predictor_value, quantity, score, with_ci)
from ResponseSignatureLib.models.modelfile import write_text_atomic
from ResponseSignatureLib.models.outcome import OutcomeTerms, Reading, outcome_terms, read_against_cutoff
from ResponseSignatureLib.provenance import input_sha256

from .chart import nomogram_svg, waterfall_rows, waterfall_svg
from .gauge import gauge_for
from .svg import esc, pretty_unit

DISCLAIMER = ("Research use only. This report is produced by research software that is not a medical device. "
              "It must not be used for diagnosis or treatment decisions.")

PATIENT_LABELS = {"n_lesions": "Lesions", "age": "Age", "sex": "Sex", "diagnosis": "Diagnosis"}
LOCATIONS = {"node": "lymph node"}
STATUSES = {"matched": "seen at both", "new": "new", "disappeared": "disappeared"}
# (lesion-table column, title) of the columns that say which lesion it is.
IDENTITY_COLUMNS = (("lesion_id", "Lesion"), ("location", "Location"), ("status", "Status"), ("target", "RECIST target"))
TIMEPOINT_HEADS = {"baseline": "Baseline", "followup": "Follow-up"}
DIAMETER_CHANGE_TITLE = "Change in RECIST diameter"
VOLUME_CHANGE_TITLE = "Volume change"
# (measure, title, decimals): baseline and follow-up side by side under one title.
RECIST_MEASURES = (("longest_diameter_mm", "Longest diameter (mm)", 1), ("short_axis_mm", "Short axis (mm)", 1))
OTHER_MEASURES = (("volume_ml", "Volume (ml)", 1), ("mean_hu", "Mean density (HU)", 0))
SCORE_COLUMNS = ("score", "signature_score")
RECIST_CATEGORY_KEYS = ("recist_category", "overall_response", "response", "category", "target_response")
CATEGORY_NAMES = {"CR": "complete response", "PR": "partial response", "SD": "stable disease",
                  "PD": "progressive disease", "NE": "not evaluable"}
# RECIST items: key -> (label, kind) with kind "mm", "change" (signed %), "list" or None (text as is).
RECIST_ITEMS = {
    "recist_reason": ("Why", None),
    "recist_targets": ("Target lesions", "list"),
    "baseline_sum_mm": ("Sum of target diameters at baseline", "mm"),
    "followup_sum_mm": ("Sum of target diameters at follow-up", "mm"),
    "nadir_mm": ("Nadir (smallest sum so far)", "mm"),
    "nadir_sum_mm": ("Nadir (smallest sum so far)", "mm"),
    "percent_change_from_baseline": ("Change from baseline", "change"),
    "percent_change_from_nadir": ("Change from nadir", "change"),
    "new_lesions": ("New lesions", None),
    "volumetric_change_percent": ("Volume change of the target lesions", "change"),
    "volumetric_category": ("Volumetric category (-65 % / +73 %)", None),
    "choi_category": ("Choi category", None),
}
THRESHOLD_METHODS = {"youden": "chosen by Youden's J on the training data",
                     "sens_at_spec50": "maximum sensitivity with specificity >= 50 % on the training data",
                     "fixed": "fixed in advance"}
SIGNATURE_LABELS = {"name": "Model", "version": "Version", "sha256": "SHA-256", "threshold": "Cut-off",
                    "aggregation": "Lesion aggregation"}

CSS = """
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, Helvetica, sans-serif; color: #212121;
       margin: 0 auto; max-width: 960px; padding: 16px 24px; background: #ffffff; font-size: 14px; }
header { border-bottom: 3px solid #37474f; padding-bottom: 6px; margin-bottom: 6px; }
h1 { font-size: 21px; margin: 0 0 4px 0; } h2 { font-size: 16px; margin: 18px 0 6px 0; color: #37474f;
     border-bottom: 1px solid #cfd8dc; padding-bottom: 2px; } h3 { font-size: 14px; margin: 10px 0 4px 0; }
p { margin: 4px 0; }
.banner { background: #fff3e0; border: 1px solid #ffb74d; padding: 4px 10px; font-weight: bold; }
.facts { display: flex; flex-wrap: wrap; gap: 4px 24px; margin: 4px 0; }
.facts div span { color: #616161; }
table { border-collapse: collapse; margin: 4px 0; font-size: 13px; max-width: 100%; }
th, td { border: 1px solid #cfd8dc; padding: 2px 7px; text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { background: #eceff1; font-weight: bold; } thead th { text-align: center; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { background: #f5f7f8; font-weight: normal; color: #37474f; }
.summary td { font-size: 14px; } .summary th { width: 30%; }
.big { font-size: 24px; font-weight: bold; } .muted { color: #616161; font-size: 12px; }
.na { color: #757575; font-style: italic; }
.reading { font-weight: bold; }
.row { display: flex; flex-wrap: wrap; gap: 8px 20px; align-items: flex-start; }
.gauge-box { flex: 0 1 390px; } .gauge-box svg { width: 100%; height: auto; }
.prediction { flex: 1 1 260px; min-width: 0; }
.warning { color: #b71c1c; } svg { max-width: 100%; height: auto; }
.hash { font-family: "DejaVu Sans Mono", monospace; font-size: 11px; overflow-wrap: anywhere; }
details pre { font-size: 10px; white-space: pre-wrap; overflow-wrap: anywhere; max-height: 480px; overflow: auto; }
footer { margin-top: 20px; border-top: 1px solid #cfd8dc; padding-top: 6px; font-size: 12px; color: #424242; }
@page { size: A4; margin: 12mm 11mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  table { font-size: 10.5px; } .summary td { font-size: 11.5px; } .big { font-size: 20px; }
  h2 { font-size: 14px; margin-top: 12px; break-after: avoid; }
  table, svg, .row, .figure { break-inside: avoid; }
  details pre { max-height: none; }
}
"""


# --------------------------------------------------------------------------------------------
# small pieces
# --------------------------------------------------------------------------------------------

def _td(text: str, numeric: bool = False, extra: str = "") -> str:
    css = ' class="num"' if numeric else ""
    return f"<td{css}{extra}>{esc(text)}</td>"


def _kv_table(rows: list[tuple[str, str]], table_id: str = "", css: str = "kv") -> str:
    ident = f' id="{esc(table_id)}"' if table_id else ""
    body = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in rows)
    return f'<table{ident} class="{css}">{body}</table>'


def _not_available(what: str) -> str:
    return f'<p class="na">{esc(what)} not available.</p>'


def _section(section_id: str, title: str, body: str) -> str:
    return f'<section id="{esc(section_id)}"><h2>{esc(title)}</h2>\n{body}\n</section>'


def _label(key: str) -> str:
    text = str(key).replace("_", " ").replace("followup", "follow-up").strip()
    return text[:1].upper() + text[1:]


def _reading_html(reading: Reading, element_id: str = "") -> str:
    ident = f' id="{esc(element_id)}"' if element_id else ""
    return (f'<span{ident} class="reading" data-reading="{esc(reading.kind)}" style="color: {esc(reading.colour)}">'
            f'{esc(reading.text)}</span>')


def _category_text(recist: Mapping[str, Any] | None) -> str:
    key = next((k for k in RECIST_CATEGORY_KEYS if recist and not is_missing(recist.get(k))), None)
    return str(recist[key]) if key else "NE"


def _signature_terms(signature: Mapping[str, Any]) -> OutcomeTerms:
    block = signature.get("outcome")
    return outcome_terms({"outcome": block} if isinstance(block, Mapping) else {})


def _signature_reading(signature: Mapping[str, Any]) -> Reading:
    return read_against_cutoff(float(signature["score"]), signature.get("threshold"), terms=_signature_terms(signature),
                               show=score)


# --------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------

def patient_header(patient: Mapping[str, Any]) -> str:
    """Patient id as the title plus the other given fields (no identifying data is added)."""
    patient_id = patient.get("patient_id", "unknown")
    facts = "".join(f"<div><span>{esc(PATIENT_LABELS.get(key, _label(key)))}:</span> {esc(number(value))}</div>"
                    for key, value in patient.items() if key != "patient_id")
    return (f'<header id="patient"><h1>Response assessment report — patient <span id="patient-id">{esc(patient_id)}'
            f'</span></h1><div class="banner">{esc(DISCLAIMER)}</div><div class="facts">{facts}</div></header>')


def summary_section(recist, signature, result) -> str:
    """At a glance: RECIST category, the signature and the nomogram, each with its reading."""
    rows = []
    if recist:
        category = _category_text(recist)
        reason = recist.get("recist_reason")
        rows.append(("summary-recist", "RECIST 1.1",
                     f'<strong>{esc(category)}</strong> {esc(CATEGORY_NAMES.get(category, ""))}'
                     + (f' <span class="muted">({esc(reason)})</span>' if not is_missing(reason) else "")))
    if signature and signature.get("score") is not None:
        rows.append(("summary-signature", "Radiomics signature score",
                     f'<strong>{esc(score(signature["score"]))}</strong> — {_reading_html(_signature_reading(signature))}'))
    if result:
        rows.append(("summary-nomogram", result["outcome"]["label"],
                     f'<strong>{esc(with_ci(result["risk"], result.get("ci_low"), result.get("ci_high")))}</strong> — '
                     f'{_reading_html(Reading(**result["reading"]))}'))
    if not rows:
        return _section("summary", "At a glance", _not_available("Assessment"))
    body = "".join(f'<tr id="{ident}"><th>{esc(label)}</th><td>{value}</td></tr>' for ident, label, value in rows)
    return _section("summary", "At a glance", f'<table class="kv summary">{body}</table>')


def _lesion_cells(lesion: Mapping[str, Any], measures, columns) -> str:
    cells = ""
    for measure, _, digits in measures:
        for timepoint in ("baseline", "followup"):
            column = f"{timepoint}:{measure}"
            if column in columns:
                cells += _td(number(lesion.get(column), digits), numeric=True)
    return cells


def _measure_head(measures, columns) -> tuple[str, str, int]:
    """(first header row cells, second header row cells, number of value columns) of measure pairs."""
    top, sub, count = "", "", 0
    for measure, title, _ in measures:
        present = [t for t in ("baseline", "followup") if f"{t}:{measure}" in columns]
        if present:
            top += f'<th colspan="{len(present)}">{esc(title)}</th>'
            sub += "".join(f"<th>{TIMEPOINT_HEADS[t]}</th>" for t in present)
            count += len(present)
    return top, sub, count


def identity_texts(lesion: Mapping[str, Any]) -> dict[str, str]:
    """Lesion-table column -> text of the ``IDENTITY_COLUMNS`` of one lesion (row as a mapping), as the
    report shows them (also used by the web workstation): 'lymph node', 'seen at both', 'yes'."""
    location = str(plain(lesion.get("location")) or "")
    target = plain(lesion.get("target"))
    return {"lesion_id": number(lesion.get("lesion_id")),
            "location": LOCATIONS.get(location, location) or MISSING,
            "status": STATUSES.get(str(lesion.get("status")), number(lesion.get("status"))),
            "target": number(bool(target)) if isinstance(target, (bool, int, float)) and not is_missing(target) else MISSING}


def diameter_change_text(status: Any, change: Any) -> str:
    """A lesion's change in RECIST diameter (percent, from ``chart.waterfall_rows``); 'new lesion' for a new one."""
    return "new lesion" if status == "new" else change_percent(change)


def volume_change_text(relative: Any) -> str:
    """A lesion's relative volume change (``reldelta:volume_ml``, a fraction) in percent."""
    relative = plain(relative)
    return change_percent(None if is_missing(relative) else 100.0 * float(relative))


def _identity_cells(lesion: Mapping[str, Any]) -> str:
    return "".join(_td(text) for text in identity_texts(lesion).values())


def lesion_section(lesion_table) -> str:
    """Two narrow tables that fit a printed page: the RECIST measurements with each lesion's
    diameter change, then volume, density and lesion score; lesions with errors listed below."""
    if lesion_table is None or len(lesion_table) == 0:
        return _section("lesions", "Lesions", _not_available("Lesion table"))
    columns = set(lesion_table.columns)
    changes = {lesion: change for lesion, _, change in waterfall_rows(lesion_table)}
    lesions = [{k: plain(v) for k, v in row.items()} for row in lesion_table.to_dict(orient="records")]
    identity = "".join(f'<th rowspan="2">{esc(title)}</th>' for _, title in IDENTITY_COLUMNS)
    top, sub, _ = _measure_head(RECIST_MEASURES, columns)
    rows = []
    for lesion in lesions:
        shown = diameter_change_text(lesion.get("status"), changes.get(str(lesion.get("lesion_id"))))
        rows.append(f'<tr class="lesion-row" data-lesion="{esc(lesion.get("lesion_id", ""))}">{_identity_cells(lesion)}'
                    f'{_lesion_cells(lesion, RECIST_MEASURES, columns)}{_td(shown, numeric=True)}</tr>')
    first = (f'<table id="lesion-table"><thead><tr>{identity}{top}<th rowspan="2">{DIAMETER_CHANGE_TITLE}*</th></tr>'
             f'<tr>{sub}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
             '<p class="muted">* Longest diameter; short axis for lymph nodes. RECIST 1.1 applies its thresholds to the '
             'sum over target lesions (below), not to single lesions.</p>')
    return _section("lesions", "Lesions", first + _volume_table(lesions, columns) + _lesion_errors(lesions))


def _volume_table(lesions: list[dict], columns) -> str:
    top, sub, count = _measure_head(OTHER_MEASURES, columns)
    score_column = next((c for c in SCORE_COLUMNS if c in columns), None)
    if not count and not score_column:
        return ""
    volume_change = "reldelta:volume_ml" in columns
    head = ('<th rowspan="2">Lesion</th>' + top + (f'<th rowspan="2">{VOLUME_CHANGE_TITLE}</th>' if volume_change else "")
            + ('<th rowspan="2">Lesion score</th>' if score_column else ""))
    rows = []
    for lesion in lesions:
        cells = _td(number(lesion.get("lesion_id"))) + _lesion_cells(lesion, OTHER_MEASURES, columns)
        if volume_change:
            cells += _td(volume_change_text(lesion.get("reldelta:volume_ml")), numeric=True)
        if score_column:
            cells += _td(score(lesion.get(score_column)), numeric=True)
        rows.append(f'<tr class="lesion-volume-row">{cells}</tr>')
    return (f'<table id="lesion-volume-table"><thead><tr>{head}</tr><tr>{sub}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _lesion_errors(lesions: list[dict]) -> str:
    items = [f"<li>{esc(lesion.get('lesion_id'))}: {esc(lesion['error'])}</li>" for lesion in lesions
             if not is_missing(lesion.get("error"))]
    return f'<p>Values missing for:</p><ul class="lesion-errors warning">{"".join(items)}</ul>' if items else ""


def _recist_value(value: Any, kind: str | None) -> str:
    if kind == "mm":
        return quantity(value, "mm", 1)
    if kind == "change":
        return change_percent(value)
    if kind == "list":
        return ", ".join(part.strip() for part in str(value).split(",") if part.strip()) or MISSING
    return number(value)


def recist_section(recist: Mapping[str, Any] | None) -> str:
    """RECIST 1.1: the category in full words, why, then the sums and changes with their units."""
    if not recist:
        return _section("recist", "RECIST 1.1", _not_available("RECIST assessment"))
    category = _category_text(recist)
    rows = [(label, text) for _, label, text in recist_rows(recist)]
    body = (f'<p>Overall response: <span id="recist-category" class="big">{esc(category)}</span> '
            f'<span class="muted">{esc(CATEGORY_NAMES.get(category, ""))}</span></p>' + _kv_table(rows, "recist-table"))
    return _section("recist", "RECIST 1.1", body)


def recist_rows(recist: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(key, label, text) of a RECIST result's items other than the category, in the report's order
    and words (also used by the web workstation): known items first, then any others."""
    category_keys = set(RECIST_CATEGORY_KEYS)
    rows = [(key, RECIST_ITEMS[key][0], _recist_value(recist[key], RECIST_ITEMS[key][1]))
            for key in RECIST_ITEMS if key in recist]
    rows += [(key, _label(key), number(plain(value))) for key, value in recist.items()
             if key not in RECIST_ITEMS and key not in category_keys and not isinstance(value, (dict, list, tuple))]
    return rows


def waterfall_section(lesion_table) -> str:
    """Waterfall plot of every lesion's diameter change (new lesions marked)."""
    if not waterfall_rows(lesion_table):
        return _section("waterfall", "Waterfall plot", _not_available("Per-lesion diameter change"))
    return _section("waterfall", "Waterfall plot", f'<div class="figure">{waterfall_svg(lesion_table)}</div>')


def signature_section(signature: Mapping[str, Any] | None) -> str:
    """Radiomics signature: score, its reading against the model's cut-off, model identity."""
    if not signature or signature.get("score") is None:
        return _section("signature", "Radiomics signature", _not_available("Signature score"))
    terms = _signature_terms(signature)
    reading = _signature_reading(signature)
    details = [(SIGNATURE_LABELS.get(key, _label(key)), score(value) if key == "threshold" else number(value))
               for key, value in signature.items()
               if key not in ("score", "class", "label", "outcome") and not isinstance(value, (dict, list, tuple))]
    body = (f'<p>Score <span id="signature-score" class="big">{esc(score(signature["score"]))}</span> '
            f'(0 to 1; probability of {esc(terms.positive_means)}) — {_reading_html(reading, "signature-reading")}</p>'
            f'<p class="muted">{esc(terms.direction_note)} No confidence interval is available for this score.</p>'
            + _kv_table(details, "signature-table"))
    return _section("signature", "Radiomics signature", body)


def _points_rows(result: Mapping[str, Any], model: Mapping[str, Any] | None) -> str:
    declared = {p["name"]: p for p in (model or {}).get("model", {}).get("predictors", [])}
    rows = []
    for name, points in result["points"].items():
        predictor = declared.get(name, {})
        value = plain(result.get("values", {}).get(name))
        unit = pretty_unit(predictor.get("unit"))
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        shown = f"{predictor_value(value)} {unit}".strip() if numeric else predictor_value(value)
        rows.append(f'<tr class="points-row"><td>{esc(predictor.get("label", name))}</td><td>{esc(shown)}</td>'
                    f'{_td(number(points, 1), numeric=True)}</tr>')
    rows.append(f'<tr><th colspan="2">Total points</th><td class="num" id="total-points">'
                f'{esc(number(result["total_points"], 1))}</td></tr>')
    return "".join(rows)


def nomogram_section(result: Mapping[str, Any] | None, model: Mapping[str, Any] | None) -> str:
    """The gauge beside the prediction (value, CI, reading, points per predictor), then the chart."""
    if not result:
        return _section("nomogram", "Nomogram", _not_available("Nomogram prediction"))
    model = model or {}
    terms = outcome_terms(model)
    reading = Reading(**result["reading"])
    threshold = model.get("threshold") or {}
    method = THRESHOLD_METHODS.get(threshold.get("method"), threshold.get("method"))
    method = f", {method}" if method else ""
    gauge = gauge_for(model, result) if model else ""
    prediction = (f'<p>{esc(result["outcome"]["label"])}: <strong id="nomogram-risk" class="big">'
                  f'{esc(percent(result["risk"]))}</strong> ({esc(ci_text(result["ci_low"], result["ci_high"]))})</p>'
                  f'<p>{_reading_html(reading, "nomogram-reading")}</p>'
                  f'<p class="muted">{esc(terms.direction_note)}</p>')
    warnings = "".join(f'<p class="warning">⚠ {esc(w)}</p>' for w in result.get("warnings", []))
    table = (f'<table id="points-table"><thead><tr><th>Predictor</th><th>Value</th><th>Points</th></tr></thead>'
             f'<tbody>{_points_rows(result, model)}</tbody></table>')
    note = (f'<p class="muted">Gauge: diamond and needle = the predicted probability; dark bar with end caps = its '
            f'95 % CI (delta method on the linear predictor, {esc(number(result["linear_predictor"], 3))} ± '
            f'{esc(number(result.get("se_linear_predictor", 0.0), 3))} SE); dashed line with triangle = the model\'s '
            f'cut-off ({esc(percent(result["threshold"]) if result.get("threshold") is not None else MISSING)}{esc(method)}).</p>')
    row = (f'<div class="row"><div id="gauge" class="gauge-box">{gauge}</div>'
           f'<div class="prediction">{prediction}{warnings}{table}{note}</div></div>')
    chart = f'<div class="figure">{nomogram_svg(model, result)}</div>' if model else ""
    return _section("nomogram", "Nomogram prediction", row + chart)


# --------------------------------------------------------------------------------------------
# provenance: a short summary on the page, the whole record collapsed and in a JSON file
# --------------------------------------------------------------------------------------------

def _walk(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(path of keys, value) for every entry of nested mappings."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield path + (str(key),), value
            yield from _walk(value, path + (str(key),))


def input_files(provenance: Mapping[str, Any]) -> list[dict]:
    """The input files a provenance names (``inputs`` mappings, ``*_table`` paths) with their
    SHA-256: the recorded one, else the file's hash now (``hashed_at`` says which)."""
    found, seen = [], set()
    for path, value in _walk(provenance):
        key = path[-1]
        inside_inputs = len(path) >= 2 and path[-2] == "inputs"
        if not (inside_inputs or key.endswith("_table")) or isinstance(value, (list, tuple)):
            continue
        recorded = value.get("sha256") if isinstance(value, Mapping) else None
        location = value.get("path") if isinstance(value, Mapping) else value
        if not isinstance(location, str) or location in seen:
            continue
        seen.add(location)
        entry = {"input": _label(key), "path": location, "sha256": recorded, "hashed_at": "recorded by the pipeline"}
        if recorded is None:
            exists = Path(location).exists()
            entry.update(sha256=input_sha256(location) if exists else None,
                         hashed_at="when the report was written" if exists else "file not found")
        found.append(entry)
    return found


def _model_identities(provenance: Mapping[str, Any], signature, model) -> list[dict]:
    """Every model named in the inputs, once (by SHA-256): label, name, version, sha256."""
    candidates = [("Signature model", signature or {}), ("Nomogram model", model or {})]
    candidates += [(_label(path[-1]), value) for path, value in _walk(provenance) if isinstance(value, Mapping)]
    identities, seen = [], set()
    for label, item in candidates:
        digest = item.get("sha256") if isinstance(item, Mapping) else None
        if isinstance(digest, str) and item.get("name") and digest not in seen:
            seen.add(digest)
            identities.append({"model": label, "name": item["name"], "version": item.get("version"), "sha256": digest})
    return identities


def _software(provenance: Mapping[str, Any]) -> str:
    distinct = []
    for _, value in _walk({"": provenance}):
        if isinstance(value, Mapping) and isinstance(value.get("versions"), Mapping) and value["versions"] not in distinct:
            distinct.append(value["versions"])
    return "; ".join(", ".join(f"{name} {version}" for name, version in versions.items()) for versions in distinct)


def _settings(provenance: Mapping[str, Any]) -> tuple[str, str]:
    """(preset name or 'custom parameters', settings SHA-256) found anywhere in the provenance."""
    preset = next((v for p, v in _walk(provenance) if p[-1] == "preset" and isinstance(v, str)), None)
    digest = next((v for p, v in _walk(provenance) if p[-1] in ("extraction_settings_sha256", "settings_hash")
                   and isinstance(v, str) and len(v) >= 16), None)
    described = f"preset '{preset}'" if preset else "custom parameters (see the full record)"
    return described, digest or "not recorded"


def provenance_record(provenance, signature=None, model=None) -> dict:
    """The whole record written beside the report: the pipeline's provenance, the models and the
    input files with their hashes."""
    return {"provenance": dict(provenance or {}), "models": _model_identities(provenance or {}, signature, model),
            "input_files": input_files(provenance or {})}


def provenance_section(record: Mapping[str, Any], sidecar: str | None = None) -> str:
    """Short summary (software, extraction settings and hash, models and hashes, input files and
    hashes), then the whole record collapsed."""
    provenance = record["provenance"]
    if not provenance and not record["models"]:
        return _section("provenance", "Provenance", _not_available("Provenance"))
    preset, settings_digest = _settings(provenance)
    rows = [("Results computed (UTC)", esc(number(provenance.get("created_utc")))),
            ("Software", esc(_software(provenance) or MISSING)),
            ("Extraction settings", f'{esc(preset)}<br><span class="hash">SHA-256 {esc(settings_digest)}</span>')]
    rows += [(m["model"], f'{esc(m["name"])}, version {esc(number(m["version"]))}<br>'
                          f'<span class="hash">SHA-256 {esc(m["sha256"])}</span>') for m in record["models"]]
    rows += [(f["input"], f'{esc(Path(f["path"]).name)} <span class="muted">({esc(f["hashed_at"])})</span><br>'
                          f'<span class="hash">SHA-256 {esc(f["sha256"] or MISSING)}</span>') for f in record["input_files"]]
    table = "".join(f"<tr><th>{esc(label)}</th><td>{value}</td></tr>" for label, value in rows)
    where = f" and in {esc(sidecar)} beside this report" if sidecar else ""
    full = json.dumps(record, indent=1, sort_keys=True, ensure_ascii=False, default=str)
    details = (f'<details id="provenance-full"><summary>Full provenance record (here{where})</summary>'
               f'<pre>{esc(full)}</pre></details>')
    return _section("provenance", "Provenance", f'<table id="provenance-table" class="kv">{table}</table>{details}')


# --------------------------------------------------------------------------------------------
# page
# --------------------------------------------------------------------------------------------

def build_report(patient: Mapping[str, Any], lesion_table=None, recist: Mapping[str, Any] | None = None,
                 signature: Mapping[str, Any] | None = None, nomogram_result: Mapping[str, Any] | None = None,
                 model: Mapping[str, Any] | None = None, provenance: Mapping[str, Any] | None = None,
                 record: Mapping[str, Any] | None = None, sidecar: str | None = None) -> str:
    """The whole report as one HTML string (UTF-8, inline CSS/SVG, no scripts, no external URLs).

    ``signature``: score, threshold, the model's identity (name, version, sha256) and its
    ``outcome`` block; ``nomogram_result``: ``nomogram.score_patient`` of ``model``; ``record``:
    ``provenance_record`` (made from ``provenance`` when not given); ``sidecar``: the name of the
    JSON file holding the record, mentioned on the page.
    """
    record = record or provenance_record(provenance, signature, model)
    title = f"Response report {patient.get('patient_id', '')}".strip()
    body = "\n".join([
        patient_header(patient),
        summary_section(recist, signature, nomogram_result),
        lesion_section(lesion_table),
        recist_section(recist),
        waterfall_section(lesion_table),
        signature_section(signature),
        nomogram_section(nomogram_result, model),
        provenance_section(record, sidecar),
        f'<footer id="disclaimer">{esc(DISCLAIMER)}</footer>',
    ])
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>{esc(title)}</title><style>{CSS}</style></head>\n<body>\n{body}\n</body></html>\n')


def sidecar_path(report_path: str | Path) -> Path:
    """Where the full provenance of a report is written: ``<report>.provenance.json`` beside it."""
    report_path = Path(report_path)
    return report_path.with_name(report_path.name + ".provenance.json")


def write_report(patient: Mapping[str, Any], lesion_table=None, recist=None, signature=None, nomogram_result=None,
                 model=None, provenance=None, path: str | Path = "report.html") -> Path:
    """``build_report`` written atomically (temp file + rename) to ``path``, with the full
    provenance record as JSON in ``sidecar_path(path)``; returns the report's path."""
    path = Path(path)
    record = provenance_record(provenance, signature, model)
    sidecar = sidecar_path(path)
    write_text_atomic(sidecar, json.dumps(record, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
    write_text_atomic(path, build_report(patient, lesion_table, recist, signature, nomogram_result, model, provenance,
                                         record=record, sidecar=sidecar.name))
    return path
