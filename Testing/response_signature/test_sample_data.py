"""sample_data: the synthetic longitudinal case is deterministic and matches its design."""
from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from ResponseSignatureLib import sample_data as sd
from ResponseSignatureLib.imageio import read_image, read_segments

VOXEL_ML = np.prod(sd.SPACING) / 1000.0


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    out = tmp_path_factory.mktemp("case")
    paths = sd.make_sample_case(out, seed=0, with_labelmaps=True)
    loaded = {}
    for timepoint in ("baseline", "followup"):
        image = read_image(paths[f"{timepoint}_image"])
        loaded[timepoint] = (image, {s.name: s for s in read_segments(paths[f"{timepoint}_seg"], image)})
    return paths, loaded


def design(name: str) -> sd.LesionDesign:
    return next(lesion for lesion in sd.SAMPLE_LESIONS if lesion.name == name)


def voxels(segment) -> np.ndarray:
    return sitk.GetArrayFromImage(segment.mask).astype(bool)


def centroid_mm(segment) -> np.ndarray:
    k, j, i = np.nonzero(voxels(segment))
    return np.array(segment.mask.TransformContinuousIndexToPhysicalPoint((i.mean(), j.mean(), k.mean())))


def test_files_exist_and_locations_csv(case):
    paths, _ = case
    for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg", "locations",
                "baseline_labelmap", "followup_labelmap", "design"):
        assert paths[key].is_file(), key
    assert paths["baseline_image"].name == "baseline.nrrd" and paths["followup_seg"].name == "followup.seg.nrrd"
    with open(paths["locations"], newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["lesion_id"]: r["location"] for r in rows} == {
        "liver_1": "liver", "liver_2": "liver", "liver_3": "liver", "node_1": "node", "liver_4": "liver"}
    truth = json.loads(paths["design"].read_text(encoding="utf-8"))
    assert truth["followup_shift_mm"] == list(sd.FOLLOWUP_SHIFT_MM)


def test_images_are_ct_like(case):
    _, loaded = case
    image = loaded["baseline"][0]
    assert image.GetPixelID() == sitk.sitkInt16
    assert image.GetSize() == sd.SIZE and image.GetSpacing() == pytest.approx(sd.SPACING)
    values = sitk.GetArrayFromImage(image)
    assert np.median(values[:, :4, :4]) < -950                      # air in the corner
    centre = values[28:32, 78:82, 78:82]                             # soft tissue between organs
    assert 20 < np.median(centre) < 60


def test_same_seed_gives_identical_files_other_seed_differs(case, tmp_path):
    paths, _ = case
    again = sd.make_sample_case(tmp_path / "again", seed=0)
    for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg", "locations"):
        assert again[key].read_bytes() == paths[key].read_bytes(), key
    other = sd.make_sample_case(tmp_path / "other", seed=1)
    assert other["baseline_image"].read_bytes() != paths["baseline_image"].read_bytes()
    assert other["baseline_seg"].read_bytes() == paths["baseline_seg"].read_bytes()   # shapes do not depend on the seed


def test_lesions_per_time_point(case):
    _, loaded = case
    assert list(loaded["baseline"][1]) == ["liver_1", "liver_2", "liver_3", "node_1"]
    assert list(loaded["followup"][1]) == ["liver_1", "liver_2", "node_1", "liver_4"]
    for _, segments in loaded.values():
        assert all(s.note is None and voxels(s).any() for s in segments.values())


@pytest.mark.parametrize("timepoint", ["baseline", "followup"])
def test_volumes_match_the_design(case, timepoint):
    _, loaded = case
    for name, segment in loaded[timepoint][1].items():
        lesion = design(name)
        volume = voxels(segment).sum() * VOXEL_ML
        assert volume == pytest.approx(sd.design_volume_ml(lesion, timepoint), rel=0.05), name
        radius = sd.lesion_radius_mm(lesion, timepoint)
        sphere_ml = 4.0 / 3.0 * math.pi * radius ** 3 * np.prod(lesion.axes) / 1000.0
        assert volume == pytest.approx(sphere_ml, rel=0.08), name   # lobulation changes volume little


def test_followup_changes_as_designed(case):
    _, loaded = case
    (base_image, base), (follow_image, follow) = loaded["baseline"], loaded["followup"]
    base_hu, follow_hu = sitk.GetArrayFromImage(base_image), sitk.GetArrayFromImage(follow_image)
    for name in ("liver_1", "liver_2"):
        ratio = voxels(follow[name]).sum() / voxels(base[name]).sum()
        assert ratio == pytest.approx(design(name).followup_scale ** 3, rel=0.05)
        assert 0.6 ** 3 <= ratio <= 0.75 ** 3
        assert follow_hu[voxels(follow[name])].std() < 0.8 * base_hu[voxels(base[name])].std()
    node_ratio = voxels(follow["node_1"]).sum() / voxels(base["node_1"]).sum()
    assert node_ratio == pytest.approx(1.0, abs=0.05)
    shift = centroid_mm(follow["node_1"]) - centroid_mm(base["node_1"])
    assert shift == pytest.approx(sd.FOLLOWUP_SHIFT_MM, abs=0.5)
    for segments, hu in ((base, base_hu), (follow, follow_hu)):
        for name, segment in segments.items():
            assert 75 <= hu[voxels(segment)].mean() <= 115, name       # enhancing lesions


def test_node_short_axis_is_at_least_15_mm(case):
    _, loaded = case
    mask = voxels(loaded["baseline"][1]["node_1"])
    k = int(np.argmax(mask.sum(axis=(1, 2))))                     # largest axial slice
    j, i = np.nonzero(mask[k])
    extents = ((i.max() - i.min() + 1) * sd.SPACING[0], (j.max() - j.min() + 1) * sd.SPACING[1])
    assert min(extents) >= 15.0


def test_labelmaps_hold_the_same_lesions(case):
    paths, loaded = case
    image, segments = loaded["followup"]
    from_labels = read_segments(paths["followup_labelmap"], image)
    assert [s.name for s in from_labels] == ["lesion_1", "lesion_2", "lesion_3", "lesion_4"]
    for labelled, named in zip(from_labels, segments.values()):
        assert np.array_equal(voxels(labelled), voxels(named))


def test_sphere_phantom_analytic_volume_and_centre():
    radius = 10.0
    image, mask = sd.sphere_phantom(radius, (0.5, 0.5, 0.5), (48, 48, 48), origin=(-3.0, 7.0, 11.0))
    count = int(sitk.GetArrayViewFromImage(mask).sum())
    assert count * 0.125 == pytest.approx(4.0 / 3.0 * math.pi * radius ** 3, rel=0.01)
    values = sitk.GetArrayFromImage(image)
    inside = sitk.GetArrayFromImage(mask).astype(bool)
    assert set(np.unique(values[inside])) == {100} and set(np.unique(values[~inside])) == {0}
    k, j, i = np.nonzero(inside)
    centre = mask.TransformContinuousIndexToPhysicalPoint((i.mean(), j.mean(), k.mean()))
    assert centre == pytest.approx((-3.0 + 23.5 * 0.5, 7.0 + 23.5 * 0.5, 11.0 + 23.5 * 0.5), abs=1e-9)


def test_sphere_phantom_oblique_mask_uses_physical_distance():
    direction = np.array(sitk.VersorTransform((0.0, 1.0, 1.0), math.radians(30.0)).GetMatrix()).reshape(3, 3)
    image, mask = sd.sphere_phantom(6.0, (0.7, 1.1, 2.0), (20, 16, 10), direction=direction, origin=(5.0, -5.0, 0.0))
    assert image.GetDirection() == pytest.approx(tuple(direction.ravel()))
    centre = np.array(image.TransformContinuousIndexToPhysicalPoint((9.5, 7.5, 4.5)))
    array = sitk.GetArrayFromImage(mask)
    for index in np.ndindex(20, 16, 10):
        distance = np.linalg.norm(np.array(image.TransformIndexToPhysicalPoint(index)) - centre)
        if abs(distance - 6.0) > 1e-9:
            assert array[index[2], index[1], index[0]] == (distance < 6.0), index
