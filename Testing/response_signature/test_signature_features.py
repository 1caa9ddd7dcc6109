"""A signature's own settings: exactly the features its model reads, with the values the full preset gives."""
from __future__ import annotations

import json

import pytest

from ResponseSignatureLib import pipeline, signature_features
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.extraction import FeatureExtractor, load_params
from ResponseSignatureLib.models import load_model
from pathlib import Path

RESOURCES = Path(__file__).resolve().parents[2] / "ResponseSignature" / "Resources"


@pytest.fixture(scope="module")
def sample_lesions(sample_case):
    """(image, segments) of the sample case's baseline."""
    timepoints = pipeline.read_timepoints(sample_case["baseline_image"], sample_case["baseline_seg"],
                                          sample_case["followup_image"], sample_case["followup_seg"])
    return timepoints["baseline"]


def _needed(inputs):
    return sorted({signature_features.feature_of_column(column) for column in inputs})


def _assert_same_values(narrow_params, full_params, needed, image, segments):
    """Every needed feature equals, to the last bit, the full extraction's value; fewer others are computed."""
    narrow, full = FeatureExtractor(narrow_params), FeatureExtractor(full_params)
    for segment in segments:
        got = narrow.extract(image, segment.mask, segment.name)
        expected = full.extract(image, segment.mask, segment.name)
        assert set(needed) <= set(got)
        assert {name: got[name] for name in needed} == {name: expected[name] for name in needed}
        assert len(got) < len(expected)


def test_demo_signature_needs_two_log_scales_and_four_features(sample_lesions):
    model = load_model(RESOURCES / "Models" / "demo_signature.json")
    narrow = signature_features.settings_for_model(model)
    assert narrow["imageType"] == {"Original": {}, "LoG": {"sigma": [2.0, 4.0]}}
    assert narrow["featureClass"] == {"shape": ["Sphericity"], "firstorder": ["Entropy"], "ngtdm": ["Contrast"]}
    assert narrow["setting"] == load_params("dercle2020")["setting"]
    _assert_same_values(narrow, "dercle2020", _needed(model["inputs"]), *sample_lesions)


def test_dercle_template_needs_only_its_zhao_axes(sample_lesions):
    template = json.loads((RESOURCES / "Templates" / "dercle2020_signature_template.json").read_text(encoding="utf-8"))
    narrow = signature_features.settings_for_model(template, template["extraction_preset"])
    assert narrow["featureClass"] == {"ngtdm": ["Contrast"], "zhao": ["AxisLoG", "ShapeIndex"]}
    assert narrow["zhao"]["axisLoGAxes"] == ["x", "z"] and narrow["zhao"]["axisLoGSigma"] == [2.0]
    _assert_same_values(narrow, "dercle2020_signature", _needed(template["inputs"]), *sample_lesions)


@pytest.mark.parametrize("column, message", [
    ("delta:log-sigma-3-0-mm-3D_firstorder_Entropy", "LoG sigma 3.0 mm"),
    ("delta:wavelet-LLH_firstorder_Mean", r"image type\(s\) Wavelet"),
    ("delta:original_glrlm_RunEntropy", "feature class 'glrlm'"),
    ("delta:mystery-filter_firstorder_Mean", "cannot tell the image type"),
])
def test_a_feature_the_settings_cannot_produce_is_named(column, message):
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [2.0]}}, "featureClass": {"firstorder": [], "glcm": []},
              "setting": {"binWidth": 25}}
    with pytest.raises(InputError, match=message):
        signature_features.settings_for_model({"name": "m", "inputs": [column]}, params)


def test_a_model_without_settings_asks_for_them():
    with pytest.raises(InputError, match="--params"):
        signature_features.settings_for_model({"name": "m", "inputs": ["delta:original_firstorder_Mean"]})


def test_extract_with_a_model_writes_the_columns_it_reads(sample_case, tmp_path):
    from NomogramScoreLib.cli import main
    from ResponseSignatureLib.tableio import read_table

    model_path = RESOURCES / "Models" / "demo_signature.json"
    out = tmp_path / "lesions.csv"
    code = main(["extract", "--baseline", str(sample_case["baseline_image"]), "--baseline-seg",
                 str(sample_case["baseline_seg"]), "--followup", str(sample_case["followup_image"]),
                 "--followup-seg", str(sample_case["followup_seg"]), "--model", str(model_path), "--out", str(out)])
    assert code == 0
    columns = set(read_table(out).columns)
    needed = {column.split(":", 1)[1] for column in load_model(model_path)["inputs"]}  # delta:<feature>
    assert needed <= columns
    assert not any("sigma-1-0" in column or "glcm" in column for column in columns)
