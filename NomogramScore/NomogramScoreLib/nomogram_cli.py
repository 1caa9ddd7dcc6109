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
from pathlib import Path

from ResponseSignatureLib.errors import InputError

from .clinical import check_variable_names


def add_subcommands(subparsers) -> None:
    """Add ``nomogram`` (train, score, evaluate, report) and the top-level ``report``."""
    nomogram = subparsers.add_parser(
        "nomogram", help="train, apply and evaluate radiomics + clinical nomograms (train|score|evaluate|report)",
        description="Nomograms combine the signature score with clinical variables into a risk with its 95 %% "
        "confidence interval and points per predictor (R rms::nomogram arithmetic). Each predictor keeps its "
        "unit; values given in another unit are converted.")
    inner = nomogram.add_subparsers(dest="nomogram_command", required=True, metavar="ACTION")
    _add_train(inner)
    _add_score(inner)
    _add_evaluate(inner)
    _add_report(inner)
    _add_report(subparsers)


def _add_train(subparsers) -> None:
    from ResponseSignatureLib.models.cli import add_outcome_arguments

    p = subparsers.add_parser(
        "train", help="fit a logistic or Cox nomogram and save it as a JSON model file",
        description="Fit a logistic (0/1 outcome) or Cox (time to event) model on a patient table and save it as a "
        "nomogram model file. Each continuous predictor keeps a unit: --units, else the standard unit of a known "
        "variable (albumin g/L, lymphocytes and neutrophils x10^9/L, CEA ng/mL, LDH U/L, CRP mg/L, age years), "
        "else none; training values implausible in that unit are refused with the unit that fits. A perfectly "
        "separated outcome (infinite coefficients) is refused unless --allow-separation.")
    p.add_argument("--table", required=True, type=Path, help="patient table CSV (e.g. from 'apply --table-out')")
    p.add_argument("--kind", default="logistic", choices=["logistic", "cox"],
                   help="logistic: probability of a 0/1 outcome; cox: of an event by a time (default logistic)")
    p.add_argument("--outcome", help="logistic: 0/1 outcome column (1 = the outcome whose probability is shown)")
    p.add_argument("--time-col", help="Cox: follow-up time column")
    p.add_argument("--event-col", help="Cox: event column (1 = event, 0 = censored)")
    p.add_argument("--times", type=float, nargs="+", help="Cox: times at which the baseline survival is stored")
    p.add_argument("--time", type=float, help="Cox: time whose risk the gauge shows (default: first of --times)")
    p.add_argument("--time-unit", default="", help="Cox: unit of the times, e.g. months")
    p.add_argument("--predictors", required=True, nargs="+", help="predictor columns (the radiomics score is 'signature_score')")
    p.add_argument("--units", nargs="*", default=[], metavar="NAME=UNIT",
                   help="unit of a continuous predictor's column, e.g. albumin=g/dL (default: its standard unit)")
    p.add_argument("--labels", nargs="*", default=[], metavar="NAME=LABEL", help="display label of predictors")
    p.add_argument("--categorical", nargs="*", default=[], metavar="NAME", help="predictors to treat as categorical")
    p.add_argument("--log", nargs="*", default=[], metavar="NAME", help="continuous predictors entered as ln(x)")
    add_outcome_arguments(p)  # --outcome-label, --outcome-unfavourable / --outcome-favourable
    p.add_argument("--threshold-method", default="youden", choices=["youden", "fixed", "sens_at_spec50"],
                   help="how the cut-off is chosen on the training predictions (default youden)")
    p.add_argument("--name", default="nomogram", help="model name (default 'nomogram')")
    p.add_argument("--version", default="1.0.0", help="model version (default 1.0.0)")
    p.add_argument("--allow-separation", action="store_true",
                   help="save the model even if the outcome is perfectly separated (not recommended)")
    p.add_argument("--out", required=True, type=Path, help="model file to write (.json)")
    p.set_defaults(func=run_train, output_files=("out",))


def _add_score(subparsers) -> None:
    p = subparsers.add_parser(
        "score", help="probability with 95 %% CI, its reading and points for one patient or a table",
        description="Probability with its 95 %% CI, its reading against the cut-off and points per predictor for one patient (--clinical) or for "
        "every row of a table (--table). A value with a unit (albumin=\"3.4 g/dL\") is converted to the model's "
        "unit; a value without one is read in the model's unit. How each value was read is printed.")
    p.add_argument("--model", required=True, type=Path, help="nomogram model file (.json)")
    p.add_argument("--clinical", nargs="*", default=[], metavar="NAME=VALUE", help='values, e.g. albumin="3.4 g/dL"')
    p.add_argument("--table", type=Path, help="score every row of this CSV instead")
    p.add_argument("--out", type=Path, help="with --table: CSV to write; else: JSON of the result")
    p.add_argument("--gauge", type=Path, help="write the risk gauge SVG here (single patient)")
    p.add_argument("--chart", type=Path, help="write the nomogram SVG with the patient marked (single patient)")
    p.set_defaults(func=run_score, output_files=("out", "gauge", "chart"))


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="C-index / AUC, calibration and decision curve on a table",
        description="Validate a nomogram on a table: logistic models get AUC (DeLong CI), calibration intercept and "
        "slope, Brier score, Hosmer-Lemeshow, decision curve and sensitivity/specificity at the cut-off; Cox "
        "models get Harrell's C, time-dependent AUC and calibration by risk group.")
    p.add_argument("--model", required=True, type=Path, help="nomogram model file (.json)")
    p.add_argument("--table", required=True, type=Path, help="CSV with the predictors and the outcome")
    p.add_argument("--outcome", help="logistic: 0/1 outcome column")
    p.add_argument("--time-col", help="Cox: follow-up time column")
    p.add_argument("--event-col", help="Cox: event column")
    p.add_argument("--out", type=Path, help="metrics JSON to write (printed otherwise)")
    p.set_defaults(func=run_evaluate, output_files=("out",))


def _add_report(subparsers) -> None:
    p = subparsers.add_parser(
        "report", help="one self-contained HTML report for one patient",
        description="One HTML page for one patient from the files earlier steps wrote: the patient table row "
        "(RECIST, signature_score from 'apply --table-out', clinical values), the lesion table and the model "
        "files. --clinical adds or overrides values; it is needed only for values the table does not have. "
        "'nomogram report' is the same command.")
    p.add_argument("--patient", required=True, help="patient_id of the patient")
    p.add_argument("--patients", required=True, type=Path, help="patient table CSV (patient_id, RECIST, scores, clinical)")
    p.add_argument("--lesions", type=Path, help="lesion table CSV (rows of this patient are shown)")
    p.add_argument("--signature-model", type=Path,
                   help="signature model file: scores the patient if the table has no signature_score, and names "
                   "the model and its threshold in the report")
    p.add_argument("--nomogram-model", type=Path, help="nomogram model file")
    p.add_argument("--clinical", nargs="*", default=None, metavar="NAME=VALUE",
                   help="add or override clinical values (needs --nomogram-model)")
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
            spec["transform"] = "log" if name in args.log else None
            if name in units:
                spec["unit"] = units[name]
        specs.append(spec)
    return specs


def _read_csv(path: Path):
    from ResponseSignatureLib.tableio import read_table

    return read_table(path)


def _print_result(result: dict, model: dict, given: dict) -> None:
    """Probability with CI and its reading; per predictor how its value was read and its points."""
    from ResponseSignatureLib.formatting import number, with_ci

    from .clinical import describe_reading
    from .nomogram import predictors

    print(f"{result['outcome']['label']}: {with_ci(result['risk'], result['ci_low'], result['ci_high'])}")
    print(result["reading"]["text"])
    for predictor in predictors(model):
        name = predictor["name"]
        read = describe_reading(predictor, given.get(name), result["values"][name])
        print(f"  {predictor.get('label', name):<24} {read:<48} {number(result['points'][name], 1):>6} points")
    print(f"  {'Total':<24} {'':<48} {number(result['total_points'], 1):>6} points")
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
                         model_card={"training_table": str(args.table)}, allow_separation=args.allow_separation)
    doc = save_model(doc, args.out)
    performance = doc["model_card"]["training_performance"]
    units = ", ".join(f"{p['name']} in {p['unit']}" for p in doc["model"]["predictors"] if p.get("unit"))
    shown = {k: performance[k] for k in ("n", "n_events", "auc", "c_index") if k in performance}
    print(f"Nomogram '{doc['name']}' ({doc['kind']}) written to {args.out}; training {shown}; "
          f"cut-off {doc['threshold']['value']:.3f} ({doc['threshold']['method']}); sha256 {doc['sha256'][:12]}..."
          + (f"; units: {units}" if units else ""))
    if performance.get("warning"):
        print(f"warning: {performance['warning']}")
    return 0


def run_score(args: argparse.Namespace) -> int:
    """Handler of ``nomogram score``: one patient (--clinical) or every row of --table."""
    from ResponseSignatureLib.models.modelfile import write_text_atomic

    from . import nomogram as nm

    model = nm.load_nomogram(args.model)
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
    given = parse_assignments(args.clinical)
    check_variable_names(model, given)
    result = nm.score_patient(model, given)
    _print_result(result, model, given)
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
    from ResponseSignatureLib.models.modelfile import write_text_atomic

    from .nomogram import load_nomogram
    from .training import evaluate_nomogram

    model = load_nomogram(args.model)
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


def run_report(args: argparse.Namespace) -> int:
    """Handler of ``report``: patient table row (+ lesions, models) -> one HTML page (``patient_pipeline``)."""
    from ResponseSignatureLib.models.modelfile import load_model

    from . import patient_pipeline
    from .nomogram import load_nomogram

    if args.clinical is not None and not args.nomogram_model:
        raise InputError("--clinical needs --nomogram-model: clinical values are used only by a nomogram.")
    nomogram_model = load_nomogram(args.nomogram_model) if args.nomogram_model else None
    clinical = parse_assignments(args.clinical or [])
    if nomogram_model is not None:
        check_variable_names(nomogram_model, clinical)
    result = patient_pipeline.from_tables(
        _read_csv(args.patients), args.patient, lesions=_read_csv(args.lesions) if args.lesions else None,
        signature_model=load_model(args.signature_model) if args.signature_model else None,
        nomogram_model=nomogram_model, clinical=clinical)
    path = patient_pipeline.write_report(result, args.out)
    print(f"Report for patient {args.patient}: {path}")
    return 0
