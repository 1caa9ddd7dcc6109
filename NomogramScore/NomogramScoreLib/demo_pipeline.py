"""``radiomics-response demo``: the whole pipeline on the built-in synthetic sample case.

sample case -> lesion table + RECIST (ResponseSignatureLib) -> ``patient_pipeline``: patient row,
volume-weighted (LesionAggregateLib) -> demo signature score -> demo nomogram risk with CI -> HTML
report. The web workstation's demo runs the same settings, models and clinical values.
The shipped demo models were trained on synthetic cohorts: "demo — not for clinical use".
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# Clinical values of the synthetic demo patient (made up; units as a clinician would type them).
DEMO_CLINICAL: dict[str, Any] = {"albumin": "3.4 g/dL", "lymphocytes": 1.1, "cea": 42.0, "stage": "IV"}


def demo_params() -> dict:
    """The demo's extraction settings: the 'dercle2020' preset (original + LoG 1-5 mm, whose columns
    the demo signature reads) plus the Zhao-lab features of the Dercle signature (shape index,
    axis-wise LoG, sigmoid boundary slope), so every feature family appears in the demo tables."""
    from ResponseSignatureLib.extraction import load_params

    params = load_params("dercle2020")
    params["featureClass"]["zhao"] = ["ShapeIndex", "AxisLoG", "Sigmoid"]
    params["zhao"] = {"axisLoGAxes": ["x", "z"], "axisLoGSigma": [2.0]}
    return load_params(params)


def add_subcommand(subparsers) -> None:
    """Add ``demo`` to the ``radiomics-response`` sub-commands."""
    demo = subparsers.add_parser(
        "demo", help="run the whole pipeline on the synthetic sample case and write a report",
        description="Write the synthetic sample case, compute its lesion table and RECIST 1.1, aggregate it into "
        "the patient row, score the demo signature and the demo nomogram (demo models trained on synthetic "
        "cohorts: not for clinical use) and write lesions.csv, patients.csv and report.html.")
    demo.add_argument("--out", type=Path, default=Path("demo_output"),
                      help="folder for the case, tables and report (default ./demo_output)")
    demo.set_defaults(func=run_demo, output_folders=("out",))


def shipped_model(package: str, file_name: str) -> Path:
    """Path of a model shipped with a Lib (source tree layout first, then the installed package)."""
    from ResponseSignatureLib.resources import shipped_file

    return shipped_file(package, "Models", file_name)


def demo_models() -> tuple[dict, dict]:
    """(signature, nomogram): the shipped demo models, loaded and verified."""
    from ResponseSignatureLib.models import load_model

    from .nomogram import load_nomogram

    return (load_model(shipped_model("ResponseSignatureLib", "demo_signature.json")),
            load_nomogram(shipped_model("NomogramScoreLib", "demo_nomogram.json")))


def run_full_demo(out: Path, progress=None) -> dict[str, Any]:
    """Run every stage (lesions, then ``patient_pipeline``); returns the written paths and results."""
    from ResponseSignatureLib.cli import run_lesion_demo

    from . import patient_pipeline

    out = Path(out)
    _, lesion_result = run_lesion_demo(out, params=demo_params(), progress=progress)
    signature_model, nomogram_model = demo_models()
    result = patient_pipeline.from_lesion_result(lesion_result, signature_model, nomogram_model, DEMO_CLINICAL)
    result.details["diagnosis"] = "synthetic demo case"
    patients = patient_pipeline.write_patient_table(result, out / "patients.csv")
    report = patient_pipeline.write_report(result, out / "report.html")
    return {"lesions": out / "lesions.csv", "patients": patients, "report": report, "recist": result.recist,
            "signature": result.signature, "risk": result.risk, "errors": lesion_result.errors, "result": result}


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``demo``: run everything, print a short summary and where the report is."""
    from ResponseSignatureLib.formatting import change_percent, quantity
    from ResponseSignatureLib.progress import TextProgressBar

    from . import patient_pipeline

    result = run_full_demo(args.out, progress=TextProgressBar())
    recist = result["recist"]
    print(f"\nRECIST 1.1: {recist['recist_category']} ({recist['recist_reason']}); sum of diameters "
          f"{quantity(recist['baseline_sum_mm'], 'mm')} -> {quantity(recist['followup_sum_mm'], 'mm')} "
          f"({change_percent(recist['percent_change_from_baseline'])})")
    for line in patient_pipeline.summary_lines(result["signature"], result["risk"]):
        print(line)
    for name in ("lesions", "patients", "report"):
        print(f"{name}: {result[name]}")
    print(f"\nOpen the report: {result['report'].resolve()}")
    return 0
