"""2D shape features of a one-slice ROI, pyradiomics class ``shape2D``.

pyradiomics computes this class only with ``force2D`` on a ROI that is one slice thick along
``force2Ddimension`` (k=0, j=1, i=2); the in-plane pixel spacing is the image spacing without that
axis. Which lesions get the class follows pyradiomics' extractor exactly, see :func:`plane_decision`.

Mesh (pyradiomics' "adapted marching cubes", i.e. marching squares): a 2x2 window moves over the
zero-padded slice; its corners (0,0), (0,1), (1,1), (1,0) are bits 0-3 of the square configuration.
Every maximal run of ROI corners, going round the square in that order, contributes one line from
the midpoint of the edge before the run to the midpoint of the edge after it (edge e joins corners e
and e+1). So ROI pixels touching only diagonally stay apart (saddles 0101 and 1010 give two corner
cuts), and all lines run with the ROI on the same side, which makes the shoelace sum of the lines the
enclosed area (holes subtract).

MeshSurface A: shoelace area of the mesh lines; PixelSurface: N_p * pixel area; Perimeter P: total
line length; PerimeterSurfaceRatio P/A; Sphericity 2 sqrt(pi A) / P; SphericalDisproportion
P / (2 sqrt(pi A)) (deprecated: computed only when named); MaximumDiameter: largest distance between
mesh vertices (the midpoints of ROI/background pixel edges; searched over their convex hull, where
the farthest pair always lies); Major/MinorAxisLength 4 sqrt(lambda) of the pixel-centre covariance
(1/N normalisation, as pyradiomics); Elongation sqrt(lambda_minor / lambda_major).
"""
from __future__ import annotations

import numpy as np

from ..errors import LesionError
from .common import evaluate, plane_axis, select
from .descriptor import FeatureClass, FeatureInfo

#: (row, column) offsets of the square's corners, bit 0 to bit 3, going round the square
CORNERS = np.array([(0, 0), (0, 1), (1, 1), (1, 0)])
#: midpoint of edge e, which joins corner e and corner e + 1 (mod 4): top, right, bottom, left
EDGE_MIDPOINTS = np.array([(0.0, 0.5), (0.5, 1.0), (1.0, 0.5), (0.5, 0.0)])
AXIS_NAMES = ("k (slices, z)", "j (rows, y)", "i (columns, x)")


def _square_lines(config: int) -> list[tuple[int, int]]:
    """Mesh lines (from edge, to edge) of one square configuration: one per run of ROI corners."""
    inside = [bool(config >> c & 1) for c in range(4)]
    if all(inside) or not any(inside):
        return []
    lines = []
    for start in range(4):
        if inside[start] and not inside[start - 1]:  # a run of ROI corners begins at ``start``
            end = start
            while inside[(end + 1) % 4]:
                end = (end + 1) % 4
            lines.append(((start - 1) % 4, end))
    return lines


def _line_table() -> tuple[np.ndarray, np.ndarray]:
    """(from edge, to edge) of up to two lines per configuration, -1 where a configuration has fewer."""
    start = np.full((16, 2), -1, dtype=np.intp)
    end = np.full((16, 2), -1, dtype=np.intp)
    for config in range(16):
        for k, (a, b) in enumerate(_square_lines(config)):
            start[config, k], end[config, k] = a, b
    start.setflags(write=False)  # shared by every call (and thread)
    end.setflags(write=False)
    return start, end


LINE_START, LINE_END = _line_table()


def square_configs(padded: np.ndarray) -> np.ndarray:
    """Configuration (4 corner bits) of every 2x2 window of the zero-padded boolean slice."""
    rows, cols = padded.shape[0] - 1, padded.shape[1] - 1
    config = np.zeros((rows, cols), dtype=np.intp)
    for bit, (dr, dc) in enumerate(CORNERS):
        config |= padded[dr:dr + rows, dc:dc + cols].astype(np.intp) << bit
    return config


def mesh_surface_perimeter(padded: np.ndarray, spacing: np.ndarray) -> tuple[float, float]:
    """(enclosed area mm^2, perimeter mm) of the marching-squares mesh of the padded slice."""
    config = square_configs(padded)
    on_boundary = (config > 0) & (config < 15)
    squares = np.argwhere(on_boundary).astype(float)  # (row, column) of each square's corner 0
    config = config[on_boundary]
    twice_area = 0.0
    perimeter = 0.0
    for k in range(2):
        has_line = LINE_START[config, k] >= 0
        origin = squares[has_line]
        a = (origin + EDGE_MIDPOINTS[LINE_START[config[has_line], k]]) * spacing
        b = (origin + EDGE_MIDPOINTS[LINE_END[config[has_line], k]]) * spacing
        twice_area += float(np.sum(a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1]))
        perimeter += float(np.sum(np.hypot(*(a - b).T)))
    return twice_area / 2.0, perimeter


def mesh_vertices(padded: np.ndarray, spacing: np.ndarray) -> np.ndarray:
    """Physical (row, column) positions of the midpoints of every ROI/background pixel edge."""
    below = np.argwhere(padded[1:] != padded[:-1]) + (0.5, 0.0)
    right = np.argwhere(padded[:, 1:] != padded[:, :-1]) + (0.0, 0.5)
    return np.concatenate([below, right]) * spacing


def max_distance(points: np.ndarray, budget: int = 2_000_000) -> float:
    """Largest distance between two of the points (over their convex hull when there are many).

    The pairs are searched in blocks of about ``budget`` pairs (memory stays small).
    """
    if len(points) > 64:
        try:
            from scipy.spatial import ConvexHull

            points = points[ConvexHull(points).vertices]
        except Exception:  # noqa: BLE001 - degenerate (collinear) points: search them all
            pass
    best = 0.0
    chunk = max(1, budget // max(len(points), 1))
    for s in range(0, len(points), chunk):
        diff = points[s:s + chunk, None, :] - points[None, :, :]
        best = max(best, float(np.max(np.einsum("ijk,ijk->ij", diff, diff))))
    return float(np.sqrt(best))


class Shape2DContext:
    """Mesh, pixel count and principal moments of one slice, computed once for all features."""

    def __init__(self, roi2d: np.ndarray, spacing2d: np.ndarray):
        padded = np.pad(np.asarray(roi2d, dtype=bool), 1)
        self.spacing = np.asarray(spacing2d, dtype=float)
        self.surface, self.perimeter = mesh_surface_perimeter(padded, self.spacing)
        self._padded = padded
        self._diameter = None
        pixels = np.argwhere(padded) * self.spacing
        self.n = len(pixels)
        centred = (pixels - pixels.mean(0)) / np.sqrt(self.n)
        eig = np.linalg.eigvals(centred.T @ centred)
        eig[(eig < 0) & (eig > -1e-10)] = 0  # rounding of exactly flat ROIs, as pyradiomics
        self.eig = np.sort(eig)

    @property
    def diameter(self) -> float:
        if self._diameter is None:
            self._diameter = max_distance(mesh_vertices(self._padded, self.spacing))
        return self._diameter


def _sphericity(c: Shape2DContext) -> float:
    return 2.0 * np.sqrt(np.pi * c.surface) / c.perimeter


def _axis_length(k: int):
    return lambda c: np.nan if c.eig[k] < 0 else 4.0 * np.sqrt(c.eig[k])


def _elongation(c: Shape2DContext) -> float:
    return np.nan if c.eig[0] < 0 or c.eig[1] < 0 else np.sqrt(c.eig[0] / c.eig[1])


FEATURES = {
    "MeshSurface": lambda c: c.surface,
    "PixelSurface": lambda c: c.n * float(np.prod(c.spacing)),
    "Perimeter": lambda c: c.perimeter,
    "PerimeterSurfaceRatio": lambda c: c.perimeter / c.surface,
    "Sphericity": _sphericity,
    "SphericalDisproportion": lambda c: 1.0 / _sphericity(c),
    "MaximumDiameter": lambda c: c.diameter,
    "MajorAxisLength": _axis_length(1),
    "MinorAxisLength": _axis_length(0),
    "Elongation": _elongation,
}
#: deprecated in pyradiomics (the inverse of Sphericity): left out of "all", computed when named
DEPRECATED = {"SphericalDisproportion": True}


def feature_names(names=None) -> list[str]:
    """The shape2D features a parameter file asks for; InputError for an unknown name."""
    return select(FEATURES, DEPRECATED, names, "shape2D")


def plane_decision(extent_kji, axis: int, lesion_id: str) -> bool:
    """Whether pyradiomics' extractor computes shape2D for a ROI of this bounding-box extent.

    pyradiomics (``featureextractor.computeShape``, 3.1) first skips the class, with a warning, when
    the ROI box is one voxel wide along x/y/z index ``axis`` of its (x, y, z) box, i.e. along numpy
    axis ``2 - axis``; otherwise the class raises ValueError unless the ROI is one slice thick along
    numpy axis ``axis``. So: False (skip) for extent_kji[2 - axis] == 1; LesionError for
    extent_kji[axis] > 1; True (compute) otherwise. In practice axis 0 works for axial slices,
    axis 2 for sagittal slices, and axis 1 never (coronal slices are skipped, others refused).
    """
    extent = [int(e) for e in extent_kji]
    if extent[2 - axis] == 1:
        return False
    if extent[axis] > 1:
        raise LesionError(lesion_id, f"shape2D needs a segment one slice thick along force2Ddimension {axis} "
                                     f"({AXIS_NAMES[axis]}), this one spans {extent[axis]} slices; "
                                     f"remove shape2D from the parameters or segment a single slice "
                                     f"(pyradiomics refuses it too)")
    return True


def compute(roi: np.ndarray, spacing_kji, axis: int, names=None) -> dict[str, float]:
    """shape2D features of the boolean ROI (k, j, i), one slice thick along ``axis``, spacing (k, j, i) mm."""
    if roi.shape[axis] != 1:
        raise ValueError(f"shape2D needs one slice along axis {axis}, got shape {roi.shape}")
    roi2d = np.squeeze(roi, axis=axis)
    spacing2d = np.delete(np.asarray(spacing_kji, dtype=float), axis)
    return evaluate(FEATURES, feature_names(names), Shape2DContext(roi2d, spacing2d))


def applies(settings: dict, names) -> bool:
    """pyradiomics computes shape2D only with force2D (without, it warns and returns nothing, whatever
    the names); InputError for an unknown feature name with force2D."""
    if plane_axis(settings) is None:
        return False
    feature_names(names)
    return True


def roi_check(roi: np.ndarray, settings: dict, lesion_id: str) -> bool:
    """``plane_decision`` for the ROI's bounding box (compute, skip, or LesionError)."""
    extent = [int(np.ptp(np.flatnonzero(roi.any(axis=tuple(a for a in range(3) if a != axis))))) + 1
              for axis in range(3)]
    return plane_decision(extent, plane_axis(settings), lesion_id)


INFO = {
    "MeshSurface": FeatureInfo("Area enclosed by the ROI's outline mesh in its slice", "mm2"),
    "PixelSurface": FeatureInfo("Number of ROI pixels times the pixel area", "mm2"),
    "Perimeter": FeatureInfo("Length of the ROI's outline mesh", "mm"),
    "PerimeterSurfaceRatio": FeatureInfo("Perimeter divided by mesh surface", "1/mm"),
    "Sphericity": FeatureInfo("How close the outline is to a circle (1 for a circle)", ""),
    "SphericalDisproportion": FeatureInfo("Inverse of Sphericity (deprecated)", ""),
    "MaximumDiameter": FeatureInfo("Largest distance between two points of the outline mesh", "mm"),
    "MajorAxisLength": FeatureInfo("Length of the larger principal axis in the slice", "mm"),
    "MinorAxisLength": FeatureInfo("Length of the smaller principal axis in the slice", "mm"),
    "Elongation": FeatureInfo("sqrt(minor / major principal eigenvalue): 1 for a round outline", ""),
}

DESCRIPTOR = FeatureClass(
    name="shape2D", title="Shape (2D, one slice)", features=FEATURES, info=INFO, deprecated=DEPRECATED,
    roi_features=lambda roi, spacing_kji, settings, names: compute(roi, spacing_kji, plane_axis(settings), names),
    applies=applies, roi_check=roi_check,
)
