"""ResponseSignatureLib.extraction: presets, parameter files, errors, crop-first equivalence.

Independent references: pyradiomics' own RadiomicsFeatureExtractor run directly on the whole,
uncropped synthetic image (the usual way), and the preset files' documented content.
"""
from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import SimpleITK as sitk

from ResponseSignatureLib.errors import InputError, LesionError
from ResponseSignatureLib.extraction import (INPUT_SAFETY_VOXELS, FeatureExtractor, list_presets,
                                             load_params, presets_dir)

SPACING = (0.8, 0.8, 2.5)
LOG_TOLERANCE = 1e-4  # measured worst 3.4e-5 (log-sigma-5 firstorder Maximum), see extraction.py


def _textured_blob(shape=(60, 120, 120), seed=0):
    """CT-like int16 image (z, y, x) with a lobulated textured lesion and its 0/1 mask."""
    rng = np.random.default_rng(seed)
    noise = sitk.GetImageFromArray(rng.normal(0.0, 1.0, shape))
    noise.SetSpacing(SPACING)
    texture = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, 1.5))
    z, y, x = np.meshgrid(*[np.arange(n) for n in shape], indexing="ij")
    centre = np.array(shape) / 2
    radius = np.sqrt(((z - centre[0]) * SPACING[2]) ** 2 + ((y - centre[1]) * SPACING[1]) ** 2
                     + ((x - centre[2]) * SPACING[0]) ** 2)
    inside = radius < 15 + 2 * np.sin(x / 4.0)
    values = np.where(inside, 60 + 400 * texture, -100 + 100 * texture)
    image = sitk.GetImageFromArray(values.astype(np.int16))
    image.SetSpacing(SPACING)
    image.SetOrigin((-30.0, 20.0, -50.0))
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    return image, mask


@pytest.fixture(scope="module")
def blob():
    return _textured_blob()


def _direct(params, image, mask):
    """pyradiomics the usual way on the whole image, features only."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    result = RadiomicsFeatureExtractor(copy.deepcopy(params)).execute(image, mask)
    return {k: float(v) for k, v in result.items() if not k.startswith("diagnostics_")}


def _relative(ours: dict, theirs: dict) -> dict:
    assert set(ours) == set(theirs)
    return {k: abs(ours[k] - v) / abs(v) if v != 0 else abs(ours[k]) for k, v in theirs.items()}


def _small_case(mask_voxels):
    """10x10x10 image with a gradient and a mask set at the given (z, y, x) voxels."""
    image = sitk.GetImageFromArray(np.arange(1000, dtype=np.int16).reshape(10, 10, 10) % 37)
    mask_arr = np.zeros((10, 10, 10), np.uint8)
    for voxel in mask_voxels:
        mask_arr[voxel] = 1
    mask = sitk.GetImageFromArray(mask_arr)
    return image, mask


# ----------------------------------------------------------------------------------- presets

def test_presets_listed_with_descriptions():
    presets = list_presets()
    assert set(presets) == {"default", "ibsi", "ligero2021", "dercle2020", "dercle2020_signature",
                            "ibsi_ct_A", "ibsi_ct_B", "ibsi_ct_C", "ibsi_ct_D", "ibsi_ct_E"}
    assert all(len(text) > 10 for text in presets.values()), presets
    assert presets_dir().name in ("Presets", "presets")


def test_preset_contents():
    assert load_params(None) == load_params("default")
    default = load_params("default")
    assert default["setting"]["binWidth"] == 25
    assert set(default["featureClass"]) == {"shape", "firstorder", "glcm", "glrlm", "glszm", "gldm", "ngtdm"}
    ligero = load_params("ligero2021")
    assert ligero["setting"]["resampledPixelSpacing"] == [1.0, 1.0, 1.0]
    assert ligero["setting"]["interpolator"] == "sitkBSpline"
    assert ligero["setting"]["binWidth"] == 10
    assert list(ligero["imageType"]) == ["Original"]
    dercle = load_params("dercle2020")
    assert dercle["imageType"]["LoG"]["sigma"] == [1.0, 2.0, 3.0, 4.0, 5.0]
    assert {"shape", "ngtdm"} <= set(dercle["featureClass"])
    ibsi = load_params("ibsi")
    assert ibsi["setting"]["binWidth"] == 1 and ibsi["setting"]["voxelArrayShift"] == 0


def test_every_shipped_preset_passes_pyradiomics_schema():
    """load_params skips the schema for shipped presets (start-up time): this is where they are checked."""
    pytest.importorskip("radiomics", reason="pyradiomics (the [pyradiomics] extra) holds the schema")
    from ResponseSignatureLib.extraction import split_zhao_params, validate_params

    for name in list_presets():
        pyradiomics_part, _, _ = split_zhao_params(load_params(name), name)
        validate_params(pyradiomics_part, f"preset '{name}'")
    broken = copy.deepcopy(load_params("default"))
    broken["setting"]["binWidht"] = 25
    with pytest.raises(InputError, match="binWidht"):
        validate_params(broken, "a copy of 'default' with a misspelt setting")


def test_user_parameter_files_are_still_checked_against_pyradiomics_schema(tmp_path):
    pytest.importorskip("radiomics", reason="pyradiomics (the [pyradiomics] extra) holds the schema")
    text = (presets_dir() / "default.yaml").read_text(encoding="utf-8").replace("binWidth", "binWidht")
    path = tmp_path / "mine.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError, match="binWidht"):
        load_params(str(path))


def test_user_yaml_and_json_files_work_unchanged(tmp_path, blob):
    image, mask = blob
    yaml_text = (
        "# a user's pyradiomics parameter file\n"
        "imageType:\n  Original: {}\n"
        "featureClass:\n  firstorder:\n  glcm: [JointEntropy, Contrast]\n"
        "setting:\n  binWidth: 20\n  label: 1\n  voxelArrayShift: 1000\n"
    )
    yaml_path = tmp_path / "Params.yaml"
    yaml_path.write_text(yaml_text)
    params = load_params(str(yaml_path))
    assert params["setting"]["binWidth"] == 20
    json_path = tmp_path / "params.json"
    json_path.write_text(json.dumps(params))
    assert load_params(json_path) == params

    ours = FeatureExtractor(yaml_path, engine="pyradiomics").extract(image, mask)
    assert set(ours) == {f"original_firstorder_{n}" for n in _firstorder_names()} | {
        "original_glcm_JointEntropy", "original_glcm_Contrast"}
    direct = _direct(params, image, mask)
    assert max(_relative(ours, direct).values()) == 0.0


def _firstorder_names():
    from radiomics.firstorder import RadiomicsFirstOrder

    return [n for n, deprecated in RadiomicsFirstOrder.getFeatureNames().items() if not deprecated]


def test_bad_parameter_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("setting:\n  binWidth: [25\n")
    with pytest.raises(InputError, match="broken.yaml"):
        load_params(broken)
    misspelt = tmp_path / "misspelt.yaml"
    misspelt.write_text("setting:\n  binWidht: 25\n")
    with pytest.raises(InputError, match=r"misspelt\.yaml.*binWidht"):
        load_params(misspelt)
    not_a_map = tmp_path / "list.yaml"
    not_a_map.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="list.yaml"):
        load_params(not_a_map)
    with pytest.raises(InputError, match="binWidth"):
        load_params({"setting": {"binWidth": -1}})
    with pytest.raises(InputError, match="no_such_preset"):
        load_params("no_such_preset")


def test_unknown_engine_is_rejected():
    with pytest.raises(InputError, match="engine 'fast'"):
        FeatureExtractor("default", engine="fast")


# ------------------------------------------------------------------------------------ errors

def test_empty_mask():
    image, mask = _small_case([])
    with pytest.raises(LesionError, match=r"lesion 'L7' at followup: .*is empty") as info:
        FeatureExtractor().extract(image, mask, lesion_id="L7", timepoint="followup")
    assert info.value.lesion_id == "L7" and info.value.timepoint == "followup"


def test_one_voxel_mask():
    image, mask = _small_case([(5, 5, 5)])
    with pytest.raises(LesionError, match="one voxel: too small for radiomic features"):
        FeatureExtractor().extract(image, mask, lesion_id="L1")


def test_mask_geometry_must_match_image():
    image, mask = _small_case([(5, 5, 5), (5, 5, 6), (5, 6, 5)])
    shifted = sitk.Image(mask)
    shifted.SetOrigin((0.0, 0.0, 3.0))
    with pytest.raises(InputError, match="origin"):
        FeatureExtractor().extract(image, shifted, lesion_id="L1")
    with pytest.raises(InputError, match="size"):
        FeatureExtractor().extract(image, mask[:, :, :9], lesion_id="L1")


def test_unusable_roi_is_a_lesion_error_with_the_same_message_for_both_engines():
    """Both backends prepare the lesion's region the same way (the ROI checks included)."""
    image, mask = _small_case([(5, 5, 4), (5, 5, 5)])  # a line: 1-D ROI
    for engine in ("pyradiomics", "builtin"):
        with pytest.raises(LesionError, match="lesion 'L2'.*1 dimension"):
            FeatureExtractor(engine=engine).extract(image, mask, lesion_id="L2")


def test_pyradiomics_failure_becomes_lesion_error_with_its_message():
    """shape2D with force2D on a ROI thicker than one slice: pyradiomics' own ValueError."""
    image, mask = _small_case([(5, 5, 4), (5, 5, 5), (5, 6, 5), (6, 5, 5)])
    params = {"featureClass": {"shape2D": None}, "setting": {"force2D": True, "force2Ddimension": 0}}
    with pytest.raises(LesionError, match="lesion 'L2': pyradiomics could not compute features: .*"):
        FeatureExtractor(params, engine="pyradiomics").extract(image, mask, lesion_id="L2")


# ----------------------------------------------------------------------- values, provenance

def test_features_are_finite_floats_without_diagnostics(blob):
    image, mask = blob
    params = load_params("default")
    params["setting"]["additionalInfo"] = True  # even if the user asks, no diagnostics_* leak
    features = FeatureExtractor(params).extract(image, mask)
    assert len(features) == 107
    assert not [k for k in features if k.startswith("diagnostics")]
    assert all(type(v) is float and math.isfinite(v) for v in features.values())
    direct_volume = float(sitk.GetArrayViewFromImage(mask).sum()) * np.prod(SPACING)
    assert features["original_shape_VoxelVolume"] == pytest.approx(direct_volume, rel=1e-12)


def test_settings_for_provenance():
    extractor = FeatureExtractor("ligero2021")
    assert extractor.settings == load_params("ligero2021")
    assert extractor.engine == "builtin"  # the default: no compiled code needed
    copy_ = extractor.settings
    copy_["setting"]["binWidth"] = 99
    assert extractor.settings["setting"]["binWidth"] == 10


@pytest.mark.parametrize("engine", ["builtin", "pyradiomics"])
def test_input_margin_follows_filter_support(engine):
    """Both backends read what the one crop rule (engine/margins.py) says, + INPUT_SAFETY_VOXELS."""
    if engine == "pyradiomics":
        pytest.importorskip("radiomics")
    spacing = (0.8, 0.8, 2.5)
    safety = INPUT_SAFETY_VOXELS
    assert FeatureExtractor("default", engine=engine).input_margin(spacing).tolist() == [safety] * 3
    # LoG sigma 5 mm: max(15 mm, 6 * 5 mm) = 30 mm -> 38 + 1 and 12 + 1 voxels
    margin = FeatureExtractor("dercle2020", engine=engine).input_margin(spacing)
    assert margin.tolist() == [39 + safety, 39 + safety, 13 + safety]
    # the required lower bound max(15 mm, 4 sigma + 1 voxel) holds
    assert all(m * s >= max(15.0, 4 * 5.0 + s) for m, s in zip(margin, spacing))


# --------------------------------------------------------------------- crop-first equivalence

def test_crop_first_with_log_matches_whole_image_pyradiomics(blob):
    image, mask = blob
    params = load_params("dercle2020")
    ours = FeatureExtractor(params, engine="pyradiomics").extract(image, mask)
    direct = _direct(params, image, mask)
    assert len(direct) == 107 + 5 * 93
    rel = _relative(ours, direct)
    original = {k: v for k, v in rel.items() if k.startswith("original_")}
    log = {k: v for k, v in rel.items() if k.startswith("log-sigma")}
    worst = max(log.values())
    print(f"LoG crop residual: worst {worst:.3g} ({max(log, key=log.get)}), "
          f"{sum(v > 1e-6 for v in log.values())} of {len(log)} LoG features above 1e-6")
    assert max(original.values()) == 0.0  # same voxels: original features identical
    assert worst <= LOG_TOLERANCE
    assert float(np.median(list(log.values()))) <= 1e-9


def test_crop_first_with_wavelet_matches_whole_image_pyradiomics(blob):
    image, mask = blob
    params = {"imageType": {"Wavelet": {}}, "featureClass": {"firstorder": None, "glcm": None},
              "setting": {"binWidth": 25}}
    ours = FeatureExtractor(params, engine="pyradiomics").extract(image, mask)
    rel = _relative(ours, _direct(params, image, mask))
    assert len(rel) == 8 * 42
    assert max(rel.values()) <= 1e-9
