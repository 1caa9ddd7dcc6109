"""``radiomics-response pacs find|run|store``: the pipeline against a PACS over DICOMweb (pacs.py).

Connection options on every sub-command: --url (or RADIOMICS_RESPONSE_PACS_URL), --user (or
RADIOMICS_RESPONSE_PACS_USER), the password only from RADIOMICS_RESPONSE_PACS_PASSWORD (a
command line is visible to every user of the machine), --timeout seconds (or
RADIOMICS_RESPONSE_PACS_TIMEOUT, default 30).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .pacs import DEFAULT_TIMEOUT, ENV_PREFIX


def add_subcommands(subparsers) -> None:
    """Add ``pacs`` and its sub-commands."""
    pacs = subparsers.add_parser("pacs", help="find, assess and store a patient's studies in a PACS (DICOMweb)",
                                 description="Work on a patient's studies in a PACS over DICOMweb: list them (find), "
                                 "fetch the baseline and follow-up with their SEG/RTSTRUCT, run the whole pipeline and "
                                 "store the SEGs and the SR back (run), or send DICOM files (store). Server and "
                                 "credentials from the options or the RADIOMICS_RESPONSE_PACS_* environment variables.")
    commands = pacs.add_subparsers(dest="pacs_command", required=True, metavar="PACS_COMMAND")
    find = commands.add_parser("find", help="list a patient's studies and their series",
                               description="List the studies of one patient (date, description, UID) and the "
                               "series of each (modality, number of instances, UID).")
    _connection(find)
    find.add_argument("--patient-id", required=True, help="the patient's ID in the PACS (DICOM PatientID)")
    find.set_defaults(func=run_find)
    run = commands.add_parser("run", help="fetch baseline + follow-up with their SEG/RTSTRUCT, assess, store SEG + SR back",
                              description="Fetch the baseline study (default: the earliest) and the follow-up study "
                              "(default: the latest) with their SEG or RTSTRUCT and the CT series they were drawn on, "
                              "compute the lesion table, RECIST 1.1 and (with models) the signature and nomogram, write "
                              "the results in --out and store a DICOM SEG per study and the SR in the follow-up study.")
    _connection(run)
    _run_options(run)
    run.set_defaults(func=run_run)
    store = commands.add_parser("store", help="send DICOM files to the PACS (STOW-RS)",
                                description="Send DICOM files (CT series, SEG, RTSTRUCT, SR) to the PACS.")
    _connection(store)
    store.add_argument("files", nargs="+", type=Path, metavar="FILE", help="DICOM files to send")
    store.set_defaults(func=run_store)


def _connection(parser) -> None:
    parser.add_argument("--url", default=None, help=f"DICOMweb root of the PACS (default: ${ENV_PREFIX}URL)")
    parser.add_argument("--user", default=None, help=f"user name (default: ${ENV_PREFIX}USER); password from ${ENV_PREFIX}PASSWORD")
    parser.add_argument("--timeout", type=float, default=None,
                        help=f"seconds to wait for each answer (default: ${ENV_PREFIX}TIMEOUT or {DEFAULT_TIMEOUT:g})")


def _run_options(run) -> None:
    run.add_argument("--patient-id", required=True, help="the patient's ID in the PACS (DICOM PatientID)")
    run.add_argument("--out", required=True, type=Path, metavar="DIR",
                     help="work folder: retrieved series, lesions.csv, dicom_out/ (SEGs + SR)")
    run.add_argument("--baseline-study", default=None, metavar="UID", help="default: the patient's earliest study")
    run.add_argument("--followup-study", default=None, metavar="UID", help="default: the patient's latest study")
    run.add_argument("--baseline-seg-series", default=None, metavar="UID", help="when a study holds several segmentations")
    run.add_argument("--followup-seg-series", default=None, metavar="UID", help="when a study holds several segmentations")
    run.add_argument("--params", default=None, help="preset name or pyradiomics YAML (as for extract)")
    run.add_argument("--engine", default="builtin", choices=["builtin", "pyradiomics"],
                     help="feature engine: built-in numpy (default) or pyradiomics (if installed)")
    run.add_argument("--signature", type=Path, default=None, metavar="MODEL.json", help="signature model (patient level)")
    run.add_argument("--nomogram", type=Path, default=None, metavar="MODEL.json", help="nomogram model (needs --signature)")
    run.add_argument("--clinical", action="append", default=[], metavar="NAME=VALUE",
                     help="a clinical value of the nomogram (repeatable), e.g. 'albumin=34 g/L'")
    run.add_argument("--demo-models", action="store_true",
                     help="the demo extraction settings, signature and nomogram with the demo patient's clinical values "
                     "(demo — not for clinical use)")
    run.add_argument("--sr-features", nargs="+", default=None, metavar="PATTERN", help="features the SR reports (default: all)")
    run.add_argument("--no-store", action="store_true", help="write the SEGs and the SR locally only")


def _connect(args):
    from .pacs import PacsConnection, PacsSettings

    return PacsConnection(PacsSettings.resolve(args.url, args.user, None, args.timeout))


def run_find(args: argparse.Namespace) -> int:
    """Handler of ``pacs find``."""
    pacs = _connect(args)
    studies = pacs.find_studies(args.patient_id)
    print(f"Patient {args.patient_id}: {len(studies)} stud{'y' if len(studies) == 1 else 'ies'}")
    for study in studies:
        print(f"{study['date'] or '?':<10} {study['study_uid']}  {study['description']}")
        for series in sorted(pacs.find_series(study["study_uid"]), key=lambda s: s["number"]):
            print(f"    {series['modality']:<9} #{series['number']:<5} {series['series_uid']}  {series['description']}")
    return 0


def _models(args):
    """(params, signature model, nomogram model, clinical values) from the options."""
    from ResponseSignatureLib.errors import InputError
    from ResponseSignatureLib.models import load_model

    from .demo_pipeline import DEMO_CLINICAL, demo_params, shipped_model

    clinical = {}
    for pair in args.clinical:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise InputError(f"--clinical takes NAME=VALUE, got {pair!r}.")
        clinical[name.strip()] = value.strip()
    params, signature, nomogram = args.params, args.signature, args.nomogram
    if args.demo_models:
        params = params or demo_params()
        signature = signature or shipped_model("ResponseSignatureLib", "demo_signature.json")
        nomogram = nomogram or shipped_model("NomogramScoreLib", "demo_nomogram.json")
        clinical = {**DEMO_CLINICAL, **clinical}
    if nomogram and not signature:
        raise InputError("--nomogram needs --signature (the nomogram takes the signature score).")
    return (params, load_model(signature) if signature else None, load_model(nomogram) if nomogram else None, clinical)


def run_run(args: argparse.Namespace) -> int:
    """Handler of ``pacs run``."""
    from ResponseSignatureLib.progress import TextProgressBar

    from .pacs import run_patient

    params, signature_model, nomogram_model, clinical = _models(args)
    pacs = _connect(args)
    summary = run_patient(
        pacs, args.patient_id, args.out, baseline_study=args.baseline_study, followup_study=args.followup_study,
        baseline_seg_series=args.baseline_seg_series, followup_seg_series=args.followup_seg_series, params=params,
        engine=args.engine, signature_model=signature_model, nomogram_model=nomogram_model, clinical=clinical,
        features=args.sr_features, store=not args.no_store,
        progress=TextProgressBar())
    _print_summary(args, summary)
    return 0


def _print_summary(args, summary: dict) -> None:
    recist, signature, risk = summary["recist"], summary["signature"], summary["risk"]
    print(f"\nPatient {args.patient_id}: baseline {summary['baseline_study']['date']} -> follow-up "
          f"{summary['followup_study']['date']}")
    print(f"RECIST 1.1: {recist.get('recist_category')} ({recist.get('recist_reason')})")
    from .patient_pipeline import summary_lines

    for line in summary_lines(signature, risk):
        print(line)
    for name, path in summary["dicom"].items():
        print(f"DICOM {name.replace('_', ' ')}: {path}")
    print("Stored in the PACS: baseline SEG in the baseline study; follow-up SEG and SR in the follow-up study"
          if summary["stored"] else "Not stored (--no-store)")


def run_store(args: argparse.Namespace) -> int:
    """Handler of ``pacs store``."""
    pacs = _connect(args)
    pacs.store(args.files)
    print(f"{len(args.files)} file(s) stored in {pacs.settings.url}")
    return 0
