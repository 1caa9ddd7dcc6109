"""Model files: schema, canonical hash, tampering, missing inputs, NaN, unknown kind/version.

The models here are written by hand (no training), so these tests need numpy and pandas only.
"""
from __future__ import annotations

import copy
import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from ResponseSignatureLib.errors import InputError, ModelFileError
from ResponseSignatureLib.models import apply_model, content_hash, load_model, predict_scores, save_model
from ResponseSignatureLib.models.inference import design_matrix, patient_scores
from ResponseSignatureLib.models.modelfile import canonical_json


def logistic_doc(**changes) -> dict:
    doc = {
        "format": "radiomics-response-model", "schema_version": 1, "name": "test logistic", "version": "1",
        "kind": "logistic", "level": "lesion", "inputs": ["delta:a", "delta:b", "location"],
        "preprocessing": {"log_transform": {"delta:a": 2.0}, "standardize": {"delta:a": [0.5, 2.0]},
                          "one_hot": {"location": {"levels": ["liver", "lung"], "reference": "other"}}},
        "model": {"features": ["delta:a", "delta:b", "location=liver"], "coefficients": [1.0, -0.5, 0.25],
                  "intercept": -0.1},
        "threshold": {"value": 0.5, "method": "fixed", "direction": ">="},
        "patient_score": "mean_of_lesions",
        "model_card": {"intended_use": "test", "research_use_only": True},
    }
    doc.update(changes)
    return doc


def forest_doc() -> dict:
    tree = {"children_left": [1, -1, -1], "children_right": [2, -1, -1], "feature": [0, -2, -2],
            "threshold": [0.25, -2.0, -2.0], "value": [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]}
    return {"format": "radiomics-response-model", "schema_version": 1, "name": "test forest", "version": "1",
            "kind": "random_forest", "level": "patient", "inputs": ["x"],
            "model": {"features": ["x"], "classes": [0, 1], "trees": [tree]},
            "threshold": {"value": 0.5, "method": "fixed", "direction": ">="}, "model_card": {}}


def lesion_table() -> pd.DataFrame:
    return pd.DataFrame({"patient_id": ["p1", "p1", "p2"], "lesion_id": ["l1", "l2", "l1"],
                         "delta:a": [0.0, 1.5, -1.0], "delta:b": [1.0, 0.0, 2.0],
                         "location": ["liver", "other", "lung"]})


def test_round_trip_and_hash_rule(tmp_path):
    saved = save_model(logistic_doc(), tmp_path / "m.json")
    # canonical rule: the document without 'sha256', sorted keys, (",", ":") separators, UTF-8
    content = {k: v for k, v in saved.items() if k != "sha256"}
    expected = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode("utf-8")).hexdigest()
    assert saved["sha256"] == expected == content_hash(saved)
    loaded = load_model(tmp_path / "m.json")
    assert loaded == saved
    # re-serialising with other whitespace / key order does not change the hash
    (tmp_path / "m2.json").write_text(json.dumps(dict(reversed(list(saved.items())))), encoding="utf-8")
    assert load_model(tmp_path / "m2.json")["sha256"] == saved["sha256"]


def test_inference_formula_by_hand():
    model = logistic_doc()
    table = lesion_table()
    z = (np.log(np.maximum(table["delta:a"] + 2.0, 1.0)) - 0.5) / 2.0
    lp = -0.1 + 1.0 * z - 0.5 * table["delta:b"] + 0.25 * (table["location"] == "liver")
    expected = 1 / (1 + np.exp(-lp))
    np.testing.assert_allclose(predict_scores(model, table), expected, rtol=0, atol=1e-12)
    scored = apply_model(model, table)
    assert list(scored.columns) == ["patient_id", "lesion_id", "score", "class"]
    assert list(scored["class"]) == [int(v >= 0.5) for v in expected]
    patients = patient_scores(model, scored)
    assert patients.loc[patients.patient_id == "p1", "score"].item() == pytest.approx(expected[:2].mean(), abs=1e-12)
    assert list(patients["n_lesions"]) == [2, 1]


def test_log_transform_clips_below_training_minimum():
    model = logistic_doc()
    table = lesion_table().assign(**{"delta:a": [-5.0, -2.0, -1.0]})
    design = design_matrix(model, table)
    assert design[0, 0] == design[1, 0] == pytest.approx((0.0 - 0.5) / 2.0)


def test_tampered_coefficient_rejected(tmp_path):
    path = tmp_path / "m.json"
    save_model(logistic_doc(), path)
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["model"]["coefficients"][0] = 1.0001
    path.write_text(json.dumps(doc, indent=2), encoding="utf-8")
    with pytest.raises(ModelFileError, match="SHA-256"):
        load_model(path)


def test_tampered_tree_threshold_rejected(tmp_path):
    path = tmp_path / "f.json"
    save_model(forest_doc(), path)
    text = path.read_text(encoding="utf-8").replace("0.25", "0.26", 1)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match="modified"):
        load_model(path)


def test_missing_columns_named():
    table = lesion_table().drop(columns=["delta:b", "location"])
    with pytest.raises(InputError) as error:
        predict_scores(logistic_doc(), table)
    message = str(error.value)
    assert "2 column(s)" in message and "delta:b" in message and "location" in message


def test_missing_values_in_inputs_refused():
    table = lesion_table()
    table.loc[1, "delta:b"] = np.nan
    with pytest.raises(InputError, match="delta:b"):
        predict_scores(logistic_doc(), table)


def test_unknown_location_refused():
    table = lesion_table()
    table.loc[0, "location"] = "bone"
    with pytest.raises(InputError, match="bone"):
        predict_scores(logistic_doc(), table)


def test_nan_in_model_file_refused(tmp_path):
    path = tmp_path / "nan.json"
    saved = save_model(logistic_doc(), path)
    text = json.dumps(saved, indent=2).replace('"intercept": -0.1', '"intercept": NaN')
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ModelFileError, match="NaN"):
        load_model(path)
    with pytest.raises(ModelFileError, match="non-finite"):
        save_model(logistic_doc(model={"features": ["delta:b"], "coefficients": [float("nan")], "intercept": 0.0}),
                   tmp_path / "x.json")


def test_unknown_kind_and_newer_version(tmp_path):
    with pytest.raises(ModelFileError, match="Unknown model kind"):
        save_model(logistic_doc(kind="neural_net"), tmp_path / "k.json")
    saved = save_model(logistic_doc(), tmp_path / "v.json")
    newer = dict(saved, schema_version=99)
    newer["sha256"] = content_hash(newer)
    with pytest.raises(ModelFileError, match="schema version 99"):
        load_model(newer)


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["model"].update(coefficients=[1.0, 2.0]), "coefficients"),
    (lambda d: d["model"].update(features=["delta:a", "delta:zzz", "location=liver"]), "delta:zzz"),
    (lambda d: d["threshold"].update(direction="<"), "direction"),
    (lambda d: d.update(patient_score="max"), "patient_score"),
    (lambda d: d["preprocessing"]["standardize"].update({"delta:a": [0.0, 0.0]}), "standardize"),
])
def test_schema_violations(mutate, message, tmp_path):
    doc = copy.deepcopy(logistic_doc())
    mutate(doc)
    with pytest.raises(ModelFileError, match=message):
        save_model(doc, tmp_path / "bad.json")


def test_forest_structure_checked(tmp_path):
    doc = forest_doc()
    doc["model"]["trees"][0]["children_left"] = [0, -1, -1]  # a cycle: node 0 -> node 0
    with pytest.raises(ModelFileError, match="later nodes"):
        save_model(doc, tmp_path / "cycle.json")
    doc = forest_doc()
    doc["model"]["trees"][0]["value"][1] = [0.9, 0.2]
    with pytest.raises(ModelFileError, match="summing to 1"):
        save_model(doc, tmp_path / "value.json")


def test_forest_traversal_by_hand():
    # x <= threshold goes left; 0.25 is exact in float32. 0.3 is not: float32(0.3) > 0.3, so like
    # scikit-learn (float32 inputs vs float64 thresholds) a value 0.3 goes right of a 0.3 threshold.
    scores = predict_scores(forest_doc(), pd.DataFrame({"x": [0.0, 0.25, 0.2500001, 5.0]}))
    np.testing.assert_allclose(scores, [0.1, 0.1, 0.8, 0.8])


def test_canonical_json_excludes_hash():
    doc = dict(logistic_doc(), sha256="whatever")
    assert "sha256" not in json.loads(canonical_json(doc))


def test_demo_model_ships_and_loads():
    from ResponseSignatureLib.models.demo import DEMO_FEATURES, default_demo_path

    model = load_model(default_demo_path())
    assert "demo — not for clinical use" in model["name"]
    assert "demo — not for clinical use" in model["model_card"]["intended_use"]
    assert model["inputs"] == list(DEMO_FEATURES)
    assert model["level"] == "patient" and model["kind"] == "random_forest"
    assert model["model_card"]["training_cohort"]["n_patients"] > 0
    cv = model["model_card"]["performance"]["cv_auc"]
    assert cv["auc_ci_low"] <= cv["auc"] <= cv["auc_ci_high"]
