"""Command line of the lesion stage: ``extract``, ``recist``, ``feature-maps``, ``sample-data`` and ``demo``
(and the signature sub-commands ``train``, ``evaluate``, ``apply`` of ``models.cli``).

``radiomics-response`` (NomogramScoreLib.cli) gathers these with the other stages' sub-commands;
``python -m ResponseSignatureLib`` runs just these.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from .cli_support import dispatch
from .progress import TextProgressBar


def add_subcommands(subparsers, include_demo: bool = True) -> None:
    """Add this stage's sub-commands to an argparse sub-parser collection."""
    _add_extract(subparsers)
    _add_recist(subparsers)
    _add_feature_maps(subparsers)
    _add_sample_data(subparsers)
    if include_demo:
        demo = subparsers.add_parser("demo", help="sample case -> lesion table + RECIST, printed and written",
                                     description="Write the synthetic sample case, compute its lesion table and "
                                     "RECIST 1.1, print them and write lesions.csv.")
        demo.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (default ./demo_output)")
        demo.set_defaults(func=run_demo, output_folders=("out",))
    from .models import cli as models_cli

    models_cli.add_subcommands(subparsers)
    from . import ibsi_phantom

    ibsi_phantom.add_subcommand(subparsers)
    from . import dicom_cli

    dicom_cli.add_subcommands(subparsers)


def _add_sample_data(subparsers) -> None:
    sample = subparsers.add_parser(
        "sample-data", help="write the synthetic sample case (or, with --cohort, a synthetic cohort)",
        description="Write the synthetic longitudinal sample case into OUTDIR: baseline.nrrd, followup.nrrd and "
        "followup2.nrrd with their .seg.nrrd segmentations (segments liver_1, liver_2, liver_3, node_1, liver_4), "
        "locations.csv and design.json (what was drawn). With --cohort N: N such patients whose lesions respond "
        "according to a made-up outcome, with manifest.csv (input of 'batch') and clinical.csv (patient_id, "
        "response, no_benefit, albumin in g/L, lymphocytes in x10^9/L). Synthetic data, no real patient.")
    sample.add_argument("outdir", type=Path, metavar="OUTDIR", help="folder to write into")
    sample.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sample.add_argument("--patient-id", default="sample",
                        help="the patient's ID (DICOM Patient ID; the DICOM UIDs are derived from it, so give each "
                             "synthetic patient its own; default: sample)")
    sample.add_argument("--cohort", type=_positive_int, metavar="N", help="write a cohort of N patients instead")
    sample.add_argument("--dicom", action="store_true",
                        help="also write each CT as a DICOM series and its lesions as a DICOM SEG (needs the dicom extra)")
    sample.set_defaults(func=run_sample_data, output_folders=("outdir",))


def _add_extract(subparsers) -> None:
    extract = subparsers.add_parser(
        "extract",
        help="baseline + follow-up images and segmentations -> lesion table with RECIST",
        description="Per-lesion measures and radiomic features at baseline and follow-up, their change, "
        "lesion matching and RECIST 1.1. IMG: NRRD/NIfTI/MHA file or DICOM series folder; SEG: .seg.nrrd (segment "
        "name = lesion name), label map (each label value one lesion, named lesion_<label>), DICOM SEG or DICOM RT "
        "Structure Set. Lesion table "
        "columns: patient_id, lesion_id, location, status, target, then baseline:<measure or feature>, "
        "followup:..., delta:... (follow-up minus baseline) and reldelta:... (delta / |baseline|).",
    )
    extract.add_argument("--baseline", required=True, type=Path, metavar="IMG", help="baseline image")
    extract.add_argument("--baseline-seg", required=True, type=Path, metavar="SEG", help="baseline segmentation")
    extract.add_argument("--followup", required=True, type=Path, metavar="IMG", help="follow-up image")
    extract.add_argument("--followup-seg", required=True, type=Path, metavar="SEG", help="follow-up segmentation")
    extract.add_argument("--params", default=None,
                         help="preset name (default, ibsi, ligero2021, dercle2020, dercle2020_signature) or "
                         "pyradiomics YAML file (default: the 'default' preset)")
    extract.add_argument("--model", type=Path, default=None, metavar="MODEL.json",
                         help="compute only the features this signature model reads (its own extraction "
                         "settings, or --params narrowed to its inputs): the fast way to score one patient")
    extract.add_argument("--patient-id", default=None, help="patient_id of the table (default: the baseline file's name)")
    extract.add_argument("--locations", type=Path, default=None,
                         help="CSV with columns lesion_id,location (default: from the segment names, e.g. liver_1 "
                         "-> liver; lesions without a known location count as their own organ for RECIST)")
    extract.add_argument("--tolerance-mm", type=float, default=15.0, help="centroid matching tolerance (mm)")
    extract.add_argument("--pair", action="append", default=[], metavar="BASELINE=FOLLOWUP", help="force a lesion match")
    extract.add_argument("--engine", default="builtin", choices=["builtin", "pyradiomics"],
                         help="feature engine: built-in numpy (default) or pyradiomics (if installed)")
    extract.add_argument("--jobs", type=_positive_int, default=None, metavar="N",
                         help="threads measuring lesions side by side (default: 2, or 1 on a one-core machine; "
                         "1 = one lesion after the other). The lesion table does not depend on it")
    extract.add_argument("--out", required=True, type=Path, help="lesion table CSV")
    from .dicom_cli import add_extract_options

    add_extract_options(extract)
    extract.set_defaults(func=run_extract, output_files=("out",))


def _positive_int(text: str) -> int:
    """argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return value


def _add_recist(subparsers) -> None:
    recist = subparsers.add_parser(
        "recist",
        help="RECIST 1.1 over several follow-ups (nadir over all earlier ones) from lesion tables",
        description="Each LESIONS.csv is one patient's lesion table of baseline vs one follow-up (from 'extract'), "
        "given in time order with the same baseline segmentation.",
    )
    recist.add_argument("tables", nargs="+", type=Path, metavar="LESIONS.csv",
                        help="lesion tables of one patient, first follow-up first")
    recist.add_argument("--out", type=Path, help="CSV with one row per follow-up")
    recist.set_defaults(func=run_recist, output_files=("out",))


def _add_feature_maps(subparsers) -> None:
    maps = subparsers.add_parser(
        "feature-maps",
        help="voxel-based feature maps of one segment (one NRRD per feature, built-in engine)",
        description="For every voxel of the segment, the features of the kernel around it, as pyradiomics' "
        "voxel-based extraction computes them (same names, grids and values). Kernel settings come from the "
        "parameter file's voxelSetting section: kernelRadius (1), maskedKernel (true), initValue (0: the value "
        "outside the segment), voxelBatch. Shape features are not voxel-based. IMG: NRRD/NIfTI/MHA file or DICOM "
        "series folder; MASK: label map or .seg.nrrd on (or resampled to) the image grid.",
    )
    maps.add_argument("--image", required=True, type=Path, metavar="IMG", help="the image")
    maps.add_argument("--mask", required=True, type=Path, metavar="MASK", help="the segment's label map or .seg.nrrd")
    maps.add_argument("--label", type=_positive_int, default=None, metavar="N",
                      help="label value of the segment (default: the parameter file's 'label' setting, else 1)")
    maps.add_argument("--params", default=None,
                      help="preset name (ibsi, ligero2021, dercle2020, default) or pyradiomics YAML")
    maps.add_argument("--out-dir", required=True, type=Path, metavar="DIR",
                      help="folder for <feature>.nrrd maps and feature_maps.provenance.json")
    maps.add_argument("--engine", default="builtin", choices=["builtin", "pyradiomics"],
                      help="feature engine: built-in numpy (default) or pyradiomics (if installed)")
    maps.set_defaults(func=run_feature_maps, output_folders=("out_dir",), derived_outputs=_maps_provenance_output)


def _maps_provenance_output(args: argparse.Namespace) -> list:
    """The provenance file ``feature-maps`` writes in ``--out-dir`` (the maps' names are known only
    once computed: they are checked then, all before the first is written)."""
    return [(args.out_dir / FEATURE_MAPS_PROVENANCE, "Provenance file in --out-dir")]


#: provenance sidecar written beside the maps by ``feature-maps``
FEATURE_MAPS_PROVENANCE = "feature_maps.provenance.json"


def run_feature_maps(args: argparse.Namespace) -> int:
    """Handler of ``feature-maps``: one NRRD per feature map and a provenance JSON in ``--out-dir``."""
    from .engine.feature_maps import voxel_settings
    from .extraction import compute_feature_maps, load_params
    from .imageio import read_image
    from .outputs import check_output_file
    from .provenance import make_provenance, settings_hash
    from .tableio import write_json

    image = read_image(args.image)
    params = _voxel_params(load_params(args.params))
    label = args.label if args.label is not None else int((params.get("setting") or {}).get("label", 1))
    segment = _segment_with_label(args.mask, image, label)
    voxel = voxel_settings(params)
    count = _voxel_count(segment.mask)
    print(f"Feature maps of segment '{segment.name}' (label {label}): {count} voxels, kernel radius "
          f"{voxel['kernelRadius']}, maskedKernel {voxel['maskedKernel']}; Ctrl-C stops", file=sys.stderr)
    maps = compute_feature_maps(image, segment.mask, params, engine=args.engine, progress=TextProgressBar())
    paths = {name: check_output_file(args.out_dir / f"{name}.nrrd") for name in maps}  # all, before writing one
    files = {name: _write_map(result, paths[name]).name for name, result in maps.items()}
    first = next(iter(maps.values()), None)
    provenance = make_provenance(
        engine=args.engine, image=str(args.image), mask=str(args.mask), label=label, segment=segment.name,
        extraction_settings=params, extraction_settings_sha256=settings_hash(params), voxel_settings=voxel,
        roi_voxels=count, maps=files, map_geometry=_geometry(first) if first is not None else None,
    )
    write_json(args.out_dir / FEATURE_MAPS_PROVENANCE, provenance)
    print(f"{len(files)} feature maps written to {args.out_dir}")
    return 0


def _voxel_count(mask) -> int:
    """Non-zero voxels of a SimpleITK mask."""
    import numpy as np
    import SimpleITK as sitk

    return int(np.count_nonzero(sitk.GetArrayViewFromImage(mask)))


def _voxel_params(params: dict) -> dict:
    """The pyradiomics part of the parameters; InputError if they ask for Zhao features (not voxel-based)."""
    from .errors import InputError
    from .extraction import split_zhao_params

    pyradiomics_part, groups, _ = split_zhao_params(params)
    if groups:
        raise InputError("the parameters enable Zhao features (featureClass: zhao), which are not available as "
                         "feature maps; remove that class or choose another parameter file.")
    return pyradiomics_part


def _segment_with_label(path: Path, image, label: int):
    """The one segment of a label map / .seg.nrrd whose label value is ``label`` (on the image grid)."""
    from .errors import InputError
    from .imageio import read_segments

    segments = read_segments(path, image)
    found = [segment for segment in segments if segment.label_value == label]
    if len(found) == 1:
        return found[0]
    if not found:
        labels = ", ".join(sorted({str(segment.label_value) for segment in segments}))
        raise InputError(f"'{path}' has no segment with label {label} (labels present: {labels}); "
                         "choose one with --label.")
    names = ", ".join(segment.name for segment in found)
    raise InputError(f"several segments of '{path}' carry label {label} ({names}); save the segment of interest "
                     "as a label map to choose it.")


def _write_map(result, path: Path) -> Path:
    """Write one map (compressed NRRD) atomically (temporary file + rename: an earlier map of that
    name stays whole if the write fails); InputError naming the file if that fails."""
    import SimpleITK as sitk

    from .errors import InputError
    from .outputs import write_file_atomic

    def write(temp_name: str) -> None:
        try:
            sitk.WriteImage(result, temp_name, True)
        except RuntimeError as exc:
            raise InputError(f"Cannot write '{path}': {str(exc).strip().splitlines()[0]}") from exc

    return write_file_atomic(path, write, keep_suffix=True)


def _geometry(result) -> dict:
    """Grid of a map (all maps of one run share it): size and spacing (x, y, z), origin, direction (LPS)."""
    return {"size": list(result.GetSize()), "spacing": list(result.GetSpacing()),
            "origin": list(result.GetOrigin()), "direction": list(result.GetDirection()),
            "pixel_type": result.GetPixelIDTypeAsString()}


def run_recist(args: argparse.Namespace) -> int:
    """Handler of ``recist``: per-follow-up RECIST 1.1 of one patient."""
    import pandas as pd

    from .errors import InputError
    from .lesion_table import recist_over_time
    from .tableio import read_table, write_table

    tables = [read_table(path) for path in args.tables]
    patients = {str(p) for table in tables for p in table["patient_id"].unique()}
    if len(patients) != 1:
        raise InputError(f"the lesion tables must all be of one patient; found {', '.join(sorted(patients))}.")
    rows = recist_over_time(tables)
    for row, path in zip(rows, args.tables):
        print(f"follow-up {row['followup']} ({path.name}): {row['recist_category']:<3} sum {row['sum_diameters_mm']:.1f} mm, "
              f"{row['percent_change_from_baseline']:+.1f} % from baseline, nadir {row['nadir_mm']:.1f} mm ({row['recist_reason']})")
    if args.out:
        table = pd.DataFrame(rows)
        table.insert(0, "patient_id", patients.pop())
        table.insert(2, "lesion_table", [str(path) for path in args.tables])
        write_table(table, args.out)
    return 0


def run_extract(args: argparse.Namespace) -> int:
    """Handler of ``extract``: writes the lesion table, its provenance and the RECIST result."""
    from .dicom_cli import check_extract_options

    check_extract_options(args)
    pairs = [_parse_pair(text) for text in args.pair]
    from .imageio import CaseReading  # numpy and SimpleITK only

    # The scans decompress in two threads while the pipeline's code loads (-7 % wall, benchmarks README).
    reading = CaseReading(args.baseline, args.baseline_seg, args.followup, args.followup_seg, cropped=True)
    from .pipeline import run_case_files
    from .tableio import write_table

    params = args.params
    if args.model is not None:
        from .models import load_model
        from .signature_features import settings_for_model

        params = settings_for_model(load_model(args.model), args.params)
    result = run_case_files(
        args.baseline, args.baseline_seg, args.followup, args.followup_seg,
        patient_id=args.patient_id, params=params, locations=args.locations,
        pairs=pairs, tolerance_mm=args.tolerance_mm, engine=args.engine, progress=TextProgressBar(),
        workers=args.jobs, reading=reading,
    )
    write_table(result.table, args.out, {**result.provenance, "recist": result.recist, "errors": result.errors})
    print_summary(result)
    print(f"Lesion table: {args.out}")
    from .dicom_cli import export_after_extract

    export_after_extract(args, result)
    return 0


def _parse_pair(text: str) -> tuple[str, str]:
    from .errors import InputError

    baseline, sep, followup = text.partition("=")
    if not sep or not baseline or not followup:
        raise InputError(f"--pair takes BASELINE=FOLLOWUP segment names, got {text!r}.")
    return baseline.strip(), followup.strip()


def run_sample_data(args: argparse.Namespace) -> int:
    """Handler of ``sample-data``."""
    from .sample_cohort import make_sample_cohort
    from .sample_data import make_sample_case

    if args.cohort:
        paths = make_sample_cohort(args.outdir, n_patients=args.cohort, seed=args.seed)
    else:
        paths = make_sample_case(args.outdir, seed=args.seed, patient_id=args.patient_id, second_followup=True,
                                 dicom=args.dicom)
    for name, path in paths.items():
        print(f"{name}: {path}")
    return 0


def run_lesion_demo(out: Path, params="default", progress=None):
    """Sample case -> lesion table (written to ``out``); returns (paths, LesionTableResult)."""
    from .pipeline import run_case_files
    from .sample_data import make_sample_case
    from .tableio import write_table

    paths = make_sample_case(out / "sample_case", seed=0, patient_id="sample")
    result = run_case_files(
        paths["baseline_image"], paths["baseline_seg"], paths["followup_image"], paths["followup_seg"],
        patient_id="sample", locations=paths["locations"], params=params, progress=progress,
    )
    write_table(result.table, out / "lesions.csv", {**result.provenance, "recist": result.recist, "errors": result.errors})
    return paths, result


def run_demo(args: argparse.Namespace) -> int:
    """Handler of ``demo`` (lesion stage only; the full pipeline demo is in NomogramScoreLib)."""
    _, result = run_lesion_demo(args.out, progress=TextProgressBar())
    print_summary(result)
    print(f"Tables written to {args.out}")
    return 0


def print_summary(result) -> None:
    """A short lesion / RECIST summary for the terminal, in the report's words and number formats."""
    from .formatting import change_percent, number, quantity

    table, recist = result.table, result.recist
    print(f"\nPatient {table['patient_id'].iloc[0] if len(table) else '?'}: {len(table)} lesions")
    print(f"{'':<45}{'Longest diameter (mm)':>20}{'Volume (ml)':>20}")
    print(f"{'Lesion':<14}{'Location':<10}{'Status':<13}{'Target':<8}{'baseline':>10}{'follow-up':>10}"
          f"{'baseline':>10}{'follow-up':>10}")
    for _, lesion in table.iterrows():
        print(f"{str(lesion['lesion_id']):<14}{str(lesion['location']):<10}{lesion['status']:<13}"
              f"{'yes' if lesion['target'] else '':<8}"
              f"{number(lesion['baseline:longest_diameter_mm']):>10}{number(lesion['followup:longest_diameter_mm']):>10}"
              f"{number(lesion['baseline:volume_ml'], 2):>10}{number(lesion['followup:volume_ml'], 2):>10}")
    print(f"RECIST 1.1: {recist.get('recist_category')} ({recist.get('recist_reason')}); sum of diameters "
          f"{quantity(recist.get('baseline_sum_mm'), 'mm')} -> {quantity(recist.get('followup_sum_mm'), 'mm')} "
          f"({change_percent(recist.get('percent_change_from_baseline'))})")
    for error in result.errors:
        print(f"  warning: {error['message']}")
    for warning in result.warnings:
        print(f"  warning: {warning}")


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m ResponseSignatureLib``: the lesion-stage sub-commands."""
    parser = argparse.ArgumentParser(prog="python -m ResponseSignatureLib", description=__doc__)
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser, argv)


