"""measure_lesion on analytic phantoms: spheres and ellipsoids on isotropic, anisotropic and
oblique grids, and small hand-computed voxel patterns.

Phantoms are built here: a voxel belongs to the lesion when its centre (physical point from
origin + D * (spacing * index)) lies inside the analytic shape. Expected values are the analytic
ones (sphere volume 4/3*pi*r^3, diameter 2r) or computed by hand in the test.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import SimpleITK as sitk

from ResponseSignatureLib.errors import InputError, LesionError
from ResponseSignatureLib.measure import measure_lesion


def rotation(axis, degrees) -> np.ndarray:
    """Rotation matrix about ``axis`` (Rodrigues' formula)."""
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    angle = math.radians(degrees)
    cross = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + math.sin(angle) * cross + (1 - math.cos(angle)) * cross @ cross


def grid(size, spacing, direction=np.eye(3), origin=(-20.0, 30.0, 100.0)):
    """Voxel-centre physical points (k, j, i, 3) of a grid and an empty image on it."""
    image = sitk.Image([int(s) for s in size], sitk.sitkFloat32)
    image.SetSpacing([float(s) for s in spacing])
    image.SetDirection([float(x) for x in np.asarray(direction).ravel()])
    image.SetOrigin([float(x) for x in origin])
    k, j, i = np.meshgrid(*(np.arange(n) for n in size[::-1]), indexing="ij")
    index = np.stack([i, j, k], axis=-1).astype(float)
    points = np.asarray(origin) + (index * np.asarray(spacing)) @ np.asarray(direction).T
    return image, points


def grid_centre(image) -> np.ndarray:
    """Physical point of the grid's central continuous index."""
    middle = [(n - 1) / 2.0 for n in image.GetSize()]
    return np.asarray(image.TransformContinuousIndexToPhysicalPoint(middle))


def to_mask(inside: np.ndarray, reference) -> sitk.Image:
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(reference)
    return mask


def sphere_case(size, spacing, direction=np.eye(3), radius=15.0, shift=(0.3, -0.2, 0.4)):
    image, points = grid(size, spacing, direction)
    centre = grid_centre(image) + np.asarray(shift)
    inside = np.linalg.norm(points - centre, axis=-1) <= radius
    return image, to_mask(inside, image), centre


SPHERE_GRIDS = {
    "isotropic": ((40, 40, 40), (1.0, 1.0, 1.0), np.eye(3)),
    "anisotropic": ((52, 52, 16), (0.7, 0.7, 2.5), np.eye(3)),
    "oblique": ((50, 46, 24), (0.8, 0.9, 2.0), rotation((1.0, 1.0, 0.3), 25.0)),
}


@pytest.mark.parametrize("name", sorted(SPHERE_GRIDS))
def test_sphere_volume_diameters_centroid(name):
    size, spacing, direction = SPHERE_GRIDS[name]
    radius = 15.0
    image, mask, centre = sphere_case(size, spacing, direction, radius)
    result = measure_lesion(image, mask, "sphere")

    assert result["volume_ml"] == pytest.approx(4.0 / 3.0 * math.pi * radius ** 3 / 1000.0, rel=0.02)
    in_plane = max(spacing[:2])
    assert abs(result["longest_diameter_mm"] - 2 * radius) <= in_plane
    assert abs(result["short_axis_mm"] - 2 * radius) <= in_plane
    assert result["short_axis_mm"] <= result["longest_diameter_mm"]
    centroid = [result["centroid_x_mm"], result["centroid_y_mm"], result["centroid_z_mm"]]
    assert np.allclose(centroid, centre, atol=0.1)
    # The longest chord is in one of the two slices around the centre (chords there differ by
    # less than the digitisation error, so either may win).
    k_centre = image.TransformPhysicalPointToContinuousIndex(tuple(centre))[2]
    assert abs(result["diameter_slice_index"] - k_centre) < 1.0
    assert result["n_voxels"] == int(sitk.GetArrayFromImage(mask).sum())


def test_voxel_count_volume_exact():
    image, mask, _ = sphere_case((52, 52, 16), (0.7, 0.7, 2.5))
    n = int(sitk.GetArrayFromImage(mask).sum())
    assert measure_lesion(image, mask)["volume_ml"] == pytest.approx(n * 0.7 * 0.7 * 2.5 / 1000.0)


@pytest.mark.parametrize("angle", [0.0, 30.0])
def test_ellipsoid_axes_in_axial_plane(angle):
    """Semi-axes a=20 (rotated by ``angle`` in the axial plane), b=11, c=8 mm: LD=2a, SA=2b."""
    a, b, c = 20.0, 11.0, 8.0
    image, points = grid((56, 56, 12), (0.8, 0.8, 2.0))
    centre = grid_centre(image) + np.array([0.1, 0.25, 0.0])
    t = math.radians(angle)
    u = np.array([math.cos(t), math.sin(t), 0.0])
    v = np.array([-math.sin(t), math.cos(t), 0.0])
    d = points - centre
    inside = (d @ u / a) ** 2 + (d @ v / b) ** 2 + (d[..., 2] / c) ** 2 <= 1.0
    result = measure_lesion(image, to_mask(inside, image), "ellipsoid")
    assert abs(result["longest_diameter_mm"] - 2 * a) <= 0.8
    assert abs(result["short_axis_mm"] - 2 * b) <= 0.8
    assert result["volume_ml"] == pytest.approx(4.0 / 3.0 * math.pi * a * b * c / 1000.0, rel=0.02)


def test_mean_hu_constant_and_ramp():
    image, points = grid((31, 31, 31), (1.0, 1.0, 1.0))
    centre = points[15, 15, 15]  # a voxel centre: the digitised ball is symmetric about it
    inside = np.linalg.norm(points - centre, axis=-1) <= 9.0
    mask = to_mask(inside, image)

    constant = sitk.GetImageFromArray(np.where(inside, 40.0, -1000.0).astype(np.float32))
    constant.CopyInformation(image)
    assert measure_lesion(constant, mask)["mean_hu"] == pytest.approx(40.0)

    # value = 10 * i: symmetric ball around i = 15 -> mean 150
    i_index = np.broadcast_to(np.arange(31, dtype=np.float32), (31, 31, 31))
    ramp = sitk.GetImageFromArray(10.0 * i_index)
    ramp.CopyInformation(image)
    assert measure_lesion(ramp, mask)["mean_hu"] == pytest.approx(150.0)


def test_rectangle_by_hand():
    """A 5 x 3 voxel rectangle at spacing (2, 1) mm on slice k=3, a 2-voxel row on slice k=1."""
    image, _ = grid((8, 6, 5), (2.0, 1.0, 3.0))
    array = np.zeros((5, 6, 8), dtype=np.uint8)
    array[3, 1:4, 2:7] = 1      # centres span 8 mm along x and 2 mm along y
    array[1, 2, 3:5] = 1        # centres 2 mm apart: shorter
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(image)
    result = measure_lesion(image, mask)
    # Longest chord: the rectangle's diagonal between centres, sqrt(8^2 + 2^2).
    assert result["longest_diameter_mm"] == pytest.approx(math.sqrt(68.0))
    # Width across the diagonal: corners (0,2) and (8,0) project to +-16/sqrt(68) on (-2, 8)/sqrt(68).
    assert result["short_axis_mm"] == pytest.approx(32.0 / math.sqrt(68.0))
    assert result["diameter_slice_index"] == 3
    assert result["n_voxels"] == 17
    assert result["volume_ml"] == pytest.approx(17 * 6.0 / 1000.0)


def test_single_voxel_has_zero_diameters():
    image, _ = grid((4, 4, 4), (1.0, 1.0, 1.0))
    array = np.zeros((4, 4, 4), dtype=np.uint8)
    array[2, 1, 3] = 1
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(image)
    result = measure_lesion(image, mask)
    assert result["longest_diameter_mm"] == 0.0
    assert result["short_axis_mm"] == 0.0
    expected = image.TransformIndexToPhysicalPoint((3, 1, 2))
    assert (result["centroid_x_mm"], result["centroid_y_mm"], result["centroid_z_mm"]) == \
        pytest.approx(expected)


def test_empty_mask_is_a_lesion_error():
    image, _ = grid((5, 5, 5), (1.0, 1.0, 1.0))
    mask = to_mask(np.zeros((5, 5, 5), dtype=bool), image)
    with pytest.raises(LesionError, match=r"lesion 'liver_1'.*empty \(no voxel\)") as caught:
        measure_lesion(image, mask, "liver_1")
    assert caught.value.lesion_id == "liver_1"


def test_geometry_mismatch_is_an_input_error():
    image, _ = grid((6, 6, 6), (1.0, 1.0, 1.0))
    other_size = sitk.Image([6, 6, 5], sitk.sitkUInt8)
    other_size.SetOrigin(image.GetOrigin())
    with pytest.raises(InputError, match="size"):
        measure_lesion(image, other_size, "node_2")
    other_spacing = sitk.Image([6, 6, 6], sitk.sitkUInt8)
    other_spacing.CopyInformation(image)
    other_spacing.SetSpacing((1.0, 1.0, 2.0))
    with pytest.raises(InputError, match="spacing"):
        measure_lesion(image, other_spacing, "node_2")
    other_origin = sitk.Image([6, 6, 6], sitk.sitkUInt8)
    other_origin.CopyInformation(image)
    other_origin.SetOrigin((0.0, 0.0, 0.0))
    with pytest.raises(InputError, match="origin"):
        measure_lesion(image, other_origin, "node_2")
