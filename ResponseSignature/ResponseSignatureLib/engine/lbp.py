"""Local binary patterns as pyradiomics computes them (image types LBP2D and LBP3D), in numpy/scipy.

pyradiomics delegates LBP2D to scikit-image (``skimage.feature.local_binary_pattern``) and builds LBP3D
from trimesh's icosphere and SciPy's spherical harmonics; neither scikit-image nor trimesh is needed
here. Both filters are written to give the same floating-point results as those libraries on the same
input, bit for bit where a threshold depends on it:

- LBP2D (``lbp_2d``): per slice along ``force2Ddimension``, P neighbours on a circle of radius R,
  offsets rounded to 5 decimals, bilinear interpolation with zeros outside the image, bit = neighbour
  >= centre. Methods default, ror, uniform, nri_uniform, var (scikit-image >= 0.11 definitions). The
  interpolation weights depend on the absolute row/column of a pixel (``r + 0.70711`` rounds
  differently at r = 5 and r = 205), so the caller passes where the window sits in the image
  pyradiomics filters; in flat regions the bit depends on that last-bit rounding.
- LBP3D (``lbp_3d``): per voxel, the image at the vertices of an icosphere (cubic B-spline,
  ``scipy.ndimage.map_coordinates``, output in the image's dtype as there), spherical kurtosis, the
  bits "vertex >= centre" expanded in spherical harmonics up to ``lbp3DLevels - 1`` and the L2 norm of
  each degree over the vertices. Quirks of pyradiomics kept on purpose, since features must match:
  the polar angle is passed where SciPy's legacy ``sph_harm`` expects the azimuth and vice versa, the
  coefficients are not conjugated, and the norm is ``real(sqrt(sum(z ** 2)))`` of complex numbers.
"""
from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

LBP2D_METHODS = ("default", "ror", "uniform", "nri_uniform", "var")
#: voxels beyond the cubic B-spline stencil after which SciPy's spline prefilter (recursive, pole
#: 2 - sqrt(3), decaying as 0.268^k) of a crop equals that of the whole image to the last bit
#: (measured: 28 voxels suffice on breast1; 0.268^32 < 1e-18)
SPLINE_PREFILTER_MARGIN = 32
#: voxels per chunk in LBP3D (bounds memory: chunk x vertices x harmonics complex numbers)
LBP3D_CHUNK = 8192


# ----------------------------------------------------------------------------------------------
# LBP2D
# ----------------------------------------------------------------------------------------------
def lbp2d_settings(args: dict) -> tuple[float, int, str, int]:
    """(radius, samples, method, slice axis) from pyradiomics' settings, with its defaults."""
    radius = float(args.get("lbp2DRadius", 1))
    samples = int(args.get("lbp2DSamples", 8))
    method = str(args.get("lbp2DMethod", "uniform")).lower()
    if method not in LBP2D_METHODS:
        raise InputError(f"unknown lbp2DMethod '{method}' (use one of {', '.join(LBP2D_METHODS)})")
    if samples < 1:
        raise InputError(f"lbp2DSamples must be at least 1, got {samples}")
    axis = int(args.get("force2Ddimension", 0))
    if axis not in (0, 1, 2):
        raise InputError(f"force2Ddimension must be 0, 1 or 2, got {axis}")
    return radius, samples, method, axis


def lbp2d_margin_voxels(args: dict) -> np.ndarray:
    """Crop margin (k, j, i) for LBP2D: ceil(R) + 1 in the slice plane, none across slices."""
    radius, _, _, axis = lbp2d_settings(args)
    margin = np.full(3, int(math.ceil(abs(radius))) + 1)
    margin[axis] = 0
    return margin


def circle_offsets(samples: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of the P circle samples, rounded to 5 decimals (scikit-image's)."""
    angles = 2 * np.pi * np.arange(samples, dtype=np.float64) / samples
    return np.round(-radius * np.sin(angles), 5), np.round(radius * np.cos(angles), 5)


def lbp_2d(window: np.ndarray, inner: tuple, offset: np.ndarray, args: dict) -> np.ndarray:
    """pyradiomics' LBP2D of ``window[inner]``, in the window's dtype (pyradiomics writes it back there).

    ``window``: the image region read (k, j, i); neighbours outside it count as 0, as outside the
    image in scikit-image, so it must reach ceil(R) beyond ``inner`` in-plane unless it ends at the
    border of the image pyradiomics filters. ``offset``: index of ``window[0, 0, 0]`` in that image.
    """
    radius, samples, method, axis = lbp2d_settings(args)
    values = np.swapaxes(np.asarray(window, dtype=np.float64), 0, axis)
    box = _swap(inner, axis)
    start = np.array(_swap(tuple(offset), axis))
    pad = int(math.ceil(abs(radius))) + 1
    padded = np.pad(values, [(0, 0), (pad, pad), (pad, pad)])
    # absolute row / column of each output pixel in the image pyradiomics filters, as floats
    rows = (np.arange(box[1].start, box[1].stop) + start[1]).astype(np.float64)[:, None]
    cols = (np.arange(box[2].start, box[2].stop) + start[2]).astype(np.float64)[None, :]
    slices = padded[box[0]]
    centre = values[box]
    row_offsets, col_offsets = circle_offsets(samples, radius)
    shift = pad - start[1:]  # absolute index -> index in ``padded``
    bits, samples_at = [], []
    for dr, dc in zip(row_offsets, col_offsets):
        sample = _bilinear(slices, rows + dr, cols + dc, shift)
        bits.append(sample - centre >= 0)
        samples_at.append(sample)
    codes = _lbp_codes(np.array(bits), samples_at, method)
    return np.swapaxes(codes, 0, axis).astype(window.dtype)


def _swap(items: tuple, axis: int) -> tuple:
    """``items`` with entries 0 and ``axis`` exchanged (numpy ``swapaxes`` order)."""
    out = list(items)
    out[0], out[axis] = out[axis], out[0]
    return tuple(out)


def _bilinear(slices: np.ndarray, rows: np.ndarray, cols: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Bilinear interpolation at absolute (rows, cols), same operations and order as scikit-image."""
    r0, c0 = np.floor(rows), np.floor(cols)
    r1, c1 = np.ceil(rows), np.ceil(cols)
    wr, wc = rows - r0, cols - c0
    ir0, ir1 = (r0 + shift[0]).astype(np.intp), (r1 + shift[0]).astype(np.intp)
    ic0, ic1 = (c0 + shift[1]).astype(np.intp), (c1 + shift[1]).astype(np.intp)
    ir0, ir1, ic0, ic1 = np.broadcast_arrays(ir0, ir1, ic0, ic1)
    top = (1 - wc) * slices[:, ir0, ic0] + wc * slices[:, ir0, ic1]
    bottom = (1 - wc) * slices[:, ir1, ic0] + wc * slices[:, ir1, ic1]
    return (1 - wr) * top + wr * bottom


def _lbp_codes(bits: np.ndarray, samples_at: list, method: str) -> np.ndarray:
    """LBP code per pixel from the P bits (axis 0), scikit-image's definition of each method."""
    count = bits.shape[0]
    if method == "var":
        total = np.zeros(bits.shape[1:])
        squares = np.zeros(bits.shape[1:])
        for sample in samples_at:  # sequential sums, as scikit-image
            total += sample
            squares += sample * sample
        var = (squares - (total * total) / count) / count
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(var != 0, var, np.nan)
    if method in ("uniform", "nri_uniform"):
        b = bits.astype(np.int64)
        changes = np.sum(b[:-1] != b[1:], axis=0)  # along the chain, not round the circle
        ones = b.sum(axis=0)
        if method == "uniform":
            return np.where(changes <= 2, ones, count + 1).astype(np.float64)
        has_one, has_zero = ones > 0, ones < count
        first_one = np.where(has_one, np.argmax(b == 1, axis=0), -1)
        first_zero = np.where(has_zero, np.argmax(b == 0, axis=0), -1)
        rotation = np.where(first_one == 0, ones - first_zero, count - first_one)
        code = 1 + (ones - 1) * count + rotation
        code = np.where(ones == 0, 0, np.where(ones == count, count * (count - 1) + 1, code))
        return np.where(changes <= 2, code, count * (count - 1) + 2).astype(np.float64)
    weights = (2 ** np.arange(count, dtype=np.int64)).reshape((-1,) + (1,) * (bits.ndim - 1))
    code = np.sum(bits * weights, axis=0)
    if method == "ror":  # smallest value over all cyclic rotations of the P-bit pattern
        best = rotated = code
        for _ in range(1, count):
            rotated = (rotated >> 1) | ((rotated & 1) << (count - 1))
            best = np.minimum(best, rotated)
        code = best
    return code.astype(np.float64)


# ----------------------------------------------------------------------------------------------
# LBP3D
# ----------------------------------------------------------------------------------------------
def lbp3d_settings(args: dict) -> tuple[int, float, int]:
    """(levels, icosphere radius in voxels, icosphere subdivisions), pyradiomics' defaults 2, 1, 1."""
    levels = int(args.get("lbp3DLevels", 2))
    radius = float(args.get("lbp3DIcosphereRadius", 1))
    subdivisions = int(args.get("lbp3DIcosphereSubdivision", 1))
    if levels < 1:
        raise InputError(f"lbp3DLevels must be at least 1, got {levels}")
    if radius <= 0:
        raise InputError(f"lbp3DIcosphereRadius must be positive, got {radius}")
    return levels, radius, subdivisions


def lbp3d_names(args: dict) -> list[str]:
    """pyradiomics' image names: one per level, then the kurtosis image."""
    levels = lbp3d_settings(args)[0]
    return ["lbp-3D-m%d" % (n + 1) for n in range(levels)] + ["lbp-3D-k"]


def lbp3d_margin_voxels(args: dict) -> np.ndarray:
    """Crop margin for LBP3D: icosphere radius + cubic stencil (2) + spline prefilter settling."""
    radius = lbp3d_settings(args)[1]
    return np.full(3, int(math.ceil(radius)) + 2 + SPLINE_PREFILTER_MARGIN)


def icosphere_vertices(subdivisions: int, radius: float) -> np.ndarray:
    """Vertices (n, 3) of an icosphere: icosahedron, edges split at midpoints, pushed to the sphere.

    Same construction, arithmetic and vertex order as ``trimesh.creation.icosphere`` (which
    pyradiomics uses; checked against trimesh 5.2), so coordinates and sums over vertices agree to
    the last bit.
    """
    golden = (1.0 + 5.0 ** 0.5) / 2.0
    norm = np.sqrt(1.0 + golden ** 2)
    a, b = 1.0 / norm, golden / norm
    vertices = np.array([(sx * a, sy * b, 0.0) for sy in (1, -1) for sx in (-1, 1)]
                        + [(0.0, sx * a, sy * b) for sy in (1, -1) for sx in (-1, 1)]
                        + [(sy * b, 0.0, sx * a) for sy in (1, -1) for sx in (-1, 1)])
    faces = _icosahedron_faces(vertices)
    for _ in range(subdivisions):
        vertices, faces = _split_faces(vertices, faces)
        vertices = _to_sphere(vertices, radius)
    if subdivisions <= 0:
        vertices = _to_sphere(vertices, radius)
    return vertices


def _icosahedron_faces(vertices: np.ndarray) -> list[tuple[int, int, int]]:
    """The 20 triangles of the icosahedron: vertex triples that are pairwise nearest neighbours."""
    dist = np.linalg.norm(vertices[:, None] - vertices[None], axis=2)
    edge = np.isclose(dist, dist[dist > 0].min())
    n = len(vertices)
    return [(i, j, k) for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n)
            if edge[i, j] and edge[j, k] and edge[i, k]]


def _split_faces(vertices: np.ndarray, faces: list) -> tuple[np.ndarray, list]:
    """Each triangle into four, new vertices at the edge midpoints ((p + q) / 2).

    Midpoints are appended ordered by (larger, smaller) vertex index of their edge, trimesh's order
    (it sorts edges by a packed integer key), so that sums over vertices run in the same order.
    """
    edges = sorted({(min(p, q), max(p, q)) for face in faces for p, q in zip(face, face[1:] + face[:1])},
                   key=lambda edge: (edge[1], edge[0]))
    midpoint = {edge: len(vertices) + i for i, edge in enumerate(edges)}
    points = np.array([(vertices[p] + vertices[q]) / 2 for p, q in edges])

    def middle(p: int, q: int) -> int:
        return midpoint[(min(p, q), max(p, q))]

    out = []
    for p, q, r in faces:
        pq, qr, rp = middle(p, q), middle(q, r), middle(r, p)
        out += [(p, pq, rp), (q, qr, pq), (r, rp, qr), (pq, qr, rp)]
    return np.vstack([vertices, points]), out


def _to_sphere(vertices: np.ndarray, radius: float) -> np.ndarray:
    """Move each vertex along its direction to distance ``radius`` (trimesh's arithmetic)."""
    length = np.sqrt(np.dot(vertices ** 2, [1, 1, 1]))
    unit = vertices / length.reshape((-1, 1))
    return vertices + unit * (radius - length).reshape((-1, 1))


def spherical_harmonic(m: int, n: int, azimuth: np.ndarray, polar: np.ndarray) -> np.ndarray:
    """Y_n^m in SciPy's legacy convention ``sph_harm(m, n, azimuth, polar)`` (orthonormal, with the
    Condon-Shortley phase), computed by SciPy itself so that values agree with pyradiomics' to the bit:
    ``sph_harm`` where SciPy still has it (what pyradiomics calls), else its documented successor
    ``sph_harm_y(n, m, polar, azimuth)`` (SciPy >= 1.15; ``sph_harm`` was removed in 1.17).
    """
    import scipy.special

    legacy = getattr(scipy.special, "sph_harm", None)
    if legacy is not None:
        return legacy(m, n, azimuth, polar)
    return scipy.special.sph_harm_y(n, m, polar, azimuth)


def _harmonics(vertices: np.ndarray, radius: float, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(Y (vertices, harmonics), degree n of each harmonic column) for degrees 0..levels-1.

    As pyradiomics: theta = arccos(z / r) (polar) and phi = arctan2(y, x) (azimuth) are handed to
    ``sph_harm(m, n, theta, phi)``, whose third argument is the azimuth: the angles swap roles.
    """
    theta = np.arccos(np.true_divide(vertices[:, 2], radius))
    phi = np.arctan2(vertices[:, 1], vertices[:, 0])
    columns, degree = [], []
    for n in range(levels):
        for m in range(-n, n + 1):
            columns.append(spherical_harmonic(m, n, theta, phi))
            degree.append(n)
    return np.column_stack(columns), np.array(degree)


def lbp_3d(window: np.ndarray, inner: tuple, offset: np.ndarray, args: dict) -> list[np.ndarray]:
    """pyradiomics' LBP3D images (one per level, then kurtosis) on ``window[inner]``, float64.

    ``window``: the image region read, reaching ``lbp3d_margin_voxels`` beyond ``inner`` unless it ends
    at the border of the image pyradiomics filters (outside that image, samples are 0 as there).
    ``offset``: index of ``window[0, 0, 0]`` in that image, so that sample coordinates are formed as
    pyradiomics forms them (absolute index + vertex) and round identically.
    """
    from scipy.ndimage import map_coordinates, spline_filter

    levels, radius, subdivisions = lbp3d_settings(args)
    vertices = icosphere_vertices(subdivisions, radius)
    harmonics, degree = _harmonics(vertices, radius, levels)
    window = np.asarray(window)
    coefficients = spline_filter(window, 3, output=np.float64, mode="constant")
    grid = np.indices(tuple(s.stop - s.start for s in inner)).reshape(3, -1).T
    voxels = grid + np.array([s.start for s in inner]) + np.asarray(offset)  # absolute indices
    out = np.empty((levels + 1, len(voxels)))
    for lo in range(0, len(voxels), LBP3D_CHUNK):
        chunk = voxels[lo:lo + LBP3D_CHUNK]
        absolute = chunk[None, :, :] + vertices[:, None, :]  # (vertices, voxels, 3)
        local = absolute - np.asarray(offset)  # exact: subtracting whole numbers
        samples = map_coordinates(coefficients, local.T, output=window.dtype, order=3, mode="constant",
                                  prefilter=False)  # (voxels, vertices)
        centre = window[tuple((chunk - np.asarray(offset)).T)]
        out[:levels, lo:lo + len(chunk)] = _lbp3d_norms(samples >= centre[:, None], harmonics, degree, levels)
        out[levels, lo:lo + len(chunk)] = _spherical_kurtosis(samples)
    shape = tuple(s.stop - s.start for s in inner)
    return [image.reshape(shape) for image in out]


def _lbp3d_norms(bits: np.ndarray, harmonics: np.ndarray, degree: np.ndarray, levels: int) -> np.ndarray:
    """(levels, voxels): per degree n, real(sqrt(sum over vertices of (sum_m c_nm Y_nm)^2)).

    c_nm = sum over vertices of bit * Y_nm (no conjugate), as pyradiomics; the square is the complex
    square, not |.|^2. Elementwise products and sums in pyradiomics' order.
    """
    weights = bits.astype(int)
    coeff = np.multiply(weights[:, :, None], harmonics[None, :, :]).sum(axis=1)  # (voxels, harmonics)
    bands = []  # per degree: (voxels, vertices, 1) expansion at the vertices
    for n in range(levels):
        cols = degree == n
        band = np.multiply(coeff[:, None, cols], harmonics[None, :, cols])
        bands.append(band if n == 0 else np.sum(band, axis=2, keepdims=True))
    expansion = np.concatenate(bands, axis=2)  # (voxels, vertices, levels)
    return np.real(np.sqrt(np.sum(expansion ** 2, axis=1))).T


def _spherical_kurtosis(samples: np.ndarray) -> np.ndarray:
    """Excess kurtosis (biased) of each voxel's vertex samples; NaN when they are (nearly) constant.

    ``scipy.stats.kurtosis(samples, axis=1)``'s arithmetic: m2, m4 central moments (m4 as the square
    of the squared deviations), NaN where m2 <= (eps * mean)^2.
    """
    mean = np.mean(samples, axis=1, keepdims=True)
    dev = samples.astype(np.float64) - mean
    sq = dev ** 2
    m2 = np.mean(sq, axis=1)
    m4 = np.mean(sq ** 2, axis=1)
    with np.errstate(all="ignore"):
        flat = m2 <= (np.finfo(np.float64).eps * mean[:, 0]) ** 2
        return np.where(flat, np.nan, m4 / m2 ** 2.0) - 3
