"""A lesion's images, class by class: matrices per image, then each class's formulas for a stack of images.

Per image, the discretisation and the matrices (co-occurrences, runs, zones...) depend on its gray
levels; the formulas are each class's batched ones (``FeatureClass.batch_context`` and ``features``,
the same code the feature maps run on kernels). The classes come from :mod:`.registry`. A lesion's
images are evaluated together, their matrices placed over their common gray levels and lengths (zero
rows where an image lacks one, which no feature sees): measured on a 2-core machine against one image
at a time, 8 % less time for a 35 mm lesion's 14 images, 25 % less for a 12 mm one. Images whose
matrices differ in shape (per-image-type settings such as ``distances``) go in separate stacks
(``FeatureClass.stack_key``), and a stack is split before its matrices exceed STACK_ELEMENTS floats.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import registry
from .common import Levels, evaluate_batch
from .preprocess import discretise

#: largest stack of matrices evaluated at once (floats); a single image is never split
STACK_ELEMENTS = 4_000_000


@dataclass
class ImageMatrices:
    """One image of a lesion, discretised, with the matrix of each texture class it needs."""

    name: str
    args: dict
    values: np.ndarray          # ROI intensities (the image's own pixel type)
    q: np.ndarray               # their gray levels 1..Ng
    levels: np.ndarray          # gray levels present, ascending
    matrices: dict = field(default_factory=dict)  # class -> matrix, (matrix, columns) or (n, s)
    direct: dict = field(default_factory=dict)  # features computed per image (class ibsi)


def image_matrices(name: str, arr: np.ndarray, roi: np.ndarray, spacing: np.ndarray, args: dict,
                   classes: dict, geometry: dict | None = None, shared: dict | None = None) -> ImageMatrices:
    """Discretise one (derived) image on the ROI box and build what each class needs of it per image:
    its matrix (``FeatureClass.matrix``) or its features (``FeatureClass.image_features``).

    ``geometry`` (original image only): the whole crop and its ROI, for classes that ask for it.
    ``shared``: one dict for all images of this ROI (``Levels.shared``: what depends on the ROI alone).
    """
    values = arr[roi]
    q_roi = discretise(values, args)
    present = np.flatnonzero(np.bincount(q_roi))
    out = ImageMatrices(name, args, values, q_roi, present[present > 0])
    descriptors = [registry.get(cls) for cls in classes]
    with_matrix = [d for d in descriptors if d.matrix is not None]
    if with_matrix:
        q = np.zeros(roi.shape, dtype=np.int32)
        q[roi] = q_roi
        lv = Levels(q, spacing, shared)
        for d in with_matrix:
            m = d.matrix(lv, args)
            if d.length_columns:  # keep the lengths / sizes that occur (a zone can be huge)
                used = np.flatnonzero(m.reshape(m.shape[0], m.shape[1], -1).sum((0, 2)))
                m = (m[:, used], used + 1)
            out.matrices[d.name] = m
    for d in descriptors:
        if d.image_features is not None:
            own = geometry if d.geometry and name == "original" else None
            out.direct[d.name] = d.image_features(values, q_roi, roi, spacing, args, classes[d.name], own)
    return out


def batch_features(images: list[ImageMatrices], classes: dict, spacing: np.ndarray) -> list[dict[str, float]]:
    """pyradiomics-named features (``<image>_<class>_<feature>``) of each image, classes in order."""
    per_class = {}
    for cls, names in classes.items():
        d = registry.get(cls)
        if d.batch_context is not None:
            per_class[cls] = _class_values(d, d.chosen(names), images, float(np.prod(spacing)))
    out = []
    for row, image in enumerate(images):
        values: dict[str, float] = {}
        for cls in classes:
            if cls in per_class:
                values.update({f"{image.name}_{cls}_{k}": float(v[row]) for k, v in per_class[cls].items()})
            elif cls in image.direct:
                values.update({f"{image.name}_{cls}_{k}": v for k, v in image.direct[cls].items()})
        out.append(values)
    return out


def _class_values(d, chosen: list[str], images: list[ImageMatrices], voxel_volume: float) -> dict:
    """feature -> value per image for one class, over stacks of images with compatible matrices."""
    values = {n: np.full(len(images), np.nan) for n in chosen}
    if not chosen:
        return values
    for rows in _stacks(d, images):
        with np.errstate(all="ignore"):
            ctx = d.batch_context([images[r] for r in rows], voxel_volume)
        res = evaluate_batch(d.features, chosen, ctx, reduce=d.reduce)
        for n in chosen:
            values[n][rows] = res[n]
    return values


def _stacks(d, images: list[ImageMatrices]) -> list[list[int]]:
    """Rows of images stacked together: same ``stack_key``, at most STACK_ELEMENTS floats each."""
    groups: dict = {}
    for row, image in enumerate(images):
        groups.setdefault(d.stack_key(image), []).append(row)
    stacks = []
    for rows in groups.values():
        current: list[int] = []
        levels: set = set()
        for row in rows:
            grown = levels | set(images[row].levels.tolist())
            if current and d.stack_size(images, current + [row], len(grown)) > STACK_ELEMENTS:
                stacks.append(current)  # full: start a new stack with this image
                current, grown = [], set(images[row].levels.tolist())
            current.append(row)
            levels = grown
        stacks.append(current)
    return stacks
