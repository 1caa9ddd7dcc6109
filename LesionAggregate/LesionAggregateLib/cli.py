"""Command line of LesionAggregateLib: ``aggregate`` (lesions -> patients) and ``batch`` (cohort runs).

``radiomics-response aggregate LESIONS.csv [more...] --method volume_weighted --out patients.csv``
``radiomics-response batch MANIFEST.csv --out DIR [--jobs N] [--params YAML] [--scheduler ADDRESS] [--restart] [--dicom-out]``

``python -m LesionAggregateLib`` runs the same two sub-commands. Exit codes: 0 success, 1 a batch
finished but some cases failed (see DIR/errors.csv), 2 bad input, 130 cancelled.
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Sequence

from ResponseSignatureLib.errors import InputError

from .aggregate import METHODS


def add_subcommands(subparsers) -> None:
    """Add the ``aggregate`` and ``batch`` sub-commands to an argparse sub-parser collection."""
    _add_aggregate(subparsers)
    _add_batch(subparsers)


def _add_aggregate(subparsers) -> None:
    parser = subparsers.add_parser(
        "aggregate", help="lesion table(s) -> patient table",
        description="Aggregate lesion-table columns into one value per patient and write the patient table "
                    "(OUT and OUT.provenance.json). Columns: patient_id, n_lesions, '<method>:<lesion column>' "
                    "(e.g. volume_weighted:delta:original_firstorder_Entropy), the RECIST 1.1 result, "
                    "aggregation_notes, and the clinical table's columns with --clinical-table. Formulas: "
                    "LesionAggregateLib.aggregate.")
    parser.add_argument("lesions", nargs="+", metavar="LESIONS.csv", help="one or more lesion tables")
    parser.add_argument("--method", default="volume_weighted", choices=list(METHODS),
                        help="aggregation for every column (default: volume_weighted)")
    parser.add_argument("--columns", nargs="+", metavar="COLUMN",
                        help="lesion columns to aggregate (default: every numeric '<prefix>:<name>' column)")
    parser.add_argument("--column-method", action="append", default=[], metavar="COLUMN=METHOD",
                        help="a method for one column (repeatable), e.g. 'score=vote'")
    parser.add_argument("--location", help="aggregate only lesions at this location (e.g. liver)")
    parser.add_argument("--weight-timepoint", default="baseline",
                        help="time point whose volume_ml weights the weighted methods (default: baseline)")
    parser.add_argument("--no-recist", action="store_true", help="do not carry RECIST 1.1 results over")
    parser.add_argument("--clinical-table", metavar="CLINICAL.csv",
                        help="add this table's columns (one row per patient_id: outcomes, laboratory values...)")
    parser.add_argument("--out", required=True, metavar="patients.csv", help="output patient table")
    parser.set_defaults(func=run_aggregate, output_files=("out",))


def _add_batch(subparsers) -> None:
    parser = subparsers.add_parser(
        "batch", help="cohort run: manifest -> lesion table + patient table",
        description="Run every case of a manifest (CSV columns patient_id, timepoint, image, segmentation and "
                    "optionally locations; timepoint is 'baseline' or 'followup', one of each per patient; relative "
                    "paths are relative to the manifest). Writes DIR/lesions.csv, DIR/patients.csv (volume-weighted "
                    "by default) and DIR/errors.csv; resumable: a re-run skips finished cases. See "
                    "LesionAggregateLib.batch.")
    parser.add_argument("manifest", metavar="MANIFEST.csv", help="the cohort's manifest CSV")
    parser.add_argument("--out", required=True, metavar="DIR", help="output folder")
    parser.add_argument("--jobs", type=int, default=1, metavar="N", help="parallel worker processes (default 1)")
    parser.add_argument("--params", metavar="YAML", help="pyradiomics parameter file or preset name")
    parser.add_argument("--engine", default="builtin", choices=["builtin", "pyradiomics"],
                        help="feature engine: built-in numpy (default) or pyradiomics (if installed)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="Dask distributed scheduler (e.g. tcp://10.0.0.5:8786) instead of local processes")
    parser.add_argument("--method", default="volume_weighted", choices=[m for m in METHODS if m != "vote"],
                        help="aggregation of every numeric lesion column into patients.csv "
                             "(default: volume_weighted; for a vote use the aggregate command)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--progress-format", choices=["bar", "json"], default="bar",
                        help="bar: a progress bar on stderr (default); json: for programs running this command "
                             '(the Slicer module): one JSON object per line on stdout, {"progress": 0.25, '
                             '"message": "..."} as the run goes, then {"summary": {...}}')
    parser.add_argument("--restart", action="store_true",
                        help="move the folder's earlier results into DIR/previous-<time>/ and start again "
                             "(needed to run other settings into a folder that holds results)")
    parser.add_argument("--dicom-out", action="store_true",
                        help="also write each case's DICOM SEG per time point and follow-up DICOM SR (TID 1500) into "
                             "DIR/cases/<patient>/dicom/; needs the images as DICOM series folders (a case with other "
                             "images fails, the others go on; pip install 'radiomics-response[dicom]')")
    parser.set_defaults(func=run_batch_command, output_folders=("out",))


def _column_methods(pairs: Sequence[str]) -> dict[str, str]:
    methods = {}
    for pair in pairs:
        column, sep, method = pair.rpartition("=")
        if not sep or not column:
            raise InputError(f"--column-method expects COLUMN=METHOD, got '{pair}'")
        methods[column] = method
    return methods


def run_aggregate(args: argparse.Namespace) -> int:
    """``aggregate``: read lesion tables, write the patient table and its provenance sidecar."""
    from ResponseSignatureLib.tableio import write_table

    from .aggregate import patient_table, read_lesion_tables

    lesions = read_lesion_tables(args.lesions)
    patients = patient_table(
        lesions, method=args.method, columns=args.columns, location=args.location,
        weight_timepoint=args.weight_timepoint, methods=_column_methods(args.column_method),
        recist=False if args.no_recist else None)
    if args.clinical_table:
        patients = _with_clinical_table(patients, args.clinical_table)
    write_table(patients, args.out)
    print(f"wrote {len(patients)} patients to {args.out}")
    return 0


def _with_clinical_table(patients, path):
    """The patient table joined with a clinical CSV; says which patients have no clinical row."""
    from ResponseSignatureLib.tableio import read_table

    from .aggregate import with_clinical

    clinical = read_table(path)
    joined = with_clinical(patients, clinical)
    missing = sorted(set(patients["patient_id"].astype(str)) - set(clinical["patient_id"].astype(str)))
    if missing:
        print(f"note: no row in {path} for patient(s) {', '.join(missing[:10])}: their clinical values are empty",
              file=sys.stderr)
    return joined


def run_batch_command(args: argparse.Namespace) -> int:
    """``batch``: run a manifest, print a summary; exit 1 if any case failed."""
    from ResponseSignatureLib.progress import TextProgressBar

    from .batch import run_batch

    json_lines = args.progress_format == "json"
    progress = None if args.no_progress else _print_progress_json if json_lines else TextProgressBar()
    summary = run_batch(args.manifest, args.out, jobs=args.jobs, params=args.params, engine=args.engine,
                        scheduler=args.scheduler, aggregation_method=args.method, restart=args.restart,
                        progress=progress, dicom_out=args.dicom_out)
    if json_lines:
        _print_json({"summary": summary})
    print(f"{summary['done']} cases done ({summary['computed']} computed, {summary['skipped']} already "
          f"finished), {summary['failed']} failed; tables in {args.out}")
    if args.dicom_out:
        print(f"DICOM SEG + SR of each finished case: {args.out}/cases/<patient>/dicom/")
    if summary["failed"]:
        print(f"failed cases are listed in {summary['errors_csv']}", file=sys.stderr)
        return 1
    return 0


def _print_json(record: dict) -> None:
    """One JSON object on one line of stdout, flushed at once (a parent process reads it as it comes)."""
    print(json.dumps(record, default=str), flush=True)


def _print_progress_json(fraction: float, message: str) -> None:
    _print_json({"progress": round(float(fraction), 4), "message": message})


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m LesionAggregateLib``."""
    parser = argparse.ArgumentParser(prog="python -m LesionAggregateLib",
                                     description="Lesion -> patient aggregation and cohort batch runs.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    add_subcommands(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m LesionAggregateLib``; returns the exit code."""
    from ResponseSignatureLib.cli_support import dispatch

    return dispatch(build_parser(), argv)
