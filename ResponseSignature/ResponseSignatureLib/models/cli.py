"""Command-line sub-commands for signatures: ``train``, ``evaluate``, ``apply``.

    radiomics-response train --table T.csv --outcome COL --method dercle|elasticnet|rf
                             [--id-col patient_id] --out model.json
    radiomics-response evaluate --model model.json --table T.csv --outcome COL --out metrics.json
    radiomics-response apply --model model.json --table T.csv --out scored.csv [--table-out T_scored.csv]

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

from .. import tableio
from . import evaluation, plots
from .inference import apply_model, patient_scores
from .modelfile import load_model, save_model, write_text_atomic


def add_subcommands(subparsers) -> None:
    """Add ``train``, ``evaluate`` and ``apply`` to an argparse sub-parser collection."""
    _add_train(subparsers)
    _add_evaluate(subparsers)
    _add_apply(subparsers)


def _add_train(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train a response signature and save it as a JSON model file",
        description="Train a response signature on a patient table (or a lesion table for --method elasticnet) "
        "with a 0/1 outcome and save it as a JSON model file with its model card. By default the candidate "
        "features are the table's radiomics feature columns only ('<time point>:<feature>' of a lesion table, "
        "'<method>:<time point>:<feature>' of a patient table): identifiers, outcomes, times, RECIST and clinical "
        "columns are never used unless named with --features. A column that is another coding of the outcome "
        "or separates it perfectly is refused, naming it.")
    p.add_argument("--table", required=True, help="CSV: one row per patient (or per lesion for elasticnet)")
    p.add_argument("--outcome", required=True, help="0/1 outcome column (1 = the event the signature predicts)")
    add_outcome_arguments(p)
    p.add_argument("--method", required=True, choices=["dercle", "elasticnet", "rf"],
                   help="dercle: coarse-to-fine selection + random forest (Dercle 2020); elasticnet: log, z-score, "
                   "elastic-net logistic regression (Ligero 2021); rf: random forest on every candidate")
    p.add_argument("--id-col", default="patient_id", help="patient identifier column (default patient_id)")
    p.add_argument("--out", required=True, help="model file to write (.json)")
    p.add_argument("--features", help="comma-separated candidate feature columns (default: the radiomics feature "
                                      "columns); the only way to use clinical or other columns")
    p.add_argument("--template", help="model template fixing the input columns, threshold and model card: a shipped "
                                      "template's name (dercle2020_signature) or a template JSON file")
    p.add_argument("--feature-prefix", help="use only the radiomics feature columns whose name starts with this "
                                            "prefix (e.g. volume_weighted:delta:)")
    p.add_argument("--icc-table", help="CSV of repeated measurements (id column, 'repeat', features) for the ICC filter")
    p.add_argument("--threshold-method", default="youden", choices=list(evaluation.THRESHOLD_METHODS),
                   help="how the decision threshold is chosen on out-of-fold scores: youden (max sensitivity + "
                   "specificity), fixed (0.5), sens_at_spec50 (max sensitivity with specificity >= 50 %%)")
    p.add_argument("--seed", type=int, default=0, help="random seed of folds and forests (default 0)")
    p.add_argument("--name", help="model name (default: '<method> signature for <outcome>')")
    p.add_argument("--n-trees", type=int, default=200, help="trees of the final random forest (default 200)")
    p.add_argument("--icc-threshold", type=float, default=0.75,
                   help="keep features with ICC(2,1) >= this in --icc-table (default 0.75; Ligero 2021 used 0.7)")
    p.add_argument("--outer-folds", type=int, default=3,
                   help="folds of the nested cross-validation reported in the model card (0 = skip)")
    p.add_argument("--allow-separation", action="store_true",
                   help="keep candidate features that separate the outcome perfectly (refused by default: "
                   "usually leakage)")
    p.set_defaults(func=run_train, output_files=("out",))


def add_outcome_arguments(parser) -> None:
    """--outcome-label and --outcome-unfavourable / --outcome-favourable (the model file's
    ``outcome`` block: what outcome 1 means and whether it is bad news; see models/outcome.py)."""
    parser.add_argument("--outcome-label", help="what outcome 1 means in words, e.g. 'progression at 6 months'")
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--outcome-unfavourable", dest="outcome_unfavourable", action="store_const", const=True,
                           help="outcome 1 is bad news (progression, death): its probability is called a risk")
    direction.add_argument("--outcome-favourable", dest="outcome_unfavourable", action="store_const", const=False,
                           help="outcome 1 is good news (response): never called a risk")


def _add_evaluate(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="AUC (DeLong CI), sensitivity, specificity, calibration of a model",
        description="Score a table with a model file and compare the scores with a 0/1 outcome: AUC with "
        "DeLong and bootstrap CIs, sensitivity, specificity, PPV, NPV at the model's threshold, Brier score, "
        "Hosmer-Lemeshow. Writes the metrics JSON and, beside it, <stem>_roc.svg and <stem>_calibration.svg. "
        "A lesion-level model is evaluated on patients (mean of their lesion scores).")
    p.add_argument("--model", required=True, help="signature model file (.json)")
    p.add_argument("--table", required=True, help="CSV with the model's input columns and the outcome")
    p.add_argument("--outcome", required=True, help="0/1 outcome column (rows without it are not evaluated)")
    p.add_argument("--out", required=True, help="metrics JSON to write; SVG plots are written beside it")
    p.add_argument("--id-col", default="patient_id", help="patient identifier column (default patient_id)")
    p.add_argument("--compare", help="a score column of the same table to compare with (paired DeLong test), "
                                     "e.g. the RECIST percent change")
    p.add_argument("--compare-lower-is-positive", action="store_true",
                   help="lower values of --compare predict outcome 1 (the column is negated for the test)")
    p.add_argument("--n-boot", type=int, default=1000, help="bootstrap resamples for the AUC (0 = none)")
    p.set_defaults(func=run_evaluate, output_files=("out",), derived_outputs=_plot_outputs)


def _add_apply(subparsers) -> None:
    p = subparsers.add_parser(
        "apply", help="score a table with a model file (score and class per row)",
        description="Score every row of a table with a signature model file. --out gets the id columns, "
        "'score' and 'class' (1 when score >= the model's threshold); --table-out gets the whole table with "
        "the score added as 'signature_score' and 'signature_class' (what 'nomogram train' and 'report' read), "
        "its provenance naming the model and its SHA-256.")
    p.add_argument("--model", required=True, help="signature model file (.json)")
    p.add_argument("--table", required=True, help="CSV with the model's input columns")
    p.add_argument("--out", required=True, help="scored CSV: id columns, score, class")
    p.add_argument("--table-out", help="also write --table with signature_score and signature_class added")
    p.add_argument("--id-col", default="patient_id", help="patient identifier column (default patient_id)")
    p.add_argument("--patient-out", help="for lesion-level models: also write patient scores (mean of lesions)")
    p.set_defaults(func=run_apply, output_files=("out", "patient_out"))


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


def _feature_columns(args):
    """The columns named with --features (None: the radiomics feature columns, see train_signature)."""
    if args.features:
        return [c.strip() for c in args.features.split(",") if c.strip()]
    return None


def run_train(args) -> int:
    """train: table -> model.json (validated, hashed)."""
    from ..progress import TextProgressBar
    from .training import train_signature

    table = read_table(args.table, args.id_col)
    icc = read_table(args.icc_table, args.id_col) if args.icc_table else None
    template = read_template(args.template, args.method) if args.template else None
    model = train_signature(table, args.outcome, method=args.method, id_col="patient_id",
                            feature_columns=template["inputs"] if template else _feature_columns(args), icc_table=icc,
                            threshold_method=template["training"]["threshold_method"] if template else args.threshold_method,
                            seed=args.seed, progress=TextProgressBar(), name=args.name or (template or {}).get("name"),
                            n_trees=args.n_trees, icc_threshold=args.icc_threshold, outer_folds=args.outer_folds,
                            positive_means=args.outcome_label, unfavourable=args.outcome_unfavourable,
                            allow_separation=args.allow_separation, require_all_features=template is not None,
                            feature_prefix=args.feature_prefix)
    if template:
        model["model_card"] = {**model["model_card"], **template["model_card"], "template": template["file"]}
    model["extraction_settings"] = _extraction_settings(args.table, template)
    saved = save_model(model, args.out)
    _print_excluded(saved["model_card"].get("excluded_columns") or {})
    cv = saved["model_card"]["performance"].get("cv_auc")
    cv_text = f"nested CV AUC {cv['auc']:.3f} ({cv['auc_ci_low']:.3f}-{cv['auc_ci_high']:.3f})" if isinstance(cv, dict) else "no nested CV"
    print(f"{args.out}: {saved['kind']} on {len(saved['inputs'])} input(s) ({_names(saved['inputs'])}); {cv_text}; "
          f"sha256 {saved['sha256'][:12]}")
    return 0


def _extraction_settings(table_path, template) -> dict | None:
    """The extraction settings the model's inputs assume (so ``extract --model`` can compute just
    them): the template's preset, else the settings the training table's provenance records."""
    from ..provenance import find_recorded

    if template and template.get("extraction_preset"):
        return {"preset": template["extraction_preset"]}
    return find_recorded(tableio.read_provenance(table_path), "extraction_settings")


#: why a column was not a candidate feature, as printed by ``train``
EXCLUDED_TEXT = {
    "other_outcome": "another coding of the outcome",
    "identifier": "identifier",
    "separates_outcome": "separates the outcome perfectly (--allow-separation keeps them)",
    "not_a_radiomics_feature": "not a radiomics feature column (name it with --features to use it)",
    "other_prefix": "radiomics columns without the --feature-prefix",
    "empty": "empty", "missing_values": "missing values", "constant": "constant", "not_numeric": "not numeric",
}


def _print_excluded(excluded: dict) -> None:
    """One line per reason: which columns were not candidate features, and why."""
    for reason, columns in excluded.items():
        print(f"not used, {EXCLUDED_TEXT.get(reason, reason)}: {_names(columns)}")


def _names(columns, shown: int = 6) -> str:
    """Column names for one line of output: the first few, then how many more."""
    return ", ".join(columns[:shown]) + (f" and {len(columns) - shown} more" if len(columns) > shown else "")


def template_path(name_or_path: str) -> Path:
    """A template file: the path itself, else a shipped template found by name (``dercle2020_signature``)."""
    from ..errors import InputError
    from ..resources import shipped_folder

    given = Path(name_or_path)
    if given.is_file():
        return given
    folder = shipped_folder("ResponseSignatureLib", "Templates")
    stem = given.name[:-len(".json")] if given.name.endswith(".json") else given.name
    for candidate in (folder / f"{stem}.json", folder / f"{stem}_template.json"):
        if candidate.is_file():
            return candidate
    shipped = sorted(p.name[:-len("_template.json")] for p in folder.glob("*_template.json"))
    raise InputError(f"No model template '{name_or_path}': not a file, and the shipped templates are "
                     f"{', '.join(shipped) or 'none'}.")


def read_template(name_or_path: str, method: str) -> dict:
    """A model template (inputs, training method, threshold, model card) checked against ``method``;
    ``template['file']`` is the name of the file it came from."""
    from ..errors import InputError

    path = template_path(name_or_path)
    try:
        template = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise InputError(f"cannot read model template {path}: {error}") from None
    if template.get("format") != "radiomics-response-model-template":
        raise InputError(f"{path} is not a RadiomicsResponse model template ('format' is {template.get('format')!r}).")
    if template["training"]["method"] != method:
        raise InputError(f"template {path.name} is for --method {template['training']['method']}, not {method}.")
    return {**template, "file": path.name}


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
    figures = _plots(out, y, scores, model["name"])  # drawn before anything is written
    write_text_atomic(out, json.dumps(metrics, indent=2, allow_nan=False) + "\n")
    for path, svg in figures.items():
        write_text_atomic(path, svg)
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


def _plot_paths(out: Path) -> dict[str, Path]:
    """The plots ``evaluate`` writes beside the metrics file: ``<stem>_roc.svg``, ``<stem>_calibration.svg``."""
    stem = Path(out).with_suffix("")
    return {"roc": Path(f"{stem}_roc.svg"), "calibration": Path(f"{stem}_calibration.svg")}


def _plot_outputs(args) -> list[tuple[Path, str]]:
    """``evaluate``'s plot files with how messages name them (checked before any work, see outputs.py)."""
    return [(path, f"{kind.upper() if kind == 'roc' else kind.capitalize()} plot beside --out")
            for kind, path in _plot_paths(args.out).items()]


def _plots(out: Path, y, scores, name: str) -> dict[Path, str]:
    """path -> SVG of the ROC curve and, for probability scores, the calibration plot."""
    paths = _plot_paths(out)
    figures = {paths["roc"]: plots.roc_svg(y, scores, f"ROC — {name}")}
    if scores.min() >= 0 and scores.max() <= 1:
        figures[paths["calibration"]] = plots.calibration_svg(y, scores, f"Calibration — {name}")
    return figures


def run_apply(args) -> int:
    """apply: model + table -> scored.csv (id columns, score, class) [+ the table with signature_score]."""
    from .inference import with_signature_scores

    model = load_model(args.model)
    table = read_table(args.table, args.id_col)
    scored = apply_model(model, table)
    _write_csv(scored, args.out)
    if args.patient_out:
        _write_csv(patient_scores(model, scored), args.patient_out)
    if args.table_out:
        tableio.write_table(with_signature_scores(model, table), args.table_out)
    print(f"{args.out}: {len(scored)} row(s) scored with '{model['name']}' (sha256 {model['sha256'][:12]})"
          + (f"; {args.table_out}: the table with signature_score and signature_class" if args.table_out else ""))
    return 0


def _write_csv(frame: pd.DataFrame, path: str) -> None:
    write_text_atomic(Path(path), frame.to_csv(index=False))


def main(argv=None) -> int:
    """Stand-alone entry point with only these three sub-commands (for tests and debugging)."""
    from ..cli_support import dispatch

    parser = argparse.ArgumentParser(prog="radiomics-response")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser, argv)
