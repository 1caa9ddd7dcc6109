"""The Zhao-lab features of the Dercle signatures: surface shape index, axis-wise LoG, sigmoid slope.

Dercle et al. (Clin Cancer Res 2020;26:2151; JNCI 2020;112:902) built response signatures on
"Shape SI4", "LoG X/Z Entropy" and "Sigmoid slope" from the Zhao lab's in-house library (Columbia;
definitions in Lu et al., PLoS One 2016;11:e0166550, S2 File, which was not available to us).
pyradiomics has none of them. The definitions below are ours, written from the published
descriptions; every parameter is configurable. Feature names start with ``zhao_`` so they can
never collide with pyradiomics' (whose names start with the image type, e.g. ``original_``).

Shape index (Koenderink & van Doorn 1992): s = (2/π)·arctan((k1 + k2)/(k1 − k2)), k1 ≥ k2 the
principal curvatures of the lesion surface with the outward normal, so s ∈ [−1, 1]: −1 cup,
−0.5 rut, 0 saddle, 0.5 ridge, 1 cap (a sphere is all cap, a cylinder's side is ridge).
Curvatures come from the implicit surface of the lesion mask smoothed by a Gaussian
(``shapeIndexSmoothingMm``, default 2 mm, at least one voxel along every axis): with ψ = −φ (φ the smoothed mask, ψ increasing outward), gradient g and
Hessian H, mean curvature Hm = (|g|²·tr H − gᵀHg)/(2|g|³) and Gaussian curvature
K = gᵀ adj(H) g / |g|⁴ (Goldman 2005), k1,2 = Hm ± √max(Hm² − K, 0). Each voxel of the band
0.05 < φ < 0.95 carries the surface-area element |∇φ|·dV (coarea formula), so the histogram is a
fraction of surface area. Histogram: ``shapeIndexBins`` (default 9) equal bins over [−1, 1], bin 1
= cup end, bin 9 = cap end: ``zhao_shapeindex_SI1`` ... ``SI9`` (sum 1), plus ``Mean`` and ``SD``
(area-weighted). [Zhao's exact binning of "SI4" is unpublished; with 9 bins SI4 is s ∈ [−1/3, −1/9).]

Axis-wise LoG: the image filtered along one grid axis only with the scale-normalised second
derivative of a 1-D Gaussian, σ²·∂²(G_σ * I)/∂a² (σ in mm, so voxel size does not change the
filter), then first-order statistics inside the lesion: ``zhao_logx-sigma-2-0-mm_Entropy`` etc.
(x, y, z = the image grid axes i, j, k; for an axial CT x is left-right and z cranio-caudal).
Entropy uses the pyradiomics definition (−Σ p·log2 p over bins of width ``binWidth``).

Sigmoid boundary fit: at surface points (boundary voxels, up to ``sigmoidMaxRays`` evenly
sub-sampled) the image is sampled along the outward normal from −L to +L mm
(``sigmoidProfileMm``, step ``sigmoidStepMm``, trilinear) and fitted with
I(t) = B + A / (1 + exp(−S·(t − t0))), S > 0: ``S`` is the slope (1/mm; a sharp edge has a large S,
a blurred or infiltrative edge a small one), ``A`` the amplitude (outside − inside, HU), ``t0`` the
edge offset from the boundary voxel (mm). Fit: grid search over (S, t0) with A, B solved by linear
least squares, then Gauss-Newton refinement. Features over the rays: ``zhao_sigmoid_SlopeMean``,
``SlopeSD``, ``SlopeMedian``, ``SlopeEnergy`` (mean S²), ``AmplitudeMean``, ``AmplitudeSD``,
``MaxGradientMean`` (mean |A|·S/4, HU/mm), ``FitR2Mean``, ``EdgeOffsetMean``.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
from scipy import ndimage

from .errors import LesionError

DEFAULTS: dict[str, Any] = {
    "shapeIndexBins": 9,
    "shapeIndexSmoothingMm": 2.0,
    "axisLoGSigma": [1.0, 2.0, 3.0],
    "axisLoGAxes": ["x", "y", "z"],
    "binWidth": 25.0,
    "sigmoidProfileMm": 8.0,
    "sigmoidStepMm": 0.5,
    "sigmoidMaxRays": 1500,
    "marginMm": 15.0,
}
FEATURE_GROUPS = ("ShapeIndex", "AxisLoG", "Sigmoid")
_AXIS_INDEX = {"x": 2, "y": 1, "z": 0}  # numpy arrays are (k, j, i)
#: Gaussian smoothing (mm) of the mask whose gradient gives the sigmoid rays' normals
NORMAL_SMOOTHING_MM = 2.0


def extract_zhao_features(image, mask, groups=FEATURE_GROUPS, settings: Mapping[str, Any] | None = None, lesion_id: str = "lesion") -> dict[str, float]:
    """All requested Zhao-lab feature groups of one lesion (SimpleITK image + UInt8 mask on its grid)."""
    options = {**DEFAULTS, **dict(settings or {})}
    values, inside, spacing = _cropped_arrays(image, mask, options["marginMm"], lesion_id)
    smoothing = options["shapeIndexSmoothingMm"]
    phi = smoothed_mask(inside, spacing, smoothing) if "ShapeIndex" in groups else None
    features: dict[str, float] = {}
    if "ShapeIndex" in groups:
        features.update(shape_index_features(inside, spacing, options["shapeIndexBins"], smoothing, phi=phi))
    if "AxisLoG" in groups:
        features.update(axis_log_features(values, inside, spacing, options["axisLoGSigma"], options["axisLoGAxes"], options["binWidth"]))
    if "Sigmoid" in groups:  # the ray normals reuse the shape index's smoothed mask when it is the same
        same = phi is not None and smoothing == NORMAL_SMOOTHING_MM
        features.update(sigmoid_features(values, inside, spacing, options, phi=phi if same else None))
    return features


def _cropped_arrays(image, mask, margin_mm: float, lesion_id: str):
    """(float image array, bool mask array, spacing (k, j, i) in mm) cropped to the lesion + margin."""
    import SimpleITK as sitk

    inside = sitk.GetArrayViewFromImage(mask) > 0
    if inside.sum() < 2:
        raise LesionError(lesion_id, "fewer than two voxels: too small for surface features")
    spacing = np.array(image.GetSpacing()[::-1], dtype=float)
    margin = np.ceil(margin_mm / spacing).astype(int)
    where = np.argwhere(inside)
    low = np.maximum(where.min(axis=0) - margin, 0)
    high = np.minimum(where.max(axis=0) + margin + 1, inside.shape)
    box = tuple(slice(a, b) for a, b in zip(low, high))
    values = sitk.GetArrayViewFromImage(image)[box].astype(float)
    return values, inside[box].copy(), spacing


# --- shape index -----------------------------------------------------------------------------


def smoothed_mask(inside: np.ndarray, spacing, smoothing_mm: float) -> np.ndarray:
    """The mask blurred by a Gaussian of ``smoothing_mm`` (at least one voxel along every axis)."""
    spacing = np.asarray(spacing, dtype=float)
    sigma_mm = np.maximum(float(smoothing_mm), spacing)
    return ndimage.gaussian_filter(inside.astype(float), sigma=sigma_mm / spacing, mode="nearest")


def shape_index_field(inside: np.ndarray, spacing, smoothing_mm: float = 2.0, phi: np.ndarray | None = None):
    """Per-voxel shape index s and surface-area weight in the band around the lesion surface.

    Returns (s, weight, index) for the band voxels: index is an (N, 3) array of (k, j, i).
    ``phi``: smoothed_mask(inside, spacing, smoothing_mm) when the caller has it already.
    Derivatives are taken at the band voxels only (band_derivatives), not over the whole crop.
    """
    spacing = np.asarray(spacing, dtype=float)
    if phi is None:
        phi = smoothed_mask(inside, spacing, smoothing_mm)
    near = np.flatnonzero((phi > 0.05) & (phi < 0.95))
    g, h = band_derivatives(-phi, near, spacing)
    band = np.sqrt(sum(g[:, a] ** 2 for a in range(3))) > 1e-6
    g, h = g[band], h[band]
    k1, k2, gradient_norm = _principal_curvatures(g, h)
    s = (2.0 / math.pi) * np.arctan2(k1 + k2, k1 - k2)
    weight = gradient_norm * float(np.prod(spacing))
    return s, weight, np.column_stack(np.unravel_index(near[band], phi.shape))


def band_derivatives(field: np.ndarray, flat_index: np.ndarray, spacing):
    """Gradient (N, 3) and symmetrised Hessian (N, 3, 3) of ``field`` at the voxels ``flat_index``.

    Bit for bit what np.gradient gives over the whole array (central differences, one-sided at the
    array's faces; the Hessian as the gradient of the gradient, averaged with its transpose), but
    the nine second derivatives are taken at a thin band of voxels instead of the whole crop.
    """
    gradient = [component.ravel() for component in np.gradient(field, *spacing)]
    hessian = np.empty(flat_index.shape + (3, 3))
    for a in range(3):
        for b in range(3):
            hessian[:, a, b] = _gradient_at(gradient[a], field.shape, flat_index, b, spacing[b])
    return np.stack([component[flat_index] for component in gradient], axis=-1), 0.5 * (hessian + hessian.transpose(0, 2, 1))


def _gradient_at(flat: np.ndarray, shape, flat_index: np.ndarray, axis: int, step: float) -> np.ndarray:
    """np.gradient(field, step, axis=axis) at the voxels ``flat_index`` of the flattened field."""
    lower, upper, span = _neighbours(shape, flat_index, axis)
    return (flat[upper] - flat[lower]) / (span * step)


def _neighbours(shape, flat_index: np.ndarray, axis: int):
    """Flat indices of the voxels before and after each voxel along ``axis`` (the voxel itself at a
    face of the array) and their distance in voxels (2 inside, 1 at a face)."""
    stride = int(np.prod(shape[axis + 1:]))
    position = (flat_index // stride) % shape[axis]
    inner, outer = position > 0, position < shape[axis] - 1
    return flat_index - stride * inner, flat_index + stride * outer, outer.astype(float) + inner


def _principal_curvatures(g: np.ndarray, h: np.ndarray):
    """k1 ≥ k2 of the level sets of an implicit function from its gradient and Hessian (Goldman 2005)."""
    norm = np.linalg.norm(g, axis=1)
    norm = np.maximum(norm, 1e-12)
    trace = np.trace(h, axis1=1, axis2=2)
    g_h_g = np.einsum("ni,nij,nj->n", g, h, g)
    mean_curvature = (norm**2 * trace - g_h_g) / (2 * norm**3)
    adjugate = _adjugate_symmetric(h)
    gaussian_curvature = np.einsum("ni,nij,nj->n", g, adjugate, g) / norm**4
    spread = np.sqrt(np.maximum(mean_curvature**2 - gaussian_curvature, 0.0))
    return mean_curvature + spread, mean_curvature - spread, norm


def _adjugate_symmetric(h: np.ndarray) -> np.ndarray:
    """Adjugate (transpose of the cofactor matrix) of a stack of 3x3 matrices."""
    adj = np.empty_like(h)
    for i in range(3):
        for j in range(3):
            (r0, r1), (c0, c1) = [r for r in range(3) if r != j], [c for c in range(3) if c != i]
            adj[:, i, j] = (-1) ** (i + j) * (h[:, r0, c0] * h[:, r1, c1] - h[:, r0, c1] * h[:, r1, c0])
    return adj


def shape_index_features(inside: np.ndarray, spacing, bins: int = 9, smoothing_mm: float = 2.0,
                         phi: np.ndarray | None = None) -> dict[str, float]:
    """Area-weighted shape-index histogram (SI1..SIn, sums to 1) with its mean and SD."""
    s, weight, _ = shape_index_field(inside, spacing, smoothing_mm, phi=phi)
    if weight.sum() <= 0:
        return {}
    fractions, _ = np.histogram(s, bins=int(bins), range=(-1.0, 1.0), weights=weight)
    fractions = fractions / weight.sum()
    mean = float(np.average(s, weights=weight))
    features = {f"zhao_shapeindex_SI{index + 1}": float(value) for index, value in enumerate(fractions)}
    features["zhao_shapeindex_Mean"] = mean
    features["zhao_shapeindex_SD"] = float(math.sqrt(max(np.average((s - mean) ** 2, weights=weight), 0.0)))
    return features


# --- axis-wise LoG ---------------------------------------------------------------------------


def axis_log_image(values: np.ndarray, spacing, axis: str, sigma_mm: float) -> np.ndarray:
    """Scale-normalised 1-D Laplacian of Gaussian along one grid axis: σ²·∂²(G_σ * I)/∂a²."""
    index = _AXIS_INDEX[axis]
    kernel = second_derivative_kernel(sigma_mm, float(spacing[index]))
    return ndimage.correlate1d(values, kernel * sigma_mm**2, axis=index, mode="nearest")


def second_derivative_kernel(sigma_mm: float, spacing_mm: float) -> np.ndarray:
    """Sampled d²G/dx² (per mm²), exact on constants (sums to 0) and on x² (Σ k·x²/2 = 1)."""
    radius = max(int(math.ceil(4.0 * sigma_mm / spacing_mm)), 1)
    x = np.arange(-radius, radius + 1) * spacing_mm
    gaussian = np.exp(-(x**2) / (2 * sigma_mm**2))
    kernel = (x**2 - sigma_mm**2) * gaussian
    kernel -= gaussian * kernel.sum() / gaussian.sum()
    return kernel / np.sum(kernel * x**2 / 2)


def first_order(values: np.ndarray, bin_width: float) -> dict[str, float]:
    """Entropy, Uniformity (pyradiomics definitions on bins of ``bin_width``), Mean, SD, Skewness, Kurtosis."""
    bins = np.floor(np.round(values / bin_width, 9))  # rounding: ±1e-15 noise stays in one bin
    p = _bin_counts(bins) / bins.size
    mean = float(values.mean())
    deviation = values - mean
    squared = deviation * deviation  # products, not deviation**3 / **4: np.power is ~40x slower
    sd = float(np.sqrt(np.mean(squared)))
    eps = np.spacing(1)
    return {
        "Entropy": max(0.0, float(-np.sum(p * np.log2(p + eps)))),
        "Uniformity": float(np.sum(p**2)),
        "Mean": mean,
        "StandardDeviation": sd,
        "Skewness": float(np.mean(squared * deviation) / sd**3) if sd > 0 else 0.0,
        "Kurtosis": float(np.mean(squared * squared) / sd**4) if sd > 0 else 0.0,
    }


def _bin_counts(bins: np.ndarray) -> np.ndarray:
    """Voxel counts of the occupied bins in ascending bin order (as np.unique's counts; bincount is
    several times faster when the bins span a range comparable to the number of voxels)."""
    if bins.size and bins.max() - bins.min() <= 4 * bins.size + 65536:
        counts = np.bincount((bins - bins.min()).astype(np.int64))
        return counts[counts > 0]
    return np.unique(bins, return_counts=True)[1]


def axis_log_features(values, inside, spacing, sigmas, axes, bin_width: float) -> dict[str, float]:
    """First-order statistics of the axis-wise LoG images inside the lesion, per axis and sigma.

    A filter along one axis reads along that axis only: it is run on the lesion's box widened by
    the margin along its own axis only (same values inside the lesion, far fewer voxels).
    """
    features = {}
    lesion_box = ndimage.find_objects(inside.astype(np.uint8))[0]
    for axis in axes:
        box = tuple(slice(None) if a == _AXIS_INDEX[axis] else lesion_box[a] for a in range(3))
        for sigma in sigmas:
            filtered = axis_log_image(values[box], spacing, axis, float(sigma))[inside[box]]
            prefix = f"zhao_log{axis}-sigma-{_number_tag(sigma)}-mm"
            features.update({f"{prefix}_{name}": value for name, value in first_order(filtered, bin_width).items()})
    return features


def _number_tag(value: float) -> str:
    """2.0 -> '2-0', as pyradiomics writes LoG sigmas in feature names."""
    return f"{float(value):.1f}".replace(".", "-")


# --- sigmoid boundary fit ----------------------------------------------------------------------


def boundary_rays(inside: np.ndarray, spacing, max_rays: int, smoothing_mm: float = NORMAL_SMOOTHING_MM,
                  phi: np.ndarray | None = None):
    """Surface points (boundary voxels, index coordinates) and outward unit normals in mm space.

    ``phi``: smoothed_mask(inside, spacing, smoothing_mm) when the caller has it already.
    """
    spacing = np.asarray(spacing, dtype=float)
    boundary = inside & ~ndimage.binary_erosion(inside)
    points = np.argwhere(boundary)
    if len(points) > max_rays:
        points = points[np.linspace(0, len(points) - 1, max_rays).round().astype(int)]
    if phi is None:
        phi = smoothed_mask(inside, spacing, smoothing_mm)
    flat_index = np.ravel_multi_index(tuple(points.T), phi.shape)
    grad = np.stack([_gradient_at(phi.ravel(), phi.shape, flat_index, a, spacing[a]) for a in range(3)], axis=-1)
    norm = np.linalg.norm(grad, axis=1)
    keep = norm > 1e-6
    return points[keep], -grad[keep] / norm[keep, None]


def sample_profiles(values, points, normals, spacing, length_mm: float, step_mm: float):
    """Image values along each normal, t from −length to +length mm (trilinear interpolation)."""
    t = np.arange(-length_mm, length_mm + step_mm / 2, step_mm)
    offsets = normals[:, None, :] * t[None, :, None] / np.asarray(spacing, dtype=float)
    coordinates = points[:, None, :] + offsets
    samples = ndimage.map_coordinates(values, coordinates.reshape(-1, 3).T, order=1, mode="nearest")
    return t, samples.reshape(len(points), len(t))


def fit_sigmoids(t: np.ndarray, profiles: np.ndarray, iterations: int = 10):
    """Least-squares fit of I(t) = B + A/(1 + exp(−S(t − t0))) to every row of ``profiles``.

    Returns dict of arrays: slope S (1/mm, > 0), amplitude A, offset t0 (mm), base B, r2.
    """
    slope, offset = _grid_start(t, profiles)
    amplitude, base, _ = _linear_part(t, profiles, slope, offset)
    params = np.stack([base, amplitude, np.log(slope), offset], axis=1)
    moving = np.arange(len(params))
    for _ in range(iterations):  # a ray the step left where it was would get the same step again: it is done
        stepped = _gauss_newton_step(t, profiles[moving], params[moving])
        moved = np.any(stepped != params[moving], axis=1)
        params[moving] = stepped
        moving = moving[moved]
    base, amplitude, log_slope, offset = params.T
    model = base[:, None] + amplitude[:, None] * _logistic(np.exp(log_slope)[:, None] * (t[None, :] - offset[:, None]))
    residual = ((profiles - model) ** 2).sum(axis=1)
    total = ((profiles - profiles.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    r2 = np.where(total > 0, 1 - residual / np.where(total > 0, total, 1), 0.0)
    return {"slope": np.exp(log_slope), "amplitude": amplitude, "offset": offset, "base": base, "r2": r2}


def _logistic(x):
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _linear_part(t, profiles, slope, offset):
    """Best A, B (closed form) for given S, t0 per ray, and the residual sum of squares."""
    shape = _logistic(slope[:, None] * (t[None, :] - offset[:, None]))
    n = t.size
    sum_f, sum_ff = shape.sum(axis=1), (shape**2).sum(axis=1)
    sum_y, sum_fy = profiles.sum(axis=1), (shape * profiles).sum(axis=1)
    det = n * sum_ff - sum_f**2
    det = np.where(np.abs(det) > 1e-12, det, 1e-12)
    amplitude = (n * sum_fy - sum_f * sum_y) / det
    base = (sum_y - amplitude * sum_f) / n
    residual = ((profiles - base[:, None] - amplitude[:, None] * shape) ** 2).sum(axis=1)
    return amplitude, base, residual


def _grid_start(t, profiles):
    """Starting (S, t0) per ray from a grid search (A, B solved exactly at each grid point).

    With A, B at their least-squares optimum the residual of a ray y at a grid shape f is
    Syy - Sfy**2 / Sff (sums of centred products), so the best grid point is the one with the largest
    Sfy**2 / Sff: one (rays x samples) @ (samples x grid) product instead of a loop over the grid.
    Ties keep the first grid point in (slope, offset) order.
    """
    slopes = np.geomspace(0.05, 20.0, 30)
    offsets = np.arange(t[0] / 2, t[-1] / 2 + 1e-9, (t[1] - t[0]) / 2)
    grid_slope, grid_offset = (axis.ravel() for axis in np.meshgrid(slopes, offsets, indexing="ij"))
    shapes = _logistic(grid_slope[:, None] * (t[None, :] - grid_offset[:, None]))  # grid x samples
    shapes_centred = shapes - shapes.mean(axis=1, keepdims=True)
    spread = (shapes_centred**2).sum(axis=1)
    explained = (profiles - profiles.mean(axis=1, keepdims=True)) @ shapes_centred.T  # rays x grid
    score = explained**2 / np.where(spread > 1e-12, spread, np.inf)
    best = np.argmax(score, axis=1)
    return grid_slope[best], grid_offset[best]


def _gauss_newton_step(t, profiles, params):
    """One damped Gauss-Newton step on (B, A, log S, t0) for every ray at once."""
    base, amplitude, log_slope, offset = params.T
    slope = np.exp(log_slope)
    z = slope[:, None] * (t[None, :] - offset[:, None])
    f = _logistic(z)
    df = f * (1 - f)
    residual = profiles - (base[:, None] + amplitude[:, None] * f)
    jacobian = np.stack(
        [np.ones_like(f), f, amplitude[:, None] * df * z, -amplitude[:, None] * df * slope[:, None]], axis=-1
    )
    transposed = jacobian.transpose(0, 2, 1)
    normal = transposed @ jacobian + 1e-6 * np.eye(4)
    gradient = (transposed @ residual[..., None])[..., 0]
    step = np.linalg.solve(normal, gradient[..., None])[..., 0]
    candidate = params + step
    candidate[:, 2] = np.clip(candidate[:, 2], math.log(1e-3), math.log(50.0))
    old = (residual**2).sum(axis=1)
    b, a, ls, o = candidate.T
    new = ((profiles - (b[:, None] + a[:, None] * _logistic(np.exp(ls)[:, None] * (t[None, :] - o[:, None])))) ** 2).sum(axis=1)
    return np.where((new <= old)[:, None], candidate, params)


def sigmoid_rays(values, inside, spacing, options: Mapping[str, Any], phi: np.ndarray | None = None):
    """Per-ray sigmoid fits: (points, normals, fit dict) — also used by tests to check edge positions."""
    points, normals = boundary_rays(inside, spacing, int(options["sigmoidMaxRays"]), phi=phi)
    t, profiles = sample_profiles(values, points, normals, spacing, float(options["sigmoidProfileMm"]), float(options["sigmoidStepMm"]))
    return points, normals, fit_sigmoids(t, profiles)


def sigmoid_features(values, inside, spacing, options: Mapping[str, Any], phi: np.ndarray | None = None) -> dict[str, float]:
    """Statistics of the sigmoid fits over the lesion surface (``phi`` as for boundary_rays)."""
    _, _, fit = sigmoid_rays(values, inside, spacing, {**DEFAULTS, **dict(options)}, phi=phi)
    slope, amplitude = fit["slope"], fit["amplitude"]
    if slope.size == 0:
        return {}
    return {
        "zhao_sigmoid_SlopeMean": float(slope.mean()),
        "zhao_sigmoid_SlopeSD": float(slope.std()),
        "zhao_sigmoid_SlopeMedian": float(np.median(slope)),
        "zhao_sigmoid_SlopeEnergy": float(np.mean(slope**2)),
        "zhao_sigmoid_AmplitudeMean": float(amplitude.mean()),
        "zhao_sigmoid_AmplitudeSD": float(amplitude.std()),
        "zhao_sigmoid_MaxGradientMean": float(np.mean(np.abs(amplitude) * slope / 4.0)),
        "zhao_sigmoid_FitR2Mean": float(fit["r2"].mean()),
        "zhao_sigmoid_EdgeOffsetMean": float(fit["offset"].mean()),
    }
