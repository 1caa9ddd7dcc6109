"""NomogramScoreLib.dicom_report: the patient-level results the SR carries come from the patient
pipeline, and equal the libraries called one by one (aggregation, signature, nomogram)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from NomogramScoreLib.demo_pipeline import run_full_demo

    return run_full_demo(tmp_path_factory.mktemp("demo"))


def test_patient_results_equal_the_libraries_and_the_demo(demo):
    from LesionAggregateLib.aggregate import patient_table
    from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL, demo_models
    from NomogramScoreLib.dicom_report import patient_results
    from NomogramScoreLib.nomogram import score_patient
    from ResponseSignatureLib.models import apply_model
    from ResponseSignatureLib.tableio import read_table

    signature_model, nomogram_model = demo_models()
    lesions = read_table(demo["lesions"])
    signature, risk = patient_results(lesions, signature_model, nomogram_model, DEMO_CLINICAL)

    scored = apply_model(signature_model, patient_table(lesions, method="volume_weighted"))
    assert signature["score"] == pytest.approx(float(scored["score"].iloc[0]), abs=1e-12)
    assert signature["class"] == int(scored["class"].iloc[0])
    assert signature["threshold"] == signature_model["threshold"]["value"]
    assert signature["sha256"] == signature_model["sha256"]
    expected = score_patient(nomogram_model, {**DEMO_CLINICAL, "signature_score": signature["score"]})
    for key in ("risk", "ci_low", "ci_high", "total_points"):
        assert risk[key] == pytest.approx(expected[key], abs=1e-12), key
        assert risk[key] == pytest.approx(demo["risk"][key], abs=1e-12), key
    assert risk["model_sha256"] == nomogram_model["sha256"]

    assert patient_results(lesions, None, nomogram_model, DEMO_CLINICAL) == (None, None)
    only_signature = patient_results(lesions, signature_model, None, None)
    assert only_signature[1] is None and only_signature[0]["score"] == signature["score"]
