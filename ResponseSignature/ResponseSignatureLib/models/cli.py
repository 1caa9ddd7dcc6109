"""Command-line sub-commands for signatures: ``train``, ``evaluate``, ``apply``.

    radiomics-response train --table T.csv --outcome COL --method dercle|elasticnet|rf
                             [--id-col patient_id] --out model.json
    radiomics-response evaluate --model model.json --table T.csv --outcome COL --out metrics.json
    radiomics-response apply --model model.json --table T.csv --out scored.csv

``evaluate`` also writes ``<metrics stem>_roc.svg`` and, for probability scores,
``<metrics stem>_calibration.svg`` beside metrics.json. A lesion-level model is evaluated on
patients (score = mean of the patient's lesion scores, outcome = the patient's outcome).
Each handler returns an exit code: 0 success, 2 bad input (message on stderr, no traceback).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from .. import errors, tableio
from . import evaluation, plots
from .inference import apply_model, patient_scores
from .modelfile import load_model, save_model, write_text_atomic


def add_subcommands(subparsers) -> None:
    """Add ``train``, ``evaluate`` and ``apply`` to an argparse sub-parser collection."""
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_apply(subparsers)


def _add_train(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a response signature and save it as a JSON model file")
    p.add_argument("--table", required=True, help="CSV: one row per patient (or per lesion for elasticnet)")
    p.add_argument("--outcome", required=True, help="0/1 outcome column (1 = the event the signature predicts)")
    p.add_argument("--method", required=True, choices=["dercle", "elasticnet", "rf"])
    p.add_argument("--id-col", default="patient_id", help="patient identifier column (default patient_id)")
    p.add_argument("--out", required=True, help="model file to write (.json)")
    p.add_argument("--features", help="comma-separated candidate feature columns (default: all numeric columns)")
    p.add_argument("--template", help="model template JSON fixing the input columns, threshold and model card "
                                      "(e.g. Resources/Templates/dercle2020_signature_template.json)")
    p.add_argument("--feature-prefix", help="use the numeric columns whose name starts with this prefix")
    p.add_argument("--icc-table", help="CSV of repeated measurements (id column, 'repeat', features) for the ICC filter")
    p.add_argument("--threshold-method", default="youden", choices=list(evaluation.THRESHOLD_METHODS))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--name", help="model name (default: '<method> signature for <outcome>')")
    p.add_argument("--n-trees", type=int, default=200, help="trees of the final random forest (default 200)")
    p.add_argument("--icc-threshold", type=float, default=0.75,
                   help="keep features with ICC(2,1) >= this in --icc-table (default 0.75; Ligero 2021 used 0.7)")
    p.add_argument("--outer-folds", type=int, default=3,
                   help="folds of the nested cross-validation reported in the model card (0 = skip)")
    p.set_defaults(func=run_train)


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser("evaluate", help="AUC (DeLong CI), sensitivity, specificity, calibration of a model")
    p.add_argument("--model", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--outcome", required=True)
    p.add_argument("--out", required=True, help="metrics JSON to write; SVG plots are written beside it")
    p.add_argument("--id-col", default="patient_id")
    p.add_argument("--compare", help="a score column of the same table to compare with (paired DeLong test), "
                                     "e.g. the RECIST percent change")
    p.add_argument("--compare-lower-is-positive", action="store_true",
                   help="lower values of --compare predict outcome 1 (the column is negated for the test)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the AUC (0 = none)")
    p.set_defaults(func=run_evaluate)


def _add_apply(subparsers) -> None:
    p = subparsers.add_parser("apply", help="score a table with a model file (adds 'score' and 'class')")
    p.add_argument("--model", required=True)
    p.add_argument("--table", required=True)
    p.add_argument("--out", required=True, help="scored CSV: id columns, score, class")
    p.add_argument("--id-col", default="patient_id")
    p.add_argument("--patient-out", help="for lesion-level models: also write patient scores (mean of lesions)")
    p.set_defaults(func=run_apply)


# --------------------------------------------------------------------------------------------
# handlers
# --------------------------------------------------------------------------------------------
def read_table(path: str, id_col: str = "patient_id") -> pd.DataFrame:
    """A CSV table (identifiers kept as text, so '007' stays '007') with ``id_col`` renamed patient_id."""
    table = tableio.read_table(path)
    if id_col != "patient_id" and id_col in table.columns:
        table[id_col] = table[id_col].astype(str)
        table = table.drop(columns=["patient_id"], errors="ignore").rename(columns={id_col: "patient_id"})
    return table


def _feature_columns(args, table: pd.DataFrame):
    if args.features:
        return [c.strip() for c in args.features.split(",") if c.strip()]
    if args.feature_prefix:
        return [c for c in table.columns if c.startswith(args.feature_prefix) and pd.api.types.is_numeric_dtype(table[c])]
    return None


def run_train(args) -> int:
    """train: table -> model.json (validated, hashed)."""
    from ..progress import TextProgressBar
    from .training import train_signature

    table = read_table(args.table, args.id_col)
    icc = read_table(args.icc_table, args.id_col) if args.icc_table else None
    template = read_template(args.template, args.method) if args.template else None
    model = train_signature(table, args.outcome, method=args.method, id_col="patient_id",
                            feature_columns=template["inputs"] if template else _feature_columns(args, table), icc_table=icc,
                            threshold_method=template["training"]["threshold_method"] if template else args.threshold_method,
                            seed=args.seed, progress=TextProgressBar(), name=args.name or (template or {}).get("name"),
                            n_trees=args.n_trees, icc_threshold=args.icc_threshold, outer_folds=args.outer_folds)
    if template:
        model["model_card"] = {**model["model_card"], **template["model_card"], "template": Path(args.template).name}
    saved = save_model(model, args.out)
    cv = saved["model_card"]["performance"].get("cv_auc")
    cv_text = f"nested CV AUC {cv['auc']:.3f} ({cv['auc_ci_low']:.3f}-{cv['auc_ci_high']:.3f})" if isinstance(cv, dict) else "no nested CV"
    print(f"{args.out}: {saved['kind']} on {len(saved['inputs'])} input(s) {saved['inputs']}; {cv_text}; "
          f"sha256 {saved['sha256'][:12]}")
    return 0


def read_template(path: str, method: str) -> dict:
    """A model template (inputs, training method, threshold, model card) checked against ``method``."""
    from ..errors import InputError

    try:
        template = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read model template {path}: {error}") from None
    if template.get("format") != "radiomics-response-model-template":
        raise InputError(f"{path} is not a RadiomicsResponse model template ('format' is {template.get('format')!r}).")
    if template["training"]["method"] != method:
        raise InputError(f"template {path} is for --method {template['training']['method']}, not {method}.")
    return template


def _patient_level(model: dict, table: pd.DataFrame) -> pd.DataFrame:
    scored = apply_model(model, table)
    if model["level"] == "lesion":
        return patient_scores(model, scored)
    return scored


def run_evaluate(args) -> int:
    """evaluate: model + table with outcome -> metrics.json (+ ROC / calibration SVG)."""
    model = load_model(args.model)
    table = read_table(args.table, args.id_col)
    outcomes = _patient_outcomes(table, args.outcome, model["level"])
    table = table[table[args.outcome].notna()].reset_index(drop=True)  # patients without an outcome are not evaluated
    scored = _patient_level(model, table)
    y = outcomes.loc[scored["patient_id"].astype(str)].to_numpy() if "patient_id" in scored else outcomes.to_numpy()
    scores = scored["score"].to_numpy()
    metrics = evaluation.evaluate_scores(y, scores, model["threshold"]["value"], n_boot=args.n_boot)
    metrics.update({"model": model["name"], "model_sha256": model["sha256"], "level_evaluated": "patient",
                    "threshold_method": model["threshold"].get("method")})
    if args.compare:
        metrics["comparison"] = _comparison(table, args, scored, y, scores, model["name"])
    out = Path(args.out)
    write_text_atomic(out, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    _write_plots(out, y, scores, model["name"])
    print(f"{out}: AUC {metrics['auc']:.3f} ({metrics['auc_ci_low']:.3f}-{metrics['auc_ci_high']:.3f}), "
          f"sensitivity {metrics['sensitivity']:.3f}, specificity {metrics['specificity']:.3f} "
          f"at threshold {metrics['threshold']:.3f}; n = {metrics['n']}")
    return 0


def _patient_outcomes(table: pd.DataFrame, outcome: str, level: str) -> pd.Series:
    from ..errors import InputError

    if outcome not in table.columns:
        raise InputError(f"The table has no outcome column '{outcome}'.")
    if "patient_id" not in table.columns:
        if level == "lesion":
            raise InputError("A lesion-level model needs a patient_id column to form patient scores.")
        return table[outcome].dropna().reset_index(drop=True)
    known = table[table[outcome].notna()]
    grouped = known.groupby(known["patient_id"].astype(str))[outcome]
    if (grouped.nunique() > 1).any():
        raise InputError(f"Outcome '{outcome}' differs between rows of the same patient.")
    return grouped.first()


def _comparison(table, args, scored, y, scores, name: str) -> dict:
    """Paired DeLong test of the model score against another column (per-patient mean)."""
    from ..errors import InputError

    if args.compare not in table.columns:
        raise InputError(f"The table has no column '{args.compare}' to compare with.")
    if "patient_id" in table.columns:
        means = table.groupby(table["patient_id"].astype(str))[args.compare].mean()
        other = means.reindex(scored["patient_id"].astype(str)).to_numpy(dtype=float)
    else:
        other = table[args.compare].to_numpy(dtype=float)
    values = other * (-1.0 if args.compare_lower_is_positive else 1.0)
    test = evaluation.delong_test(y, scores, values)
    return {"column": args.compare, "lower_is_positive": bool(args.compare_lower_is_positive), **test,
            "test": "paired DeLong (DeLong 1988), two-sided", "a": name, "b": args.compare}


def _write_plots(out: Path, y, scores, name: str) -> None:
    stem = out.with_suffix("")
    write_text_atomic(Path(f"{stem}_roc.svg"), plots.roc_svg(y, scores, f"ROC — {name}"))
    if scores.min() >= 0 and scores.max() <= 1:
        write_text_atomic(Path(f"{stem}_calibration.svg"), plots.calibration_svg(y, scores, f"Calibration — {name}"))


def run_apply(args) -> int:
    """apply: model + table -> scored.csv (id columns, score, class)."""
    model = load_model(args.model)
    table = read_table(args.table, args.id_col)
    scored = apply_model(model, table)
    _write_csv(scored, args.out)
    if args.patient_out:
        _write_csv(patient_scores(model, scored), args.patient_out)
    print(f"{args.out}: {len(scored)} row(s) scored with '{model['name']}' (sha256 {model['sha256'][:12]})")
    return 0


def _write_csv(frame: pd.DataFrame, path: str) -> None:
    write_text_atomic(Path(path), frame.to_csv(index=False))


def main(argv=None) -> int:
    """Stand-alone entry point with only these three sub-commands (for tests and debugging)."""
    parser = argparse.ArgumentParser(prog="radiomics-response")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return errors.dispatch(parser, argv)
