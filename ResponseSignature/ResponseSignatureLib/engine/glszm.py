"""Gray Level Size Zone Matrix features, pyradiomics class ``glszm`` (IBSI 3.8, 3D).

Matrix: P(i, j) = number of zones (26-connected groups of ROI voxels with the same gray level i) of
size j voxels. N_z = number of zones, N_p = number of ROI voxels, p_g / p_s the marginals.
SmallAreaEmphasis sum p_s/j^2 / N_z [5QRC]; LargeAreaEmphasis sum p_s j^2 / N_z [48P8];
GrayLevelNonUniformity sum p_g^2 / N_z [JNSA]; ...Normalized / N_z^2 [Y1RO];
SizeZoneNonUniformity sum p_s^2 / N_z [4JP3]; ...Normalized [VB3A]; ZonePercentage N_z/N_p [P30P];
GrayLevelVariance [BYLV]; ZoneVariance [3NSA]; ZoneEntropy [GU8N]; LowGrayLevelZoneEmphasis [XMSY];
HighGrayLevelZoneEmphasis [5GN9]; SmallAreaLowGrayLevelEmphasis [5RAI]; SmallAreaHighGrayLevelEmphasis
[HW1V]; LargeAreaLowGrayLevelEmphasis [YH51]; LargeAreaHighGrayLevelEmphasis [J17V].

Batched: ``ZoneBatch`` holds B matrices (a lesion's images, or a feature map's kernels) over common
gray levels and zone sizes; every feature gives one value per row. GLDM, GLRLM and IBSI's GLDZM use
it and ``ZONE_FORMULAS`` too.
"""
from __future__ import annotations

import numpy as np

from .common import (Levels, counts, evaluate_batch, length_stack, length_stack_size, marginal_variance,
                     matrix_entropy, plane_axis)
from .descriptor import FeatureClass, FeatureInfo
from .kernels import KernelBatch, KernelContext, compact_levels


def zone_labels(q: np.ndarray, axis=None) -> np.ndarray:
    """Zone number 1..Nz of every voxel of the gray-level array ``q`` (0: outside, not a zone).

    A zone is a connected group of voxels of equal level: 26-connected, or with ``axis`` (force2D)
    8-connected within the planes normal to that axis. scikit-image's ``label`` joins equal-valued
    neighbours of all levels in one pass; for force2D, zero planes put between the planes keep
    zones from crossing them.
    """
    from skimage.measure import label

    if axis is None:
        return label(q, background=0, connectivity=3)
    shape = list(q.shape)
    shape[axis] = 2 * shape[axis]
    spaced = np.zeros(shape, dtype=q.dtype)
    planes = [slice(None)] * 3
    planes[axis] = slice(0, None, 2)
    spaced[tuple(planes)] = q
    return label(spaced, background=0, connectivity=3)[tuple(planes)]


def zones(q: np.ndarray, axis=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gray level, size, zone number of each voxel of ``q``) of every zone (see ``zone_labels``)."""
    labels = zone_labels(q, axis)
    flat = labels.ravel()
    n = int(flat.max())
    size = np.bincount(flat, minlength=n + 1)[1:]
    level = np.zeros(n + 1, dtype=np.int64)
    level[flat] = q.ravel()
    return level[1:], size, labels


def matrix(lv: Levels, settings: dict | None = None) -> np.ndarray:
    """Size-zone matrix (Ng', max zone size) over the gray levels present."""
    gl, size, _ = zones(lv.q, plane_axis(settings or {}))
    ns = int(size.max())
    p = np.bincount((gl - 1) * ns + size - 1, minlength=lv.ng * ns).reshape(lv.ng, ns)
    return p[lv.levels - 1].astype(float)


class ZoneBatch:
    """Matrices (B, G, Nj[, A]) over common gray levels whose columns are lengths j: zone sizes
    (GLSZM), dependences + 1 (GLDM), distances (IBSI GLDZM) or run lengths (GLRLM: runs are zones
    along one direction, with a last axis of directions). ``j``: the value of each column (default
    1..Nj); ``n_voxels``: N_p per row when it is not sum_j j p_s(j) (GLDZM); ``empty_total``: N_z of
    a row (or direction) without any zone (GLRLM: NaN, so that the direction is left out of the mean).
    """

    def __init__(self, p: np.ndarray, levels: np.ndarray, n_voxels=None, j=None, empty_total: float = 1.0):
        tail = (1,) * (p.ndim - 3)
        self.p = p
        self.ps, self.pg = p.sum(1), p.sum(2)                       # (B, Nj[, A]), (B, G[, A])
        j = np.arange(1, p.shape[2] + 1) if j is None else j
        self.i = np.asarray(levels, dtype=np.float64).reshape((1, -1) + tail)  # for pg
        self.j = np.asarray(j, dtype=np.float64).reshape((1, -1) + tail)       # for ps
        self.i_cell = self.i.reshape((1, -1, 1) + tail)                         # for p
        self.j_cell = self.j.reshape((1, 1, -1) + tail)
        nz = p.sum((1, 2))
        self.nz = np.where(nz == 0, empty_total, nz)
        if n_voxels is None:
            n_voxels = np.sum(self.ps * self.j, 1)
        self.np_ = np.where(n_voxels == 0, 1.0, n_voxels)


def zone_joint(fn):
    """sum_ij fn(p, i^2, j^2) / N_z (the four joint emphases)."""
    return lambda c: np.sum(fn(c.p, c.i_cell ** 2, c.j_cell ** 2), (1, 2)) / c.nz


#: the formulas GLSZM, GLDM, GLRLM and IBSI's GLDZM share (under their own names)
ZONE_FORMULAS = {
    "SmallEmphasis": lambda c: np.sum(c.ps / c.j ** 2, 1) / c.nz,
    "LargeEmphasis": lambda c: np.sum(c.ps * c.j ** 2, 1) / c.nz,
    "GrayLevelNonUniformity": lambda c: np.sum(c.pg ** 2, 1) / c.nz,
    "GrayLevelNonUniformityNormalized": lambda c: np.sum(c.pg ** 2, 1) / c.nz ** 2,
    "NonUniformity": lambda c: np.sum(c.ps ** 2, 1) / c.nz,
    "NonUniformityNormalized": lambda c: np.sum(c.ps ** 2, 1) / c.nz ** 2,
    "Percentage": lambda c: c.nz / c.np_,
    "GrayLevelVariance": marginal_variance("pg", "i", "nz"),
    "Variance": marginal_variance("ps", "j", "nz"),
    "Entropy": matrix_entropy("nz"),
    "LowGrayLevelEmphasis": lambda c: np.sum(c.pg / c.i ** 2, 1) / c.nz,
    "HighGrayLevelEmphasis": lambda c: np.sum(c.pg * c.i ** 2, 1) / c.nz,
    "SmallLowGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p / (i2 * j2)),
    "SmallHighGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * i2 / j2),
    "LargeLowGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * j2 / i2),
    "LargeHighGrayLevelEmphasis": zone_joint(lambda p, i2, j2: p * i2 * j2),
}

FEATURES = {
    "SmallAreaEmphasis": ZONE_FORMULAS["SmallEmphasis"],
    "LargeAreaEmphasis": ZONE_FORMULAS["LargeEmphasis"],
    "GrayLevelNonUniformity": ZONE_FORMULAS["GrayLevelNonUniformity"],
    "GrayLevelNonUniformityNormalized": ZONE_FORMULAS["GrayLevelNonUniformityNormalized"],
    "SizeZoneNonUniformity": ZONE_FORMULAS["NonUniformity"],
    "SizeZoneNonUniformityNormalized": ZONE_FORMULAS["NonUniformityNormalized"],
    "ZonePercentage": ZONE_FORMULAS["Percentage"],
    "GrayLevelVariance": ZONE_FORMULAS["GrayLevelVariance"],
    "ZoneVariance": ZONE_FORMULAS["Variance"],
    "ZoneEntropy": ZONE_FORMULAS["Entropy"],
    "LowGrayLevelZoneEmphasis": ZONE_FORMULAS["LowGrayLevelEmphasis"],
    "HighGrayLevelZoneEmphasis": ZONE_FORMULAS["HighGrayLevelEmphasis"],
    "SmallAreaLowGrayLevelEmphasis": ZONE_FORMULAS["SmallLowGrayLevelEmphasis"],
    "SmallAreaHighGrayLevelEmphasis": ZONE_FORMULAS["SmallHighGrayLevelEmphasis"],
    "LargeAreaLowGrayLevelEmphasis": ZONE_FORMULAS["LargeLowGrayLevelEmphasis"],
    "LargeAreaHighGrayLevelEmphasis": ZONE_FORMULAS["LargeHighGrayLevelEmphasis"],
}
DEPRECATED: dict = {}


#: what each of ZONE_FORMULAS measures, for the classes that use them: {item} is a zone, run or
#: dependence..., {length} its size, length, count... (no unit: counts and ratios)
ZONE_INFO = {
    "SmallEmphasis": "Mean of 1/{length}^2 over the {item}s (high for small {item}s)",
    "LargeEmphasis": "Mean of {length}^2 over the {item}s (high for large {item}s)",
    "GrayLevelNonUniformity": "Spread of the {item}s over gray levels (sum of squared counts per level "
                              "/ number of {item}s)",
    "GrayLevelNonUniformityNormalized": "Gray level non-uniformity of the {item}s divided by their number",
    "NonUniformity": "Spread of the {item}s over {length}s (sum of squared counts per {length} / number "
                     "of {item}s)",
    "NonUniformityNormalized": "{Length} non-uniformity divided by the number of {item}s",
    "Percentage": "Number of {item}s per ROI voxel",
    "GrayLevelVariance": "Variance of the gray levels of the {item}s",
    "Variance": "Variance of the {length}s of the {item}s",
    "Entropy": "Entropy (bits) of the joint gray level / {length} distribution of the {item}s",
    "LowGrayLevelEmphasis": "Mean of 1/level^2 over the {item}s (high for dark {item}s)",
    "HighGrayLevelEmphasis": "Mean of level^2 over the {item}s (high for bright {item}s)",
    "SmallLowGrayLevelEmphasis": "Mean of 1/({length}^2 level^2) over the {item}s",
    "SmallHighGrayLevelEmphasis": "Mean of level^2/{length}^2 over the {item}s",
    "LargeLowGrayLevelEmphasis": "Mean of {length}^2/level^2 over the {item}s",
    "LargeHighGrayLevelEmphasis": "Mean of {length}^2 level^2 over the {item}s",
}


def zone_info(formulas: dict[str, str], item: str, length: str, codes: dict[str, str]) -> dict[str, FeatureInfo]:
    """FeatureInfo of a class built on ZONE_FORMULAS: feature -> formula key, its item and length
    words (``"run"``, ``"run length"``) and IBSI codes."""
    words = {"item": item, "length": length, "Length": length[:1].upper() + length[1:]}
    return {name: FeatureInfo(ZONE_INFO[key].format(**words), "", codes.get(name, ""))
            for name, key in formulas.items()}


def batch_context(images: list, voxel_volume: float) -> ZoneBatch:
    """The size-zone matrices of a stack of a lesion's images over common gray levels and sizes."""
    stack, gray, sizes = length_stack(images, "glszm")
    return ZoneBatch(stack, gray, j=sizes)


# ----------------------------------------------------------------------------------------------
# feature maps: kernels
# ----------------------------------------------------------------------------------------------
def kernel_counts(windows: np.ndarray, g: int, axis) -> np.ndarray:
    """Size-zone counts (B, G, Ns): 26-connected (8 in-plane with force2D) equal-level zones per window.

    The windows are stacked along their first axis with a zero plane after each, which keeps their
    zones apart, and labelled at once (``glszm.zones``).
    """
    b, depth = windows.shape[:2]
    stacked = np.zeros((b, depth + 1) + windows.shape[2:], dtype=windows.dtype)
    stacked[:, :depth] = windows
    stacked = stacked.reshape((b * (depth + 1),) + windows.shape[2:])
    zone_level, size, labels = zones(stacked, axis)
    zone_kernel = np.zeros(size.size + 1, dtype=np.int64)
    zone_kernel[labels.ravel()] = np.arange(labels.size) // (labels.size // b)
    ns = int(size.max())
    return counts((zone_kernel[1:] * g + zone_level - 1) * ns + size - 1, (b, g, ns))


def kernel_features(batch: KernelBatch, context: KernelContext, chosen: list[str]):
    compact, levels = compact_levels(batch.texture)
    with np.errstate(all="ignore"):
        ctx = ZoneBatch(kernel_counts(compact, len(levels), context.axis), levels)
    return evaluate_batch(FEATURES, chosen, ctx), {}


INFO = zone_info({
    "SmallAreaEmphasis": "SmallEmphasis", "LargeAreaEmphasis": "LargeEmphasis",
    "GrayLevelNonUniformity": "GrayLevelNonUniformity",
    "GrayLevelNonUniformityNormalized": "GrayLevelNonUniformityNormalized",
    "SizeZoneNonUniformity": "NonUniformity", "SizeZoneNonUniformityNormalized": "NonUniformityNormalized",
    "ZonePercentage": "Percentage", "GrayLevelVariance": "GrayLevelVariance", "ZoneVariance": "Variance",
    "ZoneEntropy": "Entropy", "LowGrayLevelZoneEmphasis": "LowGrayLevelEmphasis",
    "HighGrayLevelZoneEmphasis": "HighGrayLevelEmphasis",
    "SmallAreaLowGrayLevelEmphasis": "SmallLowGrayLevelEmphasis",
    "SmallAreaHighGrayLevelEmphasis": "SmallHighGrayLevelEmphasis",
    "LargeAreaLowGrayLevelEmphasis": "LargeLowGrayLevelEmphasis",
    "LargeAreaHighGrayLevelEmphasis": "LargeHighGrayLevelEmphasis",
}, "zone", "zone size", {
    "SmallAreaEmphasis": "5QRC", "LargeAreaEmphasis": "48P8", "GrayLevelNonUniformity": "JNSA",
    "GrayLevelNonUniformityNormalized": "Y1RO", "SizeZoneNonUniformity": "4JP3",
    "SizeZoneNonUniformityNormalized": "VB3A", "ZonePercentage": "P30P", "GrayLevelVariance": "BYLV",
    "ZoneVariance": "3NSA", "ZoneEntropy": "GU8N", "LowGrayLevelZoneEmphasis": "XMSY",
    "HighGrayLevelZoneEmphasis": "5GN9", "SmallAreaLowGrayLevelEmphasis": "5RAI",
    "SmallAreaHighGrayLevelEmphasis": "HW1V", "LargeAreaLowGrayLevelEmphasis": "YH51",
    "LargeAreaHighGrayLevelEmphasis": "J17V",
})

DESCRIPTOR = FeatureClass(
    name="glszm", title="Gray level size zone matrix", features=FEATURES, info=INFO, deprecated=DEPRECATED,
    default=True, matrix=matrix, length_columns=True, batch_context=batch_context,
    stack_size=length_stack_size("glszm"), kernel_features=kernel_features,
)
