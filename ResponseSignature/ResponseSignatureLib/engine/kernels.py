"""Kernel windows of feature maps: what every class's ``kernel_features`` works on.

A feature map holds, at each ROI voxel, a feature of the kernel around it (the voxel's box +-
kernelRadius, see :mod:`.feature_maps`). ``Kernels`` cuts those windows from the discretised map box;
``KernelBatch`` hands a batch of them to a class (its texture gray levels, or its float64 values and
their levels for first order), with ``KernelContext`` for the settings; the helpers below build
matrices from the windows (neighbour pairs, flat steps, gray levels renumbered per batch).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class Kernels:
    """The kernel windows of the ROI voxels of one map box.

    A window is the box of a ROI voxel +- radius (0 along the force2D axis), read from the map box
    padded with ``fill``: (voxels, z, y, x) stacks, one row per ROI voxel in array (C) order.
    """

    def __init__(self, roi: np.ndarray, radius: int, axis):
        self.half = np.full(3, int(radius))
        if axis is not None:
            self.half[axis] = 0
        self.size = tuple(int(v) for v in 2 * self.half + 1)
        self.centres = np.argwhere(roi)
        self.count = len(self.centres)

    def stack(self, array: np.ndarray, fill) -> np.ndarray:
        """Padded copy of ``array`` whose sliding windows are the kernels (see ``windows``)."""
        return np.pad(array, [(int(h), int(h)) for h in self.half], constant_values=fill)

    def windows(self, padded: np.ndarray, batch: slice) -> np.ndarray:
        """(B, z, y, x) windows of the voxels ``centres[batch]`` from a ``stack``-padded array."""
        view = np.lib.stride_tricks.sliding_window_view(padded, self.size)
        c = self.centres[batch]
        return view[c[:, 0], c[:, 1], c[:, 2]]


@dataclass
class KernelContext:
    """What a batch function needs besides its windows."""

    spacing: np.ndarray
    args: dict
    axis: object
    ng: int          # largest gray level of the ROI / box
    n_levels: int    # number of gray levels present in the ROI / box


class KernelBatch:
    """The windows of the kernels ``batch`` (a slice of the ROI voxels), cut on first use:
    ``texture`` (gray levels of the image's own pixel type), ``values`` (float64, NaN outside a
    kernel's voxels) and ``value_levels`` (their float64 binning), each (B, z, y, x)."""

    def __init__(self, kernels: Kernels, stacks: dict, batch: slice):
        self.kernels, self.stacks, self.batch = kernels, stacks, batch

    def _windows(self, key: str) -> np.ndarray:
        return self.kernels.windows(self.stacks[key], self.batch)

    @property
    def texture(self) -> np.ndarray:
        return self._windows("texture")

    @property
    def values(self) -> np.ndarray:
        return self._windows("fo_values")

    @property
    def value_levels(self) -> np.ndarray:
        return self._windows("fo_levels")


def compact_levels(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(``windows`` with gray levels renumbered 1..G, 0 kept; the G levels present, ascending, float).

    Levels absent from every kernel of a batch would add only zero rows to its matrices, which no
    feature sees (up to rounding); renumbering keeps the matrices small.
    """
    present = np.unique(windows)
    present = present[present > 0]
    lut = np.zeros(int(present[-1]) + 1, dtype=np.int32)
    lut[present] = np.arange(1, present.size + 1, dtype=np.int32)
    return lut[windows], present.astype(np.float64)


def shifted_pair(windows: np.ndarray, offset) -> tuple[np.ndarray, np.ndarray]:
    """Views (voxel v, voxel v + offset) over every pair inside the windows (axes 1..3)."""
    centre, neighbour = [slice(None)], [slice(None)]
    for size, o in zip(windows.shape[1:], offset):
        o = int(o)
        centre.append(slice(max(0, -o), max(0, size - max(0, o))))
        neighbour.append(slice(max(0, o), max(0, size + min(0, o))))
    return windows[tuple(centre)], windows[tuple(neighbour)]


class FlatWindows:
    """The windows zero-padded by ``pad`` and flattened: neighbours by flat steps, batch by block."""

    def __init__(self, windows: np.ndarray, pad: int):
        padded = np.pad(windows, [(0, 0)] + [(pad, pad)] * 3)
        self.shape = padded.shape
        self.flat = padded.ravel()
        self.block = int(np.prod(self.shape[1:]))
        self.index = np.flatnonzero(self.flat)   # kernel voxels
        self.level = self.flat[self.index]
        self.kernel = self.index // self.block    # kernel (row of the batch) of each voxel

    def step(self, offset) -> int:
        return (int(offset[0]) * self.shape[2] + int(offset[1])) * self.shape[3] + int(offset[2])


def window_positions(fw: FlatWindows, shape: tuple) -> np.ndarray:
    """Flat indices in the unpadded windows of ``fw``'s kernel voxels (same order)."""
    pad = (fw.shape[1] - shape[1]) // 2
    coords = np.unravel_index(fw.index, fw.shape)
    return np.ravel_multi_index((coords[0], coords[1] - pad, coords[2] - pad, coords[3] - pad), shape)
