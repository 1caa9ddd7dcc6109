"""``radiomics-response demo``: the whole pipeline on the built-in synthetic sample case.

sample case -> lesion table + RECIST (ResponseSignatureLib) -> patient table, volume-weighted
(LesionAggregateLib) -> demo signature score -> demo nomogram risk with CI -> HTML report.
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
    demo = subparsers.add_parser("demo", help="run the whole pipeline on the synthetic sample case and write a report")
    demo.add_argument("--out", type=Path, default=Path("demo_output"), help="folder for the case, tables and report")
    demo.set_defaults(func=run_demo, output_folders=("out",))


def shipped_model(package: str, file_name: str) -> Path:
    """Path of a model shipped with a Lib (source tree layout first, then the installed package)."""
    import importlib

    library = Path(importlib.import_module(package).__file__).resolve().parent
    for candidate in (library.parent / "Resources" / "Models" / file_name, library / "models_data" / file_name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"shipped model {file_name} not found beside {library}")


def run_full_demo(out: Path, progress=None) -> dict[str, Any]:
    """Run every stage; returns the written paths and the key results."""
    from LesionAggregateLib.aggregate import patient_table
    from ResponseSignatureLib.cli import run_lesion_demo
    from ResponseSignatureLib.models import apply_model, load_model
    from ResponseSignatureLib.provenance import make_provenance
    from ResponseSignatureLib.tableio import write_table

    from . import nomogram
    from .report import write_report

    out = Path(out)
    _, lesion_result = run_lesion_demo(out, params=demo_params(), progress=progress)
    patients = patient_table(lesion_result.table, method="volume_weighted")
    signature_model = load_model(shipped_model("ResponseSignatureLib", "demo_signature.json"))
    scored = apply_model(signature_model, patients)
    patients["signature_score"] = scored["score"].to_numpy()
    patients["signature_class"] = scored["class"].to_numpy()
    nomogram_model = load_model(shipped_model("NomogramScoreLib", "demo_nomogram.json"))
    patient_row = patients.iloc[0]
    values = {**DEMO_CLINICAL, "signature_score": float(patient_row["signature_score"])}
    risk = nomogram.score_patient(nomogram_model, values)
    for name, value in DEMO_CLINICAL.items():
        patients[name] = value
    provenance = make_provenance(
        stage="demo",
        lesion_stage=lesion_result.provenance,
        aggregation=patients.attrs.get("provenance"),
        signature_model=_model_identity(signature_model),
        nomogram_model=_model_identity(nomogram_model),
    )
    write_table(patients, out / "patients.csv", provenance)
    signature = {**_model_identity(signature_model), "score": float(patient_row["signature_score"]),
                 "class": int(patient_row["signature_class"]), "threshold": signature_model["threshold"]["value"],
                 "outcome": signature_model.get("outcome"),
                 "aggregation": "volume-weighted mean of lesion deltas"}
    report = write_report({"patient_id": patient_row["patient_id"], "n_lesions": int(patient_row["n_lesions"]),
                           "diagnosis": "synthetic demo case"},
                          lesion_result.table, lesion_result.recist, signature, risk, nomogram_model, provenance,
                          path=out / "report.html")
    return {"lesions": out / "lesions.csv", "patients": out / "patients.csv", "report": report,
            "recist": lesion_result.recist, "signature": signature, "risk": risk, "errors": lesion_result.errors}


def _model_identity(model: dict) -> dict:
    return {key: model[key] for key in ("name", "version", "sha256")}


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``demo``: run everything, print a short summary and where the report is."""
    from ResponseSignatureLib.formatting import score, with_ci
    from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff
    from ResponseSignatureLib.progress import TextProgressBar

    result = run_full_demo(args.out, progress=TextProgressBar())
    recist, signature, risk = result["recist"], result["signature"], result["risk"]
    print(f"\nRECIST 1.1: {recist['recist_category']} ({recist['recist_reason']}); sum of diameters "
          f"{recist['baseline_sum_mm']:.1f} -> {recist['followup_sum_mm']:.1f} mm ({recist['percent_change_from_baseline']:+.1f} %)")
    print(f"Signature ({signature['name']}): score {score(signature['score'])}, "
          f"{read_against_cutoff(signature['score'], signature['threshold'], terms=outcome_terms(signature), show=score).text}")
    print(f"Nomogram: {risk['outcome']['label']} {with_ci(risk['risk'], risk['ci_low'], risk['ci_high'])}, "
          f"{risk['reading']['text']}; {risk['total_points']:.0f} points")
    for name in ("lesions", "patients", "report"):
        print(f"{name}: {result[name]}")
    print(f"\nOpen the report: {result['report'].resolve()}")
    return 0
