"""One case's results as DICOM: a SEG per time point and the TID 1500 SR of the follow-up.

``export_case`` is what ``radiomics-response extract ... --dicom-out DIR`` and ``batch --dicom-out``
run after the lesion table is made; ``export_sources`` is the same from images and segments already
in memory (the Slicer module: volume and segmentation nodes, the CT files from Slicer's DICOM
database). DICOM output needs DICOM input images: a SEG and an SR must reference the CT instances a
PACS holds, so each time point's image must come from its DICOM series (folder or files). For
NRRD/NIfTI images ``export_case`` refuses with an InputError instead of inventing a CT series
nobody has (to try the DICOM output on the demo case, ``sample-data --dicom`` writes the synthetic
CT as DICOM series; see docs/dicom.md).

Files written in DIR: ``baseline_seg.dcm``, ``followup_seg.dcm`` (each in its time point's
study), ``followup_sr.dcm`` (in the follow-up study); each atomically (temporary file + rename).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import SimpleITK as sitk

from . import imageio, lesion_table
from .dicom_io import derived_uid, require_dicom, source_series, tracking_uid, write_image_series
from .dicom_seg import SegLesion, write_seg
from .dicom_sr import SegReference, SrContext, select_features, write_sr
from .errors import InputError

SEG_FILE = "{timepoint}_seg.dcm"
SR_FILE = "followup_sr.dcm"


@dataclass
class TimepointSource:
    """One time point as the lesion table saw it: the CT, its lesions on the CT's grid, and the DICOM
    series the CT came from (its folder, or the list of its files)."""

    image: sitk.Image
    segments: list
    series: object


def require_series_folders(images: dict) -> None:
    """InputError unless every time point's image (time point -> path) is a DICOM series folder."""
    for timepoint, image in images.items():
        if not Path(image).is_dir():
            raise InputError(f"DICOM output needs the {timepoint} image as a DICOM series folder, got '{image}': a SEG "
                             "and an SR must reference the CT instances of the PACS (see docs/dicom.md).")


def export_case(result, images: dict, segmentations: dict, out_dir, features=None, patient_groups=None) -> dict:
    """Write the SEGs and the SR of one case; returns {'baseline_seg', 'followup_seg', 'sr'} paths.

    ``result``: the LesionTableResult of the case; ``images`` / ``segmentations``: time point ->
    the DICOM series folder / segmentation file the table was computed from; ``features``:
    feature names or shell patterns to report (None: all); ``patient_groups``: more patient-level
    SR groups.
    """
    require_dicom()
    require_series_folders({timepoint: images[timepoint] for timepoint in lesion_table.TIMEPOINTS})
    sources = {}
    for timepoint in lesion_table.TIMEPOINTS:
        image = imageio.read_image(images[timepoint])
        sources[timepoint] = TimepointSource(image, imageio.read_segments(segmentations[timepoint], image),
                                             images[timepoint])
    return export_sources(result, sources, out_dir, features=features, patient_groups=patient_groups)


def export_sources(result, sources: dict, out_dir, features=None, patient_groups=None) -> dict:
    """``export_case`` from time point -> TimepointSource; returns the paths written."""
    require_dicom()
    out = Path(out_dir)
    table = result.table
    patient_id = str(table["patient_id"].iloc[0]) if len(table) else "patient"
    cases = {timepoint: (sources[timepoint].image, sources[timepoint].segments,
                         source_series(sources[timepoint].series, sources[timepoint].image))
             for timepoint in lesion_table.TIMEPOINTS}
    uids = lesion_tracking_uids(table, {tp: segments for tp, (_, segments, _) in cases.items()}, patient_id)
    paths, references = {}, {}
    for timepoint, (image, segments, source) in cases.items():
        lesions = _seg_lesions(table, timepoint, segments, uids)
        path = out / SEG_FILE.format(timepoint=timepoint)
        seg = write_seg(lesions, image, source, path)
        references[timepoint] = SegReference(seg, {lesion.segment.name: n for n, lesion in enumerate(lesions, 1)},
                                             str(source[0].SeriesInstanceUID))
        paths[f"{timepoint}_seg"] = path
    context = SrContext(patient_id, references, uids, select_features(table.columns, features),
                        [f"extraction settings sha256 {result.provenance.get('extraction_settings_sha256', '')}"])
    evidence = [*cases["followup"][2], references["followup"].seg, *cases["baseline"][2], references["baseline"].seg]
    paths["sr"] = out / SR_FILE
    write_sr(table, result.recist, context, evidence, paths["sr"], patient_groups=patient_groups)
    return paths


def segments_digest(segments, image: sitk.Image) -> str:
    """SHA-256 of the segments (names, masks) and of the grid they are on: tells whether the lesions
    an export would write are still those a lesion table was computed from."""
    digest = hashlib.sha256()
    digest.update(repr((image.GetSize(), image.GetOrigin(), image.GetSpacing(), image.GetDirection())).encode())
    for segment in segments:
        digest.update(segment.name.encode("utf-8") + b"\0")
        digest.update(sitk.GetArrayViewFromImage(segment.mask).tobytes())
    return digest.hexdigest()


def lesion_tracking_uids(table: pd.DataFrame, segments: dict, patient_id: str) -> dict:
    """lesion_id -> Tracking UID: the one an input DICOM SEG gave the lesion (baseline first), else
    one derived from patient and lesion id, so the same lesion gets the same UID at every time point
    and in every run."""
    given = {(timepoint, s.name): s.tracking_uid for timepoint, found in segments.items() for s in found if s.tracking_uid}
    uids = {}
    for _, row in table.iterrows():
        lesion_id = str(row["lesion_id"])
        candidates = [given.get((tp, row[f"{tp}_segment"])) for tp in lesion_table.TIMEPOINTS]
        uids[lesion_id] = next((uid for uid in candidates if uid), None) or tracking_uid(patient_id, lesion_id)
    return uids


def _seg_lesions(table: pd.DataFrame, timepoint: str, segments, uids: dict) -> list[SegLesion]:
    """The segments of one time point that have voxels, with their lesion's tracking and location."""
    rows = {row[f"{timepoint}_segment"]: row for _, row in table.iterrows() if isinstance(row[f"{timepoint}_segment"], str)}
    lesions = []
    for segment in segments:
        row = rows.get(segment.name)
        if segment.note or row is None:
            continue
        lesion_id = str(row["lesion_id"])
        lesions.append(SegLesion(segment, lesion_id, uids[lesion_id], str(row["location"])))
    return lesions


# ---------------------------------------------------------------------------------- sample data

#: study dates of the synthetic case: baseline, and follow-up eight weeks later (Dercle et al.)
SAMPLE_STUDY_DATES = {"baseline": "20240108", "followup": "20240304"}


def write_sample_dicom(out_dir, timepoint: str, image, segments, patient_id: str, locations: dict) -> dict:
    """The synthetic case's CT of one time point as a DICOM series and its lesions as a DICOM SEG.

    Returns {'<timepoint>_dicom': series folder, '<timepoint>_dicom_seg': SEG file}. UIDs are
    derived from the patient id, so the same case always gets the same studies and series.
    """
    out = Path(out_dir)
    study_uid = derived_uid("sample-study", patient_id, timepoint)
    folder = out / f"{timepoint}_dicom"
    write_image_series(image, folder, patient_id=patient_id, patient_name=f"Sample^{patient_id}",
                       study_uid=study_uid, study_date=SAMPLE_STUDY_DATES.get(timepoint, "20240101"),
                       series_description=f"Synthetic CT ({timepoint})", study_description=f"Synthetic CT {timepoint}")
    written = imageio.read_image(folder)
    source = source_series(folder, written)
    lesions = [SegLesion(_on_grid(segment, written), segment.name, tracking_uid(patient_id, segment.name),
                         locations.get(segment.name)) for segment in segments]
    seg_path = out / f"{timepoint}_seg.dcm"
    write_seg(lesions, written, source, seg_path, description="Lesions drawn (synthetic)")
    return {f"{timepoint}_dicom": folder, f"{timepoint}_dicom_seg": seg_path}


def _on_grid(segment, image):
    """The segment with its mask carrying exactly the geometry of the image read back from DICOM
    (decimal strings round the origin in the last digits)."""
    mask = imageio.resample_mask(segment.mask, image)
    return imageio.Segment(segment.name, mask, segment.label_value, segment.color, segment.note)
