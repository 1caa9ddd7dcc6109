"""``radiomics-response ibsi-phantom``: the IBSI 1 CT phantom values of one configuration (A-E) as a table.

IBSI validates the whole image-processing chain on the CT image of a lung cancer patient (PAT1, the
GTV) in five configurations; the presets ``ibsi_ct_A`` ... ``ibsi_ct_E`` reproduce them with the
built-in engine's ``ibsi:`` settings (engine/ibsi_processing.py). The output has one row per value,
columns ``ibsi_code,aggregation,value``: the IBSI identifier as the manual prints it, the texture
aggregation as the IBSI tables spell it (``2D, averaged``, ``3D, merged``, ``2.5D``...; empty for
non-texture families), and the value. Compliance is then a join on (code, aggregation) with IBSI's
reference table. The manual gives three identifiers to two features each (1PR8: minimum and 10th
percentile of the discretised intensity; BC2M: V10 and V90; GBPN: I10 and I90); such rows are
written in the manual's order, so the n-th row of a code joins the n-th reference row of it. Codes are
those the manual prints above each feature, as in its CT tables (see docs/ibsi-ct-phantom.md for the
three that other IBSI tables spell differently).

IBSI asks for the NIfTI stacks to be read as (at least) 32-bit floating point and rounded to integers
before processing: the image is read as float64 and rounded here.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import SimpleITK as sitk

from .errors import InputError

CONFIGURATIONS = ("A", "B", "C", "D", "E")
COLUMNS = ("ibsi_code", "aggregation", "value")


def preset_name(configuration: str) -> str:
    """The preset of an IBSI CT phantom configuration ('A' -> 'ibsi_ct_A')."""
    if configuration not in CONFIGURATIONS:
        raise InputError(f"unknown IBSI configuration {configuration!r}: expected one of {', '.join(CONFIGURATIONS)}")
    return f"ibsi_ct_{configuration}"


def read_phantom(image_path, mask_path) -> tuple[sitk.Image, sitk.Image]:
    """(image as float64 rounded to integers, its one ROI as a 0/1 mask on the image grid)."""
    from .imageio import read_image, read_segments

    image = sitk.Round(sitk.Cast(read_image(image_path), sitk.sitkFloat64))
    segments = read_segments(mask_path, image)
    if len(segments) != 1:
        names = ", ".join(segment.name for segment in segments) or "none"
        raise InputError(f"'{mask_path}' must hold exactly one ROI (the GTV), found: {names}")
    return image, segments[0].mask


def phantom_table(image: sitk.Image, mask: sitk.Image, configuration: str) -> pd.DataFrame:
    """One row per IBSI value of ``configuration`` (columns ``COLUMNS``, provenance in ``attrs``)."""
    from .engine.ibsi_features import ibsi_values
    from .extraction import load_params
    from .provenance import make_provenance, settings_hash

    params = load_params(preset_name(configuration))
    values = ibsi_values(image, mask, params, lesion_id=f"IBSI configuration {configuration}")
    table = pd.DataFrame([(v.code, v.aggregation_label, v.value) for v in values], columns=list(COLUMNS))
    table.attrs["provenance"] = make_provenance(engine="builtin", ibsi_configuration=configuration,
                                                extraction_settings=params,
                                                extraction_settings_sha256=settings_hash(params),
                                                feature_names=[v.key for v in values])
    return table


def add_subcommand(subparsers) -> None:
    """Add ``ibsi-phantom`` to an argparse sub-parser collection."""
    parser = subparsers.add_parser(
        "ibsi-phantom",
        help="IBSI 1 CT phantom: the values of configuration A-E, one row per value",
        description="Runs the IBSI image-processing configuration (preset ibsi_ct_<CONFIG>) on the IBSI CT phantom "
        "and writes ibsi_code,aggregation,value per row, for a join with IBSI's reference values on (code, "
        "aggregation). IMG: NIfTI/NRRD file or DICOM folder; MASK: label map or .seg.nrrd with the GTV.",
    )
    parser.add_argument("--image", required=True, type=Path, metavar="IMG", help="the CT phantom image (NIfTI/NRRD or DICOM folder)")
    parser.add_argument("--mask", required=True, type=Path, metavar="MASK", help="its GTV mask (label map, non-zero = ROI)")
    parser.add_argument("--config", required=True, choices=CONFIGURATIONS, help="IBSI configuration")
    parser.add_argument("--out", required=True, type=Path, help="values CSV")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Handler of ``ibsi-phantom``."""
    from .tableio import write_table

    image, mask = read_phantom(args.image, args.mask)
    table = phantom_table(image, mask, args.config)
    write_table(table, args.out)
    print(f"{len(table)} IBSI values of configuration {args.config} written to {args.out} "
          f"({int(np.isnan(table['value']).sum())} without a value)")
    return 0
