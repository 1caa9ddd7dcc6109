"""One lesion's segment (``Segment``) and the grid test every reader uses (``same_geometry``).

Apart from ``imageio`` so that the readers of other formats (DICOM SEG, RT Structure Set), which
``imageio.read_segments`` calls, can build segments without importing ``imageio`` back.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import SimpleITK as sitk

GEOMETRY_TOLERANCE = 1e-4


@dataclass
class Segment:
    """One lesion: a UInt8 0/1 mask on the reference image grid, with its Slicer name and colour.

    The mask covers the whole grid, or (``imageio.read_segments(cropped=True)``) only the box of it
    that holds the lesion: an image with the reference's spacing and direction whose origin is the
    reference's voxel at the box corner (a 1-voxel zero image at the reference's origin for an
    empty segment). ``location`` and ``tracking_uid`` come from the file when it codes them
    (.seg.nrrd location tag, DICOM SEG; see dicom_seg.py).
    """

    name: str
    mask: sitk.Image
    label_value: int = 1
    color: tuple | None = None
    note: str | None = None         # why the lesion cannot be measured (empty, outside the image)
    resampled: str | None = None    # "resampled from <grid> to <grid> ..." when the file was on another grid
    location: str | None = None     # organ the file codes: .seg.nrrd tag LOCATION_TAG or DICOM SEG anatomic region
    tracking_uid: str | None = None  # DICOM Tracking UID of the lesion, if the file gave one


def same_geometry(a: sitk.Image, b: sitk.Image, tolerance: float = GEOMETRY_TOLERANCE) -> bool:
    """True if two images have the same size, and spacing, origin and direction within tolerance."""
    if a.GetSize() != b.GetSize():
        return False
    pairs = ((a.GetSpacing(), b.GetSpacing()), (a.GetOrigin(), b.GetOrigin()),
             (a.GetDirection(), b.GetDirection()))
    return all(np.allclose(x, y, rtol=0.0, atol=tolerance) for x, y in pairs)
