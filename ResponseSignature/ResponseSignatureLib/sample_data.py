"""Deterministic synthetic data: a longitudinal CT case with known lesions, and a sphere phantom.

The sample case is a small CT-like abdomen (air, body with a fat rim, liver) with lobulated,
textured lesions at baseline and follow-up. Its design (``SAMPLE_LESIONS``, ``FOLLOWUP_SHIFT_MM``)
is public so that tests can compare what the pipeline measures with what was drawn:
liver_1 and liver_2 shrink and become more homogeneous, node_1 stays the same, liver_3 disappears,
liver_4 is new at follow-up. The follow-up patient is shifted by a few millimetres.
"""
from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

from .imageio import Segment, write_segments

SIZE = (160, 160, 60)                 # voxels (i, j, k)
SPACING = (0.8, 0.8, 2.5)             # mm
ORIGIN = tuple(-(n - 1) * s / 2.0 for n, s in zip(SIZE, SPACING))   # image centre at (0, 0, 0) LPS
FOLLOWUP_SHIFT_MM = (3.0, -2.0, 2.5)  # patient position at follow-up minus baseline (LPS)
NOISE_SD_HU = 15.0


@dataclass(frozen=True)
class LesionDesign:
    """One synthetic lesion: where it is, its shape and how it changes from baseline to follow-up."""

    name: str
    location: str
    centre_mm: tuple                   # LPS, in the baseline patient position
    radius_mm: float                   # of the sphere before axis scaling and lobulation
    axes: tuple = (1.0, 1.0, 1.0)      # ellipsoid scaling of the x, y, z semi-axes
    lobes: tuple = (0.06, 0.04)        # amplitudes of the 3-fold and 2-fold lobulation
    mean_hu: float = 100.0
    texture_sd_hu: float = 25.0
    followup_scale: float | None = 1.0  # radius factor at follow-up; None: disappeared
    followup_texture_sd_hu: float = 25.0
    at_baseline: bool = True           # False: a new lesion, drawn at follow-up only


SAMPLE_LESIONS = (
    LesionDesign("liver_1", "liver", (-28.0, 2.0, -20.0), 12.0, (1.1, 0.95, 1.0),
                 followup_scale=0.65, followup_texture_sd_hu=8.0),
    LesionDesign("liver_2", "liver", (-20.0, 10.0, 25.0), 9.0, (0.95, 1.05, 1.1), (0.05, 0.05),
                 mean_hu=95.0, followup_scale=0.72, followup_texture_sd_hu=10.0),
    LesionDesign("liver_3", "liver", (-34.0, -8.0, 10.0), 6.5, followup_scale=None),
    LesionDesign("node_1", "node", (24.0, 8.0, 0.0), 9.0, (1.15, 0.95, 1.2), (0.03, 0.03),
                 mean_hu=90.0, texture_sd_hu=20.0, followup_scale=1.0, followup_texture_sd_hu=20.0),
    LesionDesign("liver_4", "liver", (-18.0, -2.0, -35.0), 5.5, mean_hu=105.0, at_baseline=False),
)


# ------------------------------------------------------------------------------------ geometry

def _radial_factor(lesion: LesionDesign, ux, uy, uz):
    """Lobulation: 1 + zero-mean spherical harmonics of the direction (ux, uy, uz)."""
    azimuth = np.arctan2(uy, ux)
    sin_polar = np.sqrt(np.clip(1.0 - uz ** 2, 0.0, 1.0))
    three, two = lesion.lobes
    return (1.0 + three * sin_polar ** 3 * np.cos(3 * azimuth + 0.5)
            + two * sin_polar ** 2 * np.cos(2 * azimuth + 1.3))


def lesion_radius_mm(lesion: LesionDesign, timepoint: str = "baseline") -> float | None:
    """The lesion's base radius at a time point, or None if it is absent then."""
    if timepoint == "baseline":
        return lesion.radius_mm if lesion.at_baseline else None
    if not lesion.at_baseline:
        return lesion.radius_mm
    return None if lesion.followup_scale is None else lesion.radius_mm * lesion.followup_scale


def design_volume_ml(lesion: LesionDesign, timepoint: str = "baseline", samples: int = 200) -> float | None:
    """Volume of the continuous lesion shape, by quadrature of r(u)^3 / 3 over the unit sphere."""
    radius = lesion_radius_mm(lesion, timepoint)
    if radius is None:
        return None
    polar = (np.arange(samples) + 0.5) * np.pi / samples
    azimuth = (np.arange(2 * samples) + 0.5) * np.pi / samples
    p, a = np.meshgrid(polar, azimuth, indexing="ij")
    factor = _radial_factor(lesion, np.sin(p) * np.cos(a), np.sin(p) * np.sin(a), np.cos(p))
    integral = np.sum(factor ** 3 * np.sin(p)) * (np.pi / samples) ** 2
    return float(np.prod(lesion.axes) * radius ** 3 * integral / 3.0 / 1000.0)


def _physical_grid(image: sitk.Image):
    """Physical LPS coordinates (x, y, z arrays indexed k, j, i) of every voxel centre."""
    size = image.GetSize()
    k, j, i = np.meshgrid(*(np.arange(n, dtype=float) for n in size[::-1]), indexing="ij")
    matrix = np.array(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    origin = np.array(image.GetOrigin())
    return tuple(origin[r] + matrix[r, 0] * i + matrix[r, 1] * j + matrix[r, 2] * k for r in range(3))


def _lesion_mask(lesion: LesionDesign, radius: float, grid, shift) -> np.ndarray:
    """Voxels whose centre lies inside the lobulated ellipsoid of the lesion (moved by shift)."""
    dx, dy, dz = (grid[r] - lesion.centre_mm[r] - shift[r] for r in range(3))
    sx, sy, sz = (d / a for d, a in zip((dx, dy, dz), lesion.axes))
    distance = np.sqrt(sx ** 2 + sy ** 2 + sz ** 2)
    inside = distance <= radius * (1.0 + sum(abs(a) for a in lesion.lobes))  # candidates only
    near = distance[inside]
    safe = np.where(near > 0, near, 1.0)
    factor = _radial_factor(lesion, sx[inside] / safe, sy[inside] / safe, sz[inside] / safe)
    inside[inside] = near <= radius * factor
    return inside


def _ellipsoid(grid, centre, semi_axes) -> np.ndarray:
    """Voxels inside an axis-aligned ellipsoid (physical mm)."""
    return sum(((grid[r] - centre[r]) / semi_axes[r]) ** 2 for r in range(3)) <= 1.0


# --------------------------------------------------------------------------------------- images

def _empty_image() -> sitk.Image:
    image = sitk.Image(list(SIZE), sitk.sitkInt16)
    image.SetSpacing(SPACING)
    image.SetOrigin(ORIGIN)
    return image


def _smooth_noise(rng: np.random.Generator, shape, sd: float, sigma_voxels=(0.6, 1.2, 1.2)) -> np.ndarray:
    """Gaussian noise smoothed a little (sigma in k, j, i voxels), rescaled to the given SD."""
    noise = ndimage.gaussian_filter(rng.standard_normal(shape), sigma_voxels)
    return noise * (sd / noise.std())


def _anatomy(grid, shift) -> np.ndarray:
    """Air, body ellipse (fat rim, soft tissue) and liver, in HU (k, j, i)."""
    x, y = grid[0] - shift[0], grid[1] - shift[1]
    hu = np.full(x.shape, -1000.0)
    hu[(x / 58.0) ** 2 + (y / 46.0) ** 2 <= 1.0] = -100.0
    hu[(x / 52.0) ** 2 + (y / 40.0) ** 2 <= 1.0] = 40.0
    liver_centre = (-26.0 + shift[0], 4.0 + shift[1], 0.0 + shift[2])
    hu[_ellipsoid(grid, liver_centre, (24.0, 25.0, 62.0))] = 60.0
    return hu


def _timepoint(timepoint: str, rng: np.random.Generator, lesions=SAMPLE_LESIONS, shift=None):
    """The CT image and the lesion segments of one time point (``lesions`` drawn as designed for it)."""
    if shift is None:
        shift = (0.0, 0.0, 0.0) if timepoint == "baseline" else FOLLOWUP_SHIFT_MM
    reference = _empty_image()
    grid = _physical_grid(reference)
    hu = _anatomy(grid, shift)
    segments = []
    for lesion in lesions:
        radius = lesion_radius_mm(lesion, timepoint)
        if radius is None:
            continue
        inside = _lesion_mask(lesion, radius, grid, shift)
        texture = lesion.texture_sd_hu if timepoint == "baseline" else lesion.followup_texture_sd_hu
        box = _bounding_box(inside, margin=4)
        noise = _smooth_noise(rng, hu[box].shape, texture, (0.8, 2.0, 2.0))[inside[box]]
        hu[box][inside[box]] = lesion.mean_hu + noise - noise.mean()
        segments.append(_segment(lesion.name, inside, reference))
    hu = ndimage.gaussian_filter(hu, (0.3, 0.5, 0.5)) + _smooth_noise(rng, hu.shape, NOISE_SD_HU)
    image = sitk.GetImageFromArray(np.clip(np.rint(hu), -1024, 3071).astype(np.int16))
    image.CopyInformation(reference)
    return image, segments


def _bounding_box(inside: np.ndarray, margin: int) -> tuple:
    """Slices of the box around the True voxels, widened by margin voxels (clipped to the array)."""
    corners = np.argwhere(inside)
    low = np.maximum(corners.min(axis=0) - margin, 0)
    high = np.minimum(corners.max(axis=0) + margin + 1, inside.shape)
    return tuple(slice(int(a), int(b)) for a, b in zip(low, high))


_COLORS = {"liver_1": (0.85, 0.2, 0.2), "liver_2": (0.95, 0.6, 0.1), "liver_3": (0.6, 0.3, 0.8),
           "node_1": (0.2, 0.6, 0.9), "liver_4": (0.2, 0.75, 0.3)}


def _segment(name: str, inside: np.ndarray, reference: sitk.Image) -> Segment:
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(reference)
    return Segment(name, mask, 1, _COLORS.get(name))


# ------------------------------------------------------------------------------------- the case

def make_sample_case(out_dir, seed: int = 0, patient_id: str = "sample", with_labelmaps: bool = False,
                     lesions=SAMPLE_LESIONS, second_followup: bool = False, dicom: bool = False) -> dict:
    """Write the synthetic baseline/follow-up case into out_dir and return the paths of its files.

    ``second_followup`` adds ``followup2.nrrd`` / ``followup2.seg.nrrd``: a later scan on which the
    lesions grow again from the first follow-up (``SECOND_FOLLOWUP_SCALE``), for RECIST over time.
    ``dicom``: also write the baseline and follow-up CTs as DICOM series folders and their lesions as
    DICOM SEGs (keys ``<timepoint>_dicom``, ``<timepoint>_dicom_seg``; needs the ``dicom`` extra).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = {}
    for timepoint in ("baseline", "followup"):
        image, segments = _timepoint(timepoint, rng, lesions)
        paths[f"{timepoint}_image"] = out / f"{timepoint}.nrrd"
        paths[f"{timepoint}_seg"] = out / f"{timepoint}.seg.nrrd"
        sitk.WriteImage(image, str(paths[f"{timepoint}_image"]), True)
        write_segments(segments, image, paths[f"{timepoint}_seg"])
        if with_labelmaps:
            paths[f"{timepoint}_labelmap"] = out / f"{timepoint}_label.nrrd"
            write_segments(segments, image, paths[f"{timepoint}_labelmap"])
        if dicom:
            from .dicom_export import write_sample_dicom

            locations = {lesion.name: lesion.location for lesion in lesions}
            paths.update(write_sample_dicom(out, timepoint, image, segments, patient_id, locations))
    if second_followup:
        image, segments = _timepoint("followup", rng, second_followup_lesions(lesions), SECOND_FOLLOWUP_SHIFT_MM)
        paths["followup2_image"] = out / "followup2.nrrd"
        paths["followup2_seg"] = out / "followup2.seg.nrrd"
        sitk.WriteImage(image, str(paths["followup2_image"]), True)
        write_segments(segments, image, paths["followup2_seg"])
    paths["locations"] = _write_locations(out / "locations.csv", lesions)
    paths["design"] = _write_design(out / "design.json", patient_id, seed, lesions)
    return paths


#: lesion radius at the second follow-up relative to the first (lesions not listed: unchanged)
SECOND_FOLLOWUP_SCALE = {"liver_1": 1.35, "node_1": 1.1, "liver_4": 1.2}
SECOND_FOLLOWUP_SHIFT_MM = (-1.5, 1.0, 0.0)


def second_followup_lesions(lesions=SAMPLE_LESIONS) -> tuple:
    """The designs of the second follow-up: each present lesion scaled by SECOND_FOLLOWUP_SCALE."""
    later = []
    for lesion in lesions:
        radius = lesion_radius_mm(lesion, "followup")
        if radius is not None:
            later.append(replace(lesion, radius_mm=radius * SECOND_FOLLOWUP_SCALE.get(lesion.name, 1.0),
                                 followup_scale=1.0, at_baseline=True))
    return tuple(later)


def _write_locations(path: Path, lesions=SAMPLE_LESIONS) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["lesion_id", "location"])
        for lesion in lesions:
            writer.writerow([lesion.name, lesion.location])
    return path


def _write_design(path: Path, patient_id: str, seed: int, lesions=SAMPLE_LESIONS) -> Path:
    """The drawn truth (lesions, volumes, follow-up shift) as JSON, for people and tests."""
    records = []
    for lesion in lesions:
        record = asdict(lesion)
        for timepoint in ("baseline", "followup"):
            record[f"{timepoint}_volume_ml"] = design_volume_ml(lesion, timepoint)
        records.append(record)
    design = {"patient_id": patient_id, "seed": seed, "size": SIZE, "spacing_mm": SPACING,
              "origin_mm": ORIGIN, "followup_shift_mm": FOLLOWUP_SHIFT_MM, "lesions": records}
    path.write_text(json.dumps(design, indent=2) + "\n", encoding="utf-8")
    return path


# -------------------------------------------------------------------------------- sphere phantom

def sphere_phantom(radius_mm: float, spacing, size, direction=None, origin=None,
                   inside_hu: int = 100, outside_hu: int = 0):
    """An int16 image with a sphere of inside_hu at the grid centre, and its UInt8 mask.

    The mask holds the voxels whose centre lies within radius_mm of the grid's physical centre.
    """
    image = sitk.Image([int(n) for n in size], sitk.sitkInt16)
    image.SetSpacing([float(s) for s in spacing])
    if direction is not None:
        image.SetDirection([float(d) for d in np.ravel(direction)])
    if origin is not None:
        image.SetOrigin([float(o) for o in origin])
    centre = image.TransformContinuousIndexToPhysicalPoint([(n - 1) / 2.0 for n in image.GetSize()])
    grid = _physical_grid(image)
    inside = sum((grid[r] - centre[r]) ** 2 for r in range(3)) <= radius_mm ** 2
    values = np.where(inside, inside_hu, outside_hu).astype(np.int16)
    phantom = sitk.GetImageFromArray(values)
    phantom.CopyInformation(image)
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    return phantom, mask
