"""Command line of the risk stage: ``nomogram train|score|evaluate|report`` and ``report``.

  radiomics-response nomogram train --table patients.csv --outcome no_benefit_6m \\
      --predictors signature_score albumin lymphocytes cea stage --units albumin=g/L cea=ng/mL \\
      --categorical stage --log cea --out nomogram.json
  radiomics-response nomogram train --kind cox --table patients.csv --time-col os_months \\
      --event-col death --times 12 24 --time-unit months --predictors ... --out cox.json
  radiomics-response nomogram score --model nomogram.json --clinical signature_score=0.6 \\
      albumin="3.4 g/dL" lymphocytes=1.1 cea=42 stage=IV [--gauge gauge.svg --chart chart.svg]
  radiomics-response nomogram score --model nomogram.json --table patients.csv --out scores.csv
  radiomics-response nomogram evaluate --model nomogram.json --table validation.csv --outcome y --out m.json
  radiomics-response report --patient P001 --patients patients.csv [--lesions lesions.csv]
      [--signature-model M.json] [--nomogram-model N.json] [--clinical k=v ...] --out report.html

(``nomogram report`` is the same as ``report``.) Each handler returns an exit code; errors of this
project (InputError, ModelFileError) are turned into a one-line message by the dispatcher.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from ResponseSignatureLib.errors import InputError

from .clinical import check_variable_names

RECIST_KEYS = ("recist_category", "recist_reason", "recist_targets", "baseline_sum_mm", "followup_sum_mm", "nadir_mm",
               "percent_change_from_baseline", "percent_change_from_nadir", "volumetric_change_percent",
               "volumetric_category", "choi_category")


def add_subcommands(subparsers) -> None:
    """Add ``nomogram`` (train, score, evaluate, report) and the top-level ``report``."""
    nomogram = subparsers.add_parser("nomogram", help="train, apply and evaluate radiomics + clinical nomograms")
    inner = nomogram.add_subparsers(dest="nomogram_command", required=True, metavar="ACTION")
    _add_train(inner)
    _add_score(inner)
    _add_evaluate(inner)
    _add_report(inner)
    _add_report(subparsers)


def _add_train(subparsers) -> None:
    from ResponseSignatureLib.models.cli import add_outcome_arguments

    p = subparsers.add_parser("train", help="fit a logistic or Cox nomogram and save it as a JSON model file")
    p.add_argument("--table", required=True, help="patient table CSV")
    p.add_argument("--kind", default="logistic", choices=["logistic", "cox"])
    p.add_argument("--outcome", help="logistic: 0/1 outcome column (1 = the outcome whose probability is shown)")
    p.add_argument("--time-col", help="Cox: follow-up time column")
    p.add_argument("--event-col", help="Cox: event column (1 = event, 0 = censored)")
    p.add_argument("--times", type=float, nargs="+", help="Cox: times at which the baseline survival is stored")
    p.add_argument("--time", type=float, help="Cox: time whose risk the gauge shows (default: first of --times)")
    p.add_argument("--time-unit", default="", help="Cox: unit of the times, e.g. months")
    p.add_argument("--predictors", required=True, nargs="+", help="predictor columns (the radiomics score is 'signature_score')")
    p.add_argument("--units", nargs="*", default=[], metavar="NAME=UNIT", help="unit of each continuous predictor")
    p.add_argument("--labels", nargs="*", default=[], metavar="NAME=LABEL", help="display label of predictors")
    p.add_argument("--categorical", nargs="*", default=[], metavar="NAME", help="predictors to treat as categorical")
    p.add_argument("--log", nargs="*", default=[], metavar="NAME", help="continuous predictors entered as ln(x)")
    add_outcome_arguments(p)  # --outcome-label, --outcome-unfavourable / --outcome-favourable
    p.add_argument("--threshold-method", default="youden", choices=["youden", "fixed", "sens_at_spec50"])
    p.add_argument("--name", default="nomogram")
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--out", required=True, type=Path, help="model file to write (.json)")
    p.set_defaults(func=run_train, output_files=("out",))


def _add_score(subparsers) -> None:
    p = subparsers.add_parser("score", help="probability with 95 %% CI, its reading and points for one patient or a table")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--clinical", nargs="*", default=[], metavar="NAME=VALUE", help='values, e.g. albumin="3.4 g/dL"')
    p.add_argument("--table", type=Path, help="score every row of this CSV instead")
    p.add_argument("--out", type=Path, help="with --table: CSV to write; else: JSON of the result")
    p.add_argument("--gauge", type=Path, help="write the risk gauge SVG here (single patient)")
    p.add_argument("--chart", type=Path, help="write the nomogram SVG with the patient marked (single patient)")
    p.set_defaults(func=run_score, output_files=("out", "gauge", "chart"))


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="C-index / AUC, calibration and decision curve on a table")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--table", required=True, type=Path)
    p.add_argument("--outcome", help="logistic: 0/1 outcome column")
    p.add_argument("--time-col", help="Cox: follow-up time column")
    p.add_argument("--event-col", help="Cox: event column")
    p.add_argument("--out", type=Path, help="metrics JSON to write (printed otherwise)")
    p.set_defaults(func=run_evaluate, output_files=("out",))


def _add_report(subparsers) -> None:
    p = subparsers.add_parser("report", help="one self-contained HTML report for one patient")
    p.add_argument("--patient", required=True, help="patient_id of the patient")
    p.add_argument("--patients", required=True, type=Path, help="patient table CSV (patient_id, RECIST, scores, clinical)")
    p.add_argument("--lesions", type=Path, help="lesion table CSV (rows of this patient are shown)")
    p.add_argument("--signature-model", type=Path, help="signature model file (identity and threshold in the report)")
    p.add_argument("--nomogram-model", type=Path, help="nomogram model file")
    p.add_argument("--clinical", nargs="*", default=[], metavar="NAME=VALUE", help="override/add clinical values")
    p.add_argument("--out", required=True, type=Path, help="HTML file to write")
    p.set_defaults(func=run_report, output_files=("out",))


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------

def parse_assignments(items, what: str = "--clinical") -> dict:
    """["albumin=3.4 g/dL", "stage=IV"] -> {"albumin": "3.4 g/dL", "stage": "IV"}."""
    values = {}
    for item in items or []:
        name, sep, value = str(item).partition("=")
        if not sep or not name.strip():
            raise InputError(f"{what} takes NAME=VALUE, got {item!r}.")
        values[name.strip()] = value.strip()
    return values


def _predictor_specs(args) -> list[dict]:
    units, labels = parse_assignments(args.units, "--units"), parse_assignments(args.labels, "--labels")
    specs = []
    for name in args.predictors:
        spec = {"name": name, "label": labels.get(name, name)}
        if name in args.categorical:
            spec["type"] = "categorical"
        else:
            spec.update({"unit": units.get(name, ""), "transform": "log" if name in args.log else None})
        specs.append(spec)
    return specs


def _read_csv(path: Path):
    from ResponseSignatureLib.tableio import read_table

    return read_table(path)


def _print_result(result: dict, model: dict) -> None:
    from ResponseSignatureLib.formatting import number, predictor_value, with_ci

    from .nomogram import predictors
    from .svg import pretty_unit

    print(f"{result['outcome']['label']}: {with_ci(result['risk'], result['ci_low'], result['ci_high'])}")
    print(result["reading"]["text"])
    for predictor in predictors(model):
        name = predictor["name"]
        value = f"{predictor_value(result['values'][name])} {pretty_unit(predictor.get('unit'))}".strip()
        print(f"  {predictor.get('label', name):<24} {value:>14}  {number(result['points'][name], 1):>6} points")
    print(f"  {'Total':<24} {'':>14}  {number(result['total_points'], 1):>6} points")
    for warning in result["warnings"]:
        print(f"warning: {warning}")


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------

def run_train(args: argparse.Namespace) -> int:
    """Handler of ``nomogram train``."""
    from ResponseSignatureLib.models.modelfile import save_model

    from .training import train_nomogram

    doc = train_nomogram(_read_csv(args.table), args.outcome, _predictor_specs(args), kind=args.kind,
                         time_col=args.time_col, event_col=args.event_col, times=args.times, time=args.time,
                         time_unit=args.time_unit, name=args.name, version=args.version,
                         outcome_label=args.outcome_label, outcome_unfavourable=args.outcome_unfavourable,
                         threshold_method=args.threshold_method,
                         model_card={"training_table": str(args.table)})
    doc = save_model(doc, args.out)
    performance = doc["model_card"]["training_performance"]
    shown = {k: performance[k] for k in ("n", "n_events", "auc", "c_index") if k in performance}
    print(f"Nomogram '{doc['name']}' ({doc['kind']}) written to {args.out}; training {shown}; "
          f"cut-off {doc['threshold']['value']:.3f} ({doc['threshold']['method']}); sha256 {doc['sha256'][:12]}...")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Handler of ``nomogram score``: one patient (--clinical) or every row of --table."""
    from ResponseSignatureLib.models.modelfile import load_model, write_text_atomic

    from . import nomogram as nm

    model = load_model(args.model)
    if args.table:
        from ResponseSignatureLib.tableio import write_table

        from .training import predict_table

        table = _read_csv(args.table)
        scores = predict_table(model, table)
        if "patient_id" in table.columns:
            scores.insert(0, "patient_id", table["patient_id"].to_numpy())
        out = args.out or args.table.with_name(args.table.stem + "_nomogram.csv")
        write_table(scores, out, {"model": {"name": model["name"], "version": model["version"], "sha256": model["sha256"]}})
        print(f"{len(scores)} patients scored: {out}")
        return 0
    values = parse_assignments(args.clinical)
    check_variable_names(model, values)
    result = nm.score_patient(model, values)
    _print_result(result, model)
    if args.out:
        write_text_atomic(args.out, json.dumps(result, indent=2, sort_keys=True, default=str) + "\n")
    if args.gauge:
        from .gauge import gauge_for

        write_text_atomic(args.gauge, gauge_for(model, result))
    if args.chart:
        from .chart import nomogram_svg

        write_text_atomic(args.chart, nomogram_svg(model, result))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    """Handler of ``nomogram evaluate``."""
    from ResponseSignatureLib.models.modelfile import load_model, write_text_atomic

    from .training import evaluate_nomogram

    model = load_model(args.model)
    metrics = evaluate_nomogram(model, _read_csv(args.table), outcome=args.outcome, time_col=args.time_col,
                                event_col=args.event_col)
    metrics["model"] = {"name": model["name"], "version": model["version"], "sha256": model["sha256"]}
    text = json.dumps(metrics, indent=2, sort_keys=True, default=str) + "\n"
    if args.out:
        write_text_atomic(args.out, text)
        headline = {k: metrics[k] for k in ("n", "n_events", "auc", "c_index") if k in metrics}
        print(f"{headline} -> {args.out}")
    else:
        print(text)
    return 0


def _patient_row(table, patient_id: str) -> dict:
    if "patient_id" not in table.columns:
        raise InputError("The patient table has no 'patient_id' column.")
    rows = table[table["patient_id"].astype(str) == str(patient_id)]
    if rows.empty:
        raise InputError(f"Patient '{patient_id}' is not in the patient table ({len(table)} patients).")
    return {k: _clean(v) for k, v in rows.iloc[0].to_dict().items()}


def _clean(value):
    value = value.item() if hasattr(value, "item") else value
    return None if isinstance(value, float) and math.isnan(value) else value


def _signature(row: dict, model_path: Path | None) -> dict | None:
    """Signature score from the patient table (``signature_score``) with the model's identity."""
    signature = {}
    if model_path:
        from ResponseSignatureLib.models.modelfile import load_model

        model = load_model(model_path)
        signature = {"name": model["name"], "version": model["version"], "sha256": model["sha256"],
                     "threshold": model.get("threshold", {}).get("value"), "outcome": model.get("outcome")}
    if row.get("signature_score") is not None:
        signature["score"] = float(row["signature_score"])
        if row.get("signature_class") is not None:
            signature["class"] = row["signature_class"]
    elif signature:
        raise InputError("The patient table has no 'signature_score' for this patient; score the signature first "
                         "(radiomics-response apply / aggregate) or leave out --signature-model.")
    return signature or None


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``report``: patient table row (+ lesions, models) -> one HTML page."""
    from ResponseSignatureLib.models.modelfile import load_model
    from ResponseSignatureLib.provenance import make_provenance
    from ResponseSignatureLib.tableio import read_provenance

    from . import nomogram as nm
    from .report import write_report

    row = _patient_row(_read_csv(args.patients), args.patient)
    lesions = None
    if args.lesions:
        lesions = _read_csv(args.lesions)
        if "patient_id" in lesions.columns:
            lesions = lesions[lesions["patient_id"].astype(str) == str(args.patient)]
    recist = {k: row[k] for k in RECIST_KEYS if row.get(k) is not None} or None
    signature = _signature(row, args.signature_model)
    model = result = None
    if args.nomogram_model:
        model = load_model(args.nomogram_model)
        typed = parse_assignments(args.clinical)
        check_variable_names(model, typed)
        values = {**row, **typed}
        result = nm.score_patient(model, values)
    patient = {"patient_id": row["patient_id"]}
    if row.get("n_lesions") is not None:
        patient["n_lesions"] = row["n_lesions"]
    upstream = read_provenance(args.patients)
    provenance = make_provenance(patient_table=str(args.patients),
                                 settings_hash=upstream.get("settings_hash", "not recorded"), upstream=upstream,
                                 signature_model={k: signature[k] for k in ("name", "version", "sha256") if k in signature}
                                 if signature and "sha256" in signature else "not given")
    path = write_report(patient, lesions, recist, signature, result, model, provenance, path=args.out)
    print(f"Report for patient {args.patient}: {path}")
    return 0
