"""Shared pieces of the feature classes: the discretised ROI, neighbour offsets, feature selection.

Conventions: arrays are indexed (k, j, i) = (z, y, x) like SimpleITK's numpy views; gray levels are
1..Ng (0 marks voxels outside the ROI); ``eps`` is ``numpy.spacing(1)`` wherever pyradiomics adds it
inside a logarithm or a denominator, so values agree to rounding.
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Callable

import numpy as np

from ..errors import InputError

EPS = np.spacing(1)


def plane_axis(settings: dict):
    """The axis (k=0, j=1, i=2) excluded from neighbourhoods when ``force2D`` is set, else None."""
    if not settings.get("force2D", False):
        return None
    axis = int(settings.get("force2Ddimension", 0))
    if axis not in (0, 1, 2):
        raise InputError(f"force2Ddimension must be 0, 1 or 2, got {axis}")
    return axis


def offsets(distances, bidirectional: bool, plane_axis=None) -> np.ndarray:
    """Neighbour offsets (k, j, i) whose Chebyshev norm is one of ``distances``.

    Mono-directional sets (GLCM, GLRLM) keep the offsets whose first non-zero component is positive
    (13 for distance 1); bi-directional sets (GLSZM, GLDM, NGTDM) keep all (26 for distance 1).
    With ``plane_axis`` (force2D) only in-plane offsets (4 / 8 for distance 1). Same set as
    pyradiomics' ``generate_angles``. Cached: the returned array is read-only.
    """
    dist = tuple(sorted({int(d) for d in distances}))
    if not dist or dist[0] < 1:
        raise InputError(f"distances must be integers >= 1, got {distances}")
    return _offsets(dist, bool(bidirectional), None if plane_axis is None else int(plane_axis))


@lru_cache(maxsize=64)
def _offsets(dist: tuple, bidirectional: bool, plane_axis) -> np.ndarray:
    r = dist[-1]
    g = np.arange(r, -r - 1, -1)
    cube = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    norm = np.abs(cube).max(1)
    cube = cube[np.isin(norm, dist)]
    if plane_axis is not None:
        cube = cube[cube[:, plane_axis] == 0]
    if not bidirectional:
        first = np.array([row[np.flatnonzero(row)[0]] for row in cube])
        cube = cube[first > 0]
    cube.setflags(write=False)
    return cube


def small_dtype(ng: int):
    """Smallest signed integer type holding gray levels 0..ng (less memory traffic per gather)."""
    return np.int8 if ng < 127 else np.int16 if ng < 32767 else np.int32


class Levels:
    """The discretised ROI of one image: gray levels on the ROI bounding box.

    ``q`` holds gray levels 1..Ng inside the ROI and 0 outside; ``levels`` are the gray levels present
    (pyradiomics' ``grayLevels``), ``ng`` the largest (pyradiomics' ``Ng``). Neighbour look-ups on a
    zero-padded flat copy are cached (``neighbours``), so GLCM, GLSZM, GLDM and NGTDM share them.
    ``shared``: a dict shared by the Levels of one ROI's images (same ``q > 0``), caching what depends
    on the ROI alone (``line_order``).
    """

    def __init__(self, q: np.ndarray, spacing_kji: np.ndarray, shared: dict | None = None):
        self.q = q
        self.spacing = np.asarray(spacing_kji, dtype=float)
        self.shared = {} if shared is None else shared
        self.levels = np.flatnonzero(np.bincount(q.ravel()))  # sorted levels present, 0 first
        self.levels = self.levels[self.levels > 0]
        self.ng = int(self.levels.max())
        self._pad = None
        self._cache: dict = {}

    def padded(self, pad: int):
        """(flat zero-padded array in ``small_dtype``, padded shape, flat indices of ROI voxels).

        The indices depend on the ROI only, so they are kept in ``shared`` for the next image.
        """
        if self._pad is None or self._pad[0] < pad:
            flat = np.pad(self.q.astype(small_dtype(self.ng), copy=False), pad).ravel()
            shape = tuple(s + 2 * pad for s in self.q.shape)
            key = ("roi", shape)
            if key not in self.shared:
                self.shared[key] = np.flatnonzero(flat)
            self._pad = (pad, flat, shape, self.shared[key])
            self._cache = {}
        return self._pad[1], self._pad[2], self._pad[3]

    def step(self, offset, pad: int) -> int:
        """Flat-index step of ``offset`` in the padded array."""
        _, shape, _ = self.padded(pad)
        return (int(offset[0]) * shape[1] + int(offset[1])) * shape[2] + int(offset[2])

    def centre(self, pad: int) -> np.ndarray:
        """Gray level of every ROI voxel (``small_dtype``: cast before subtracting), C order."""
        flat, _, idx = self.padded(pad)
        if "centre" not in self._cache:
            self._cache["centre"] = flat[idx]
        return self._cache["centre"]

    def line_order(self, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """ROI voxels along the lines of each direction: (their indices in ``centre`` order, for
        each direction in turn, line by line; True where the voxel before it on its line is outside
        the ROI). Depends on the ROI only, so it is kept in ``shared``.

        For a flat step s in the zero-padded box, voxels v, v + s, v + 2s... are consecutive when the
        flat array is viewed as an (M, s) matrix read column by column (padding separates lines).
        """
        flat, shape, idx = self.padded(1)
        key = ("lines", angles.tobytes(), shape)
        if key not in self.shared:
            position = np.zeros(flat.size, dtype=np.int32 if idx.size < 2 ** 31 - 1 else np.int64)
            position[idx] = np.arange(1, idx.size + 1)  # 0: outside the ROI
            order, line_start = [], []
            for off in angles:  # direction by direction: no copy of all of them at once
                step = self.step(off, 1)
                rows = -(-(position.size + step) // step)
                buf = np.zeros(rows * step, dtype=position.dtype)
                buf[:position.size] = position
                seq = buf.reshape(rows, step).T.ravel()
                inside = np.flatnonzero(seq)  # seq[0] is a padding corner: inside >= 1
                order.append(seq[inside])
                line_start.append(seq[inside - 1] == 0)
            order = np.concatenate(order).astype(np.intp)
            order -= 1
            self.shared[key] = (order, np.concatenate(line_start))
        return self.shared[key]

    def neighbours(self, distances, axis, pad: int) -> np.ndarray:
        """Gray level of each ROI voxel's neighbour (0 outside the ROI) at every offset of
        ``offsets(distances, True, axis)``: one row per offset, the smallest integer type.

        The mono-directional offsets (GLCM, GLRLM, GLSZM) are the first half of the rows; GLDM and
        NGTDM use all. One array per image, so each class reduces it in a few whole-array steps.
        """
        angles = offsets(distances, bidirectional=True, plane_axis=axis)
        flat, _, idx = self.padded(pad)
        key = ("stack", angles.tobytes(), self._pad[0])
        if key not in self._cache:
            steps = [self.step(off, pad) for off in angles]
            low = min(steps)  # one shifted view of the padded array per offset: no index arithmetic
            base = idx + low
            stack = np.empty((len(angles), idx.size), dtype=flat.dtype)
            for row, step in enumerate(steps):
                np.take(flat[step - low:], base, out=stack[row])
            self._cache[key] = stack
        return self._cache[key]

    def roi_neighbour_count(self, distances, axis, pad: int) -> np.ndarray:
        """Number of ROI voxels among each ROI voxel's ``neighbours`` (the ROI alone: in ``shared``)."""
        _, shape, _ = self.padded(pad)
        key = ("count", offsets(distances, True, axis).tobytes(), shape)
        if key not in self.shared:
            self.shared[key] = np.count_nonzero(self.neighbours(distances, axis, pad), axis=0)
        return self.shared[key]


def select(features: dict[str, Callable], deprecated: dict[str, bool], names, class_name: str) -> list[str]:
    """Feature names to compute, in pyradiomics' order, with pyradiomics' rules.

    ``names`` None or empty: every non-deprecated feature in pyradiomics' order, which is that of its
    ``get<Name>FeatureValue`` methods' names ("MeanAbsoluteDeviation" before "Mean"). Named features are computed in the order named; a deprecated feature
    pyradiomics computes on request (``deprecated[name] is True``) is computed, one that pyradiomics
    refuses (``False``: mathematically equal to another) is left out silently.
    """
    if not names:
        return sorted((n for n in features if n not in deprecated), key=lambda n: n + "FeatureValue")
    out = []
    for n in names:
        if n not in features and n not in deprecated:
            raise InputError(f"unknown {class_name} feature '{n}'")
        if n in features and deprecated.get(n, True):
            out.append(n)
    return out


def evaluate(features: dict[str, Callable], chosen: list[str], ctx) -> dict[str, float]:
    """Call each chosen feature function on the class context; failures give NaN, as pyradiomics."""
    out = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        for n in chosen:
            try:
                out[n] = float(np.real(features[n](ctx)))
            except (FloatingPointError, ValueError, ZeroDivisionError, IndexError, np.linalg.LinAlgError):
                out[n] = float("nan")
    return out


# ----------------------------------------------------------------------------------------------
# batched evaluation: one class's features for a stack of matrices (images of a lesion, kernels of a
# feature map) at once; batch axis first, direction axis (GLCM, GLRLM) last
# ----------------------------------------------------------------------------------------------
def evaluate_batch(features: dict[str, Callable], chosen: list[str], ctx, reduce=None) -> dict[str, np.ndarray]:
    """Each chosen feature on the batch context, float64 per batch row (``reduce``: per-direction
    values -> per row, e.g. ``angle_mean``). NaN where a formula has no value, as pyradiomics."""
    if not chosen:
        return {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # empty slices: NaN
        values = np.stack(np.broadcast_arrays(*[features[name](ctx) for name in chosen]))
        if reduce is not None:
            values = reduce(values)  # all features at once
    values = np.asarray(np.real(values), dtype=np.float64)
    return dict(zip(chosen, values))


def angle_mean(per_angle: np.ndarray) -> np.ndarray:
    """Mean over directions (last axis) ignoring NaN (directions without pairs or runs); NaN if all are."""
    mean = np.mean(per_angle, axis=-1)
    if not np.isnan(mean).any():
        return mean
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(per_angle, axis=-1)


def marginal_variance(marginal: str, vector: str, total: str):
    """Variance of ``vector`` (gray levels or lengths) under a marginal, normalised by ``total``
    (run counts per direction for GLRLM, zone counts for GLSZM/GLDM)."""
    def feature(c) -> np.ndarray:
        pm = getattr(c, marginal) / np.expand_dims(getattr(c, total), 1)
        v = getattr(c, vector)
        u = np.sum(pm * v, 1, keepdims=True)
        return np.sum(pm * (v - u) ** 2, 1)
    return feature


def matrix_entropy(total: str):
    """Entropy of the normalised matrix (``total`` as in ``marginal_variance``)."""
    def feature(c) -> np.ndarray:
        p = c.p / np.expand_dims(getattr(c, total), (1, 2))
        return -np.sum(p * np.log2(p + EPS), (1, 2))
    return feature


def counts(keys: np.ndarray, shape: tuple, weights=None) -> np.ndarray:
    """Histogram of flat indices ``keys`` reshaped to ``shape`` (float64)."""
    size = int(np.prod(shape))
    return np.bincount(keys, weights=weights, minlength=size).astype(np.float64).reshape(shape)


# ----------------------------------------------------------------------------------------------
# stacks of a lesion's images: matrices placed over their common gray levels (and lengths)
# ----------------------------------------------------------------------------------------------
def place(matrices: list[np.ndarray], where: list[tuple], shape: tuple) -> np.ndarray:
    """(B, *shape) stack of zeros holding ``matrices``; ``where[b][axis]``: the positions of matrix b's
    entries along that axis of the stack (gray levels, lengths), None where they coincide (directions)."""
    if len(matrices) == 1 and matrices[0].shape == tuple(shape):
        return matrices[0][None].astype(np.float64)  # one image over its own levels and columns
    out = np.zeros((len(matrices),) + tuple(shape))
    for row, (m, pos) in enumerate(zip(matrices, where)):
        index = np.ix_(*[np.arange(m.shape[a]) if p is None else p for a, p in enumerate(pos)])
        out[(row,) + index] = m
    return out


def common_levels(images: list) -> tuple[np.ndarray, list[np.ndarray]]:
    """(gray levels present in any of the images, ascending; each image's levels' positions in it)."""
    union = np.unique(np.concatenate([im.levels for im in images])) if len(images) > 1 else images[0].levels
    return union, [np.searchsorted(union, im.levels) for im in images]


def length_stack(images: list, cls: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(stack (B, G, lengths[, directions]), gray levels, lengths) of a length-column class's matrices
    (``matrices[cls]`` = (matrix over the lengths that occur, those lengths), see FeatureClass)."""
    union, own = common_levels(images)
    matrices = [im.matrices[cls] for im in images]
    columns = np.unique(np.concatenate([m[1] for m in matrices])) if len(images) > 1 else matrices[0][1]
    rest = matrices[0][0].shape[2:]  # GLRLM: directions
    where = [(o, np.searchsorted(columns, m[1])) + (None,) * len(rest) for o, m in zip(own, matrices)]
    stack = place([m[0] for m in matrices], where, (len(union), len(columns)) + rest)
    return stack, union.astype(np.float64), columns


def length_stack_size(cls: str):
    """``stack_size`` of a length-column class: images x levels x distinct lengths x directions."""
    def size(images: list, rows: list[int], n_levels: int) -> int:
        first = images[rows[0]].matrices[cls]
        columns = set().union(*(images[r].matrices[cls][1].tolist() for r in rows))
        return len(rows) * n_levels * len(columns) * int(np.prod(first[0].shape[2:]))
    return size
