"""DICOM options and sub-commands of the lesion stage.

- ``extract ... --dicom-out DIR [--sr-features PATTERN ...]``: after the lesion table, write a DICOM
  SEG per time point and the follow-up's TID 1500 SR (dicom_export.py);
- ``dicom-read-sr FILE --out lesions.csv``: our SR back into the lesion table (dicom_sr.read_sr).
"""
from __future__ import annotations

import argparse
from pathlib import Path


def add_extract_options(extract) -> None:
    """The DICOM output options of ``extract``."""
    extract.add_argument("--dicom-out", type=Path, default=None, metavar="DIR",
                         help="also write a DICOM SEG per time point and the follow-up's DICOM SR (TID 1500) into DIR; "
                         "needs the images as DICOM series folders (pip install 'radiomics-response[dicom]')")
    extract.add_argument("--sr-features", nargs="+", default=None, metavar="PATTERN",
                         help="features the SR reports (names or shell patterns, e.g. 'original_shape_*'); default: all")


def add_subcommands(subparsers) -> None:
    """``dicom-read-sr``."""
    read = subparsers.add_parser("dicom-read-sr", help="read our DICOM SR (TID 1500) back into a lesion table",
                                 description="Lesion table (CSV) of a DICOM SR written by extract --dicom-out or pacs run: "
                                 "per-lesion values at both time points, changes, status, target and location.")
    read.add_argument("sr", type=Path, metavar="FILE", help="a DICOM SR written by extract --dicom-out or pacs run")
    read.add_argument("--out", required=True, type=Path, metavar="lesions.csv", help="lesion table CSV")
    read.add_argument("--patient-out", type=Path, default=None, metavar="patient.json",
                      help="also write the patient-level values (RECIST, signature, nomogram) as JSON")
    read.set_defaults(func=run_read_sr)


def check_extract_options(args: argparse.Namespace) -> None:
    """Before extracting: --dicom-out needs pydicom/highdicom and DICOM series folders (fail fast)."""
    if args.dicom_out is None:
        return
    from .dicom_export import require_series_folders
    from .dicom_io import require_dicom

    require_dicom()
    require_series_folders({"baseline": args.baseline, "followup": args.followup})


def export_after_extract(args: argparse.Namespace, result) -> None:
    """Write the DICOM output of ``extract`` when --dicom-out is given."""
    if args.dicom_out is None:
        return
    from .dicom_export import export_case

    paths = export_case(result, {"baseline": args.baseline, "followup": args.followup},
                        {"baseline": args.baseline_seg, "followup": args.followup_seg}, args.dicom_out,
                        features=args.sr_features)
    for name, path in paths.items():
        print(f"DICOM {name.replace('_', ' ')}: {path}")


def run_read_sr(args: argparse.Namespace) -> int:
    """Handler of ``dicom-read-sr``."""
    from .dicom_sr import read_sr
    from .provenance import make_provenance
    from .tableio import write_json, write_table

    table, patient = read_sr(args.sr)
    write_table(table, args.out, make_provenance(source_sr=str(args.sr), patient=patient))
    if args.patient_out is not None:
        write_json(args.patient_out, patient)
    print(f"{len(table)} lesions read from {args.sr}; lesion table: {args.out}")
    return 0
