"""DICOM RT Structure Set -> lesion masks on the CT grid.

Each ROI of the structure set becomes one ``Segment`` named after its ROI Name, coloured with its
ROI Display Color. Its CLOSED_PLANAR contours are rasterised onto the slices of the reference
image they lie on:

- a voxel is inside when its centre is inside the contour (voxel centres exactly on a left edge
  count as inside, on a right edge as outside, so two contours sharing an edge never both take a
  voxel);
- all contours of one ROI on one slice are filled together with the even-odd rule, so a contour
  inside another is a hole, and separate contours are separate islands (the convention of the
  RT Structure Set: "an inner contour excludes"; nested holes-in-holes alternate);
- a contour must lie on a slice of the image (within a quarter of the slice spacing); one that
  does not is an error naming the ROI, never silently moved;
- POINT and OPEN contours describe no area and are skipped (with a log message).

The result matches the IBSI CT phantom's NIfTI mask made from the same structure set (see
Testing/response_signature/test_dicom_rtstruct.py).
"""
from __future__ import annotations

import logging

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .segment import Segment

logger = logging.getLogger(__name__)

#: a contour may sit this fraction of the slice spacing away from a slice centre
SLICE_TOLERANCE = 0.25


def segments_from_rtstruct(dataset, reference: sitk.Image, path) -> list[Segment]:
    """One Segment per ROI of the structure set, rasterised on the grid of ``reference``."""
    names = {int(roi.ROINumber): str(roi.get("ROIName", "") or f"ROI_{roi.ROINumber}")
             for roi in dataset.get("StructureSetROISequence", [])}
    segments = []
    for roi in dataset.get("ROIContourSequence", []):
        number = int(roi.ReferencedROINumber)
        name = names.get(number, f"ROI_{number}")
        contours = _closed_contours(roi, name, path)
        mask = rasterise(contours, reference, name)
        segments.append(Segment(name, mask, number, _color(roi)))
    return segments


def _closed_contours(roi, name: str, path) -> list[np.ndarray]:
    """The (N, 3) LPS point arrays of an ROI's CLOSED_PLANAR contours."""
    contours = []
    for contour in roi.get("ContourSequence", []):
        kind = str(contour.get("ContourGeometricType", "CLOSED_PLANAR"))
        points = np.asarray([float(v) for v in contour.get("ContourData", [])], float).reshape(-1, 3)
        if kind != "CLOSED_PLANAR":
            logger.info("'%s': ROI '%s' has a %s contour, which encloses no area; skipped.", path, name, kind)
            continue
        if len(points) >= 3:
            contours.append(points)
    return contours


def _color(roi):
    color = roi.get("ROIDisplayColor")
    if color is None or len(color) != 3:
        return None
    return tuple(float(c) / 255.0 for c in color)


def rasterise(contours: list[np.ndarray], reference: sitk.Image, name: str = "ROI") -> sitk.Image:
    """UInt8 mask on the reference grid of closed planar contours (LPS mm), even-odd per slice."""
    size = reference.GetSize()
    out = np.zeros(size[::-1], np.uint8)
    by_slice: dict[int, list[np.ndarray]] = {}
    for points in contours:
        index = _continuous_index(points, reference)
        k = int(round(float(np.mean(index[:, 2]))))
        if np.max(np.abs(index[:, 2] - k)) > SLICE_TOLERANCE:
            raise InputError(f"RT structure '{name}': a contour does not lie on a slice of the image (it is "
                             f"{np.max(np.abs(index[:, 2] - k)):.2f} slices off); the structure set was drawn on "
                             "another series or the image was resampled.")
        if 0 <= k < size[2]:
            by_slice.setdefault(k, []).append(index[:, :2])
    for k, polygons in by_slice.items():
        out[k] = fill_even_odd(polygons, (size[1], size[0]))
    mask = sitk.GetImageFromArray(out)
    mask.CopyInformation(reference)
    return mask


def _continuous_index(points: np.ndarray, reference: sitk.Image) -> np.ndarray:
    """(N, 3) continuous (i, j, k) indices of LPS points on the reference grid."""
    matrix = np.array(reference.GetDirection()).reshape(3, 3) @ np.diag(reference.GetSpacing())
    return np.linalg.solve(matrix, (points - np.array(reference.GetOrigin())).T).T


def fill_even_odd(polygons: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """Boolean (rows, columns) image of the pixels whose centre is inside an odd number of polygons.

    ``polygons``: (N, 2) arrays of continuous (column i, row j) indices, implicitly closed. Each
    row's crossings with every edge of every polygon toggle the inside state from the first pixel
    centre at or right of the crossing; a cumulative sum of the toggles gives the parity. Edges
    count rows in [y_low, y_high) so a vertex on a row is crossed once.
    """
    rows, columns = shape
    toggles = np.zeros((rows, columns + 1), np.int32)
    for polygon in polygons:
        start, end = polygon, np.roll(polygon, -1, axis=0)
        low, high = np.minimum(start[:, 1], end[:, 1]), np.maximum(start[:, 1], end[:, 1])
        first, stop = np.ceil(low).astype(int), np.ceil(high).astype(int)
        first, stop = np.clip(first, 0, rows), np.clip(stop, 0, rows)
        counts = np.maximum(stop - first, 0)
        if not counts.any():
            continue
        edge = np.repeat(np.arange(len(polygon)), counts)
        row = np.repeat(first, counts) + _ranges(counts)
        y0, y1 = start[edge, 1], end[edge, 1]
        x0, x1 = start[edge, 0], end[edge, 0]
        x = x0 + (row - y0) * (x1 - x0) / (y1 - y0)
        column = np.clip(np.ceil(x).astype(int), 0, columns)
        np.add.at(toggles, (row, column), 1)
    return (np.cumsum(toggles, axis=1)[:, :columns] % 2).astype(bool)


def _ranges(counts: np.ndarray) -> np.ndarray:
    """0, 1, ..., c-1 for each c in counts, concatenated."""
    total = int(counts.sum())
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    return np.arange(total) - starts
