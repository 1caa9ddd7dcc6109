"""The descriptor a feature-class module exports: everything the engine needs to know about the class.

A class module (``firstorder.py``, ``glcm.py``...) holds its formulas and ends with
``DESCRIPTOR = FeatureClass(...)``; :mod:`.registry` lists the class modules. The engine's loops
(segment-based extraction in ``__init__`` / :mod:`.image_batch`, :mod:`.feature_maps`, default
classes in :mod:`.preprocess`, crop margins in :mod:`.margins`, the pyradiomics backend's class
checks in ``extraction``) read the descriptors only, so adding a class touches no other file. How to
write one: ``docs/adding-a-feature-class.md``.

Three ways a class is computed, chosen by which fields are set:

- once per lesion from the ROI alone (``roi_features``: shape, shape2D);
- per image of the lesion, several images at once (``batch_context``, optionally with a per-image
  ``matrix``): first order and the texture matrices;
- per image, one image at a time (``image_features``): the IBSI-only class.

Voxel-based maps need ``kernel_features``; a class without it is refused as feature maps, except
the per-lesion classes, which pyradiomics skips there silently.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

from .common import select

#: unit labels of feature values: "intensity" is the image's own unit (HU on CT; for a filtered
#: image, the filter's output), "gray level" a level number of the discretised image
UNITS = ("", "mm", "mm2", "mm3", "1/mm", "intensity", "intensity2", "intensity2 mm3", "intensity mm3",
         "gray level")


@dataclass(frozen=True)
class FeatureInfo:
    """What a feature's column means: one-line description, unit label (one of UNITS, '' when
    dimensionless) and the IBSI 1 code(s) of the same quantity ('' when IBSI defines none)."""

    description: str
    unit: str = ""
    ibsi: str = ""


def _no_key(image) -> tuple:
    return ()


def _values_size(images: list, rows: list[int], n_levels: int) -> int:
    """Floats a stack holds when a class keeps a few arrays of the ROI intensities per image."""
    return len(rows) * images[rows[0]].values.size * 3


@dataclass(frozen=True, eq=False)  # compared and hashed by identity: one object per class
class FeatureClass:
    """One feature class (pyradiomics' ``featureClass`` name) and how the engine computes it.

    Required: ``name``, ``title``, ``features`` (feature -> formula on the class's context, in
    batched form: one value per row of the context), ``info`` (FeatureInfo per feature, deprecated
    ones included). Then the fields of one way of computing (see the module docstring):

    - ``roi_features(roi, spacing_kji, settings, names) -> {feature: value}`` on the ROI box;
      ``applies(settings, names) -> bool`` (class computed at all with these settings; may raise
      InputError for bad names) and ``roi_check(roi, settings, lesion_id) -> bool`` (computed for
      this ROI; may raise LesionError) are optional, checked before any filtering;
    - ``batch_context(images, voxel_volume) -> context`` over a stack of a lesion's images
      (``image_batch.ImageMatrices``: ``values``, ``q``, ``levels``, ``args`` and
      ``matrices[name]``); ``matrix(levels, settings)`` builds ``matrices[name]`` per image (a
      ``common.Levels``); ``length_columns``: the matrix's second axis counts lengths 1..N, kept as
      (matrix over the occurring lengths, those lengths); ``reduce``: per-direction values -> one
      per image (``common.angle_mean``); ``stack_key(image)``: what the images of one stack must
      share; ``stack_size(images, rows, n_levels)``: floats a stack holds (split above
      ``image_batch.STACK_ELEMENTS``);
    - ``image_features(values, q, roi, spacing_kji, settings, names, geometry) -> {feature: value}``
      for one image (``geometry``: the whole crop and its ROI, original image only, when
      ``geometry`` is True).

    Feature maps: ``kernel_features(batch, context, chosen) -> (values, extras)`` for a batch of
    kernels (``kernels.KernelBatch``, ``kernels.KernelContext``), and optionally
    ``kernel_rules(values, extras, count, voxel_batch, context) -> {feature: failed voxels}`` for
    pyradiomics' per-batch outcomes. ``margin_voxels(spacing_kji)``: crop margin the class reads
    around the ROI box. ``default``: enabled when the parameters name no class (pyradiomics'
    default set); ``pyradiomics``: pyradiomics has the class too (else built-in engine only).
    """

    name: str
    title: str
    features: Mapping[str, Callable]
    info: Mapping[str, FeatureInfo]
    deprecated: Mapping[str, bool] = field(default_factory=dict)
    default: bool = False
    pyradiomics: bool = True
    roi_features: Callable | None = None
    applies: Callable | None = None
    roi_check: Callable | None = None
    batch_context: Callable | None = None
    matrix: Callable | None = None
    length_columns: bool = False
    reduce: Callable | None = None
    stack_key: Callable = _no_key
    stack_size: Callable = _values_size
    image_features: Callable | None = None
    geometry: bool = False
    kernel_features: Callable | None = None
    kernel_rules: Callable | None = None
    margin_voxels: Callable | None = None

    @property
    def per_lesion(self) -> bool:
        """Computed once per lesion from the ROI (not per image)."""
        return self.roi_features is not None

    @property
    def voxel_based(self) -> bool:
        """Available as feature maps."""
        return self.kernel_features is not None

    def chosen(self, names) -> list[str]:
        """Features to compute for the parameter file's list ``names`` (None: all), pyradiomics' rules."""
        return select(self.features, self.deprecated, names, self.name)

    def refused(self, names) -> list[str]:
        """Features named in ``names`` that pyradiomics refuses (deprecated, equal to another)."""
        return [n for n in (names or []) if self.deprecated.get(n) is False]
