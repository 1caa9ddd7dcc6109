"""DICOM Segmentation (SEG) objects <-> lesion ``Segment`` lists.

Reading (``segments_from_seg``): every segment of a BINARY, FRACTIONAL or LABELMAP SEG becomes a
``Segment`` named after its Segment Label, with its recommended display colour, its Tracking UID
and, when the SEG codes it, its location (Anatomic Region, else Primary Anatomic Structure, else a
Segmented Property Type that is an organ, e.g. "Lymph node"). The frames are placed on the SEG's
own slice grid (from the frames' plane positions); ``imageio.read_segments`` then maps that grid
onto the CT (an exact copy when the SEG frames are CT slices, as usual). A fractional segment
keeps the voxels whose fraction is at least one half.

Writing (``write_seg``): one BINARY SEG per time point, built by highdicom from the CT series the
image was read from, with one segment per lesion: label = lesion name, category "Morphologically
altered structure", type "Lesion", anatomic region = the lesion's location, Tracking ID = lesion
id and Tracking UID = the lesion's UID shared by every time point. Only slices that hold a lesion
are written (the SEG's frames reference their CT instances).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .dicom_io import MANUFACTURER, location_code, location_from_code, require_dicom
from .errors import InputError
from .segment import Segment, same_geometry

logger = logging.getLogger(__name__)

#: series number of the SEG series we write (the SR takes the next one)
SEG_SERIES_NUMBER = 901
#: a fractional voxel belongs to the segment from this fraction of the maximum on
FRACTION_THRESHOLD = 0.5
#: 64 characters: the longest Segment Label / Tracking ID (LO) DICOM allows
MAX_LABEL = 64


# ------------------------------------------------------------------------------------- reading

def segments_from_seg(dataset, path) -> list[Segment]:
    """One Segment per segment of a DICOM SEG dataset, on the SEG's own slice grid."""
    kind = str(dataset.get("SegmentationType", "BINARY"))
    if kind not in ("BINARY", "FRACTIONAL", "LABELMAP"):
        raise InputError(f"DICOM SEG '{path}' has SegmentationType {kind} (expected BINARY, FRACTIONAL or LABELMAP).")
    frames = _frames(dataset, path)
    grid = _FrameGrid.of(dataset, path)
    numbers = _frame_segment_numbers(dataset, kind, len(frames))
    threshold = FRACTION_THRESHOLD * float(dataset.get("MaximumFractionalValue", 1)) if kind == "FRACTIONAL" else 0.5
    segments = []
    for description in dataset.get("SegmentSequence", []):
        number = int(description.SegmentNumber)
        volume = np.zeros((grid.depth, grid.rows, grid.columns), np.uint8)
        for frame, k, on_frame in zip(frames, grid.slice_of_frame, numbers):
            if kind == "LABELMAP":
                volume[k] |= frame == number
            elif on_frame == number:
                volume[k] |= frame >= threshold
        segments.append(Segment(
            name=str(description.get("SegmentLabel", "") or f"segment_{number}"),
            mask=grid.image(volume), label_value=number, color=_display_color(description),
            location=_location(description), tracking_uid=str(description.get("TrackingUID", "")) or None))
    return segments


def _frames(dataset, path) -> np.ndarray:
    try:
        pixels = dataset.pixel_array
    except Exception as exc:  # noqa: BLE001 - a decoder error names no file
        raise InputError(f"DICOM SEG '{path}': its frames cannot be decoded ({exc}).") from exc
    return pixels.reshape((-1,) + pixels.shape[-2:]) if pixels.ndim >= 2 else pixels


def _frame_segment_numbers(dataset, kind: str, count: int) -> list:
    if kind == "LABELMAP":
        return [None] * count
    return [int(_functional_item(dataset, i, "SegmentIdentificationSequence").ReferencedSegmentNumber)
            for i in range(count)]


def _functional_item(dataset, frame: int, sequence: str):
    """The item of a functional group for one frame (per-frame group first, then the shared one)."""
    per_frame = dataset.get("PerFrameFunctionalGroupsSequence")
    if per_frame is not None and frame < len(per_frame) and sequence in per_frame[frame]:
        return per_frame[frame][sequence][0]
    shared = dataset.get("SharedFunctionalGroupsSequence")
    if shared and sequence in shared[0]:
        return shared[0][sequence][0]
    raise InputError(f"DICOM SEG frame {frame + 1} has no {sequence} (a malformed segmentation).")


@dataclass
class _FrameGrid:
    """The slice grid of a SEG's frames: in-plane geometry, slice positions, and each frame's slice."""

    origin: np.ndarray
    direction: np.ndarray      # 3x3, columns: row direction, column direction, normal
    spacing: tuple
    rows: int
    columns: int
    depth: int
    slice_of_frame: list

    @classmethod
    def of(cls, dataset, path) -> "_FrameGrid":
        count = int(dataset.get("NumberOfFrames", 1))
        orientation = np.array([float(v) for v in _functional_item(dataset, 0, "PlaneOrientationSequence").ImageOrientationPatient])
        measures = _functional_item(dataset, 0, "PixelMeasuresSequence")
        pixel = [float(v) for v in measures.PixelSpacing]
        along_row, along_column = orientation[:3], orientation[3:]
        normal = np.cross(along_row, along_column)
        positions = np.array([[float(v) for v in _functional_item(dataset, i, "PlanePositionSequence").ImagePositionPatient]
                              for i in range(count)])
        heights = positions @ normal
        spacing = _slice_spacing(measures, np.unique(np.round(heights, 4)))
        lowest = int(np.argmin(heights))
        steps = (heights - heights[lowest]) / spacing
        slices = np.rint(steps).astype(int)
        in_plane = (positions - positions[lowest]) - np.outer(heights - heights[lowest], normal)
        if np.max(np.abs(steps - slices), initial=0) > 0.01 or np.max(np.abs(in_plane), initial=0) > 1e-2:
            raise InputError(f"DICOM SEG '{path}': its frames do not lie on one regular grid of slices.")
        return cls(positions[lowest] - 0.0, np.column_stack([along_row, along_column, normal]),
                   (pixel[1], pixel[0], spacing), int(dataset.Rows), int(dataset.Columns),
                   int(slices.max()) + 1, list(slices))

    def image(self, volume: np.ndarray) -> sitk.Image:
        mask = sitk.GetImageFromArray(volume)
        mask.SetOrigin([float(v) for v in self.origin])
        mask.SetSpacing([float(v) for v in self.spacing])
        mask.SetDirection([float(v) for v in self.direction.ravel()])
        return mask


def _slice_spacing(measures, heights: np.ndarray) -> float:
    given = float(measures.get("SpacingBetweenSlices", 0) or 0)
    if given > 0:
        return given
    gaps = np.diff(heights)
    if len(gaps):
        return float(gaps.min())
    return float(measures.get("SliceThickness", 1.0) or 1.0)


def _location(description) -> str | None:
    """Lesion location from the segment's codes: anatomic region, primary structure, organ property type."""
    for sequence in ("AnatomicRegionSequence", "PrimaryAnatomicStructureSequence"):
        items = description.get(sequence)
        if items:
            return location_from_code(items[0].CodeValue, items[0].get("CodeMeaning", ""))
    types = description.get("SegmentedPropertyTypeCodeSequence")
    if types:
        found = location_from_code(types[0].CodeValue, "")
        return found if found != "other" else None
    return None


def _display_color(description):
    lab = description.get("RecommendedDisplayCIELabValue")
    return lab_to_rgb(lab) if lab is not None and len(lab) == 3 else None


# ------------------------------------------------------------------------------------- colours
# DICOM stores CIELab (D65) scaled to 0..65535 (PS3.3 C.10.7.1.1); we keep sRGB 0..1.
_D65 = np.array([0.95047, 1.0, 1.08883])
_RGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])


def rgb_to_lab(rgb) -> list[int]:
    """sRGB (0..1) -> DICOM scaled CIELab (three ints 0..65535)."""
    c = np.clip(np.asarray(rgb, float), 0.0, 1.0)
    linear = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = _RGB_TO_XYZ @ linear / _D65
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    lab = np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])
    scaled = [lab[0] / 100 * 65535, (lab[1] + 128) / 255 * 65535, (lab[2] + 128) / 255 * 65535]
    return [int(np.clip(round(v), 0, 65535)) for v in scaled]


def lab_to_rgb(lab) -> tuple:
    """DICOM scaled CIELab -> sRGB (0..1)."""
    values = [float(v) for v in lab]
    light, a, b = values[0] / 65535 * 100, values[1] / 65535 * 255 - 128, values[2] / 65535 * 255 - 128
    fy = (light + 16) / 116
    f = np.array([fy + a / 500, fy, fy - b / 200])
    xyz = np.where(f > 6 / 29, f ** 3, 3 * (6 / 29) ** 2 * (f - 4 / 29)) * _D65
    linear = np.linalg.solve(_RGB_TO_XYZ, xyz)
    c = np.clip(linear, 0.0, 1.0)
    srgb = np.where(c <= 0.0031308, 12.92 * c, 1.055 * c ** (1 / 2.4) - 0.055)
    return tuple(round(float(v), 4) for v in srgb)


# ------------------------------------------------------------------------------------- writing

@dataclass
class SegLesion:
    """One lesion to write: its mask (on the CT grid) and how it is tracked across time points."""

    segment: Segment
    tracking_id: str
    tracking_uid: str
    location: str | None = None


def write_seg(lesions: list[SegLesion], image: sitk.Image, source: list, path, series_uid: str | None = None,
              description: str = "Lesions (RadiomicsResponse)"):
    """Write a BINARY DICOM SEG of ``lesions`` referencing the CT series ``source``; returns the dataset.

    ``image`` is the CT the masks are on, ``source`` its datasets one per slice (dicom_io.source_series).
    Segment numbers follow the order of ``lesions``.
    """
    pydicom, hd = require_dicom()
    from pydicom.sr.coding import Code

    from . import __version__

    if not lesions:
        raise InputError(f"No lesion to write into '{path}' (expected at least one segment with voxels).")
    for lesion in lesions:
        if not same_geometry(lesion.segment.mask, image):
            raise InputError(f"segment '{lesion.segment.name}' is not on the grid of its CT; cannot write '{path}'.")
    masks = np.stack([sitk.GetArrayViewFromImage(lesion.segment.mask) != 0 for lesion in lesions], axis=-1)
    used = np.flatnonzero(masks.any(axis=(1, 2, 3)))
    descriptions = [_description(number, lesion, hd, Code) for number, lesion in enumerate(lesions, start=1)]
    seg = hd.seg.Segmentation(
        source_images=[source[k] for k in used], pixel_array=masks[used].astype(np.uint8),
        segmentation_type=hd.seg.SegmentationTypeValues.BINARY, segment_descriptions=descriptions,
        series_instance_uid=series_uid or pydicom.uid.generate_uid(), series_number=SEG_SERIES_NUMBER,
        sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1, manufacturer=MANUFACTURER,
        manufacturer_model_name="radiomics-response", software_versions=__version__, device_serial_number="1",
        content_label="LESIONS", content_description=description[:64], series_description=description[:64],
    )
    seg.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: segment labels in any script
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    seg.save_as(str(temp))
    temp.replace(path)
    return seg


def _description(number: int, lesion: SegLesion, hd, Code):
    """highdicom SegmentDescription of one lesion."""
    name = lesion.segment.name
    if len(name) > MAX_LABEL or len(lesion.tracking_id) > MAX_LABEL:
        logger.warning("Lesion name '%s' is longer than DICOM's 64 characters; the SEG keeps its first 64.", name)
    region = location_code(lesion.location) if lesion.location else None
    description = hd.seg.SegmentDescription(
        segment_number=number, segment_label=name[:MAX_LABEL],
        segmented_property_category=Code("49755003", "SCT", "Morphologically Altered Structure"),
        segmented_property_type=Code("52988006", "SCT", "Lesion"),
        algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        tracking_id=lesion.tracking_id[:MAX_LABEL], tracking_uid=lesion.tracking_uid,
        anatomic_regions=[region] if region is not None else None)
    if lesion.segment.color is not None:  # set directly: highdicom < 0.23 has no display_color argument
        description.RecommendedDisplayCIELabValue = rgb_to_lab(lesion.segment.color)
    return description

