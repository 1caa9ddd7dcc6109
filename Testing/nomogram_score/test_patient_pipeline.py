"""NomogramScoreLib.patient_pipeline: one chain for the demo, the workstation and the report command.

* The demo (``run_full_demo``) and the workstation (its session layer: the demo case as MRML nodes,
  then ``results``' later stages, the functions ``app.py`` calls) give the same patient result.
* Each step checked against the libraries called directly: aggregation, signature, nomogram.
* ``from_tables`` rebuilds the patient from the files earlier steps wrote.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from NomogramScoreLib.demo_pipeline import run_full_demo

    return run_full_demo(tmp_path_factory.mktemp("demo"))


@pytest.mark.skipif(importlib.util.find_spec("slicer") is None, reason="slicer-core (the mrml extra) is not installed")
def test_demo_and_workstation_give_the_same_patient_result(demo, tmp_path):
    sys.path.insert(0, str(REPO_ROOT / "Web"))
    from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL
    from RadiomicsResponseWeb import results, session
    from ResponseSignatureLib import mrml_bridge
    from ResponseSignatureLib.sample_data import make_sample_case

    # what the workstation does with --demo: the sample case as MRML nodes, Compute, later stages
    case = session.Session(mrml_bridge.make_scene(), patient_id="demo")
    case.load_case(make_sample_case(tmp_path / "demo_case"))
    signature = results.signature_model()
    lesion_result = session.compute(case.pipeline_inputs(), params=results.extraction_params(True, signature))
    workstation = results.patient_result(lesion_result, signature)
    form = {**results.demo_clinical_values(), "signature_score": round(workstation.signature["score"], 4)}
    workstation = results.with_nomogram(workstation, results.nomogram_model(), form)  # the clinical form's values

    expected = demo["result"]
    assert workstation.recist == expected.recist
    assert workstation.signature["score"] == pytest.approx(expected.signature["score"], abs=1e-12)
    assert workstation.signature["sha256"] == expected.signature["sha256"]
    for key in ("risk", "ci_low", "ci_high", "total_points"):
        assert workstation.risk[key] == pytest.approx(expected.risk[key], abs=1e-12), key
    ours, theirs = workstation.row, expected.row
    assert set(ours) == set(theirs)
    for column, value in theirs.items():
        if column in DEMO_CLINICAL:  # the form holds text: the same values as typed
            assert str(ours[column]) == str(value), column
        elif column != "patient_id" and isinstance(value, float):
            assert ours[column] == pytest.approx(value, rel=1e-9, abs=1e-12, nan_ok=True), column
    panel = results.nomogram_panel(workstation)
    from ResponseSignatureLib.formatting import percent

    assert panel["risk"] == percent(expected.risk["risk"]) and "<svg" in panel["svg"]
    assert panel["reading"] == expected.risk["reading"]["text"]


def test_each_step_matches_the_libraries(demo):
    from LesionAggregateLib.aggregate import patient_table
    from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL, demo_models
    from NomogramScoreLib.nomogram import score_patient
    from ResponseSignatureLib.models import apply_model
    from ResponseSignatureLib.tableio import read_provenance, read_table

    signature_model, nomogram_model = demo_models()
    lesions = read_table(demo["lesions"])
    patients = patient_table(lesions, method="volume_weighted")
    score = float(apply_model(signature_model, patients).loc[0, "score"])
    assert demo["signature"]["score"] == pytest.approx(score, abs=1e-12)
    risk = score_patient(nomogram_model, {**DEMO_CLINICAL, "signature_score": score})
    assert demo["risk"]["risk"] == pytest.approx(risk["risk"], abs=1e-12)
    written = read_table(demo["patients"])
    assert written.loc[0, "signature_score"] == pytest.approx(score, abs=1e-12)
    assert written.loc[0, "albumin"] == "3.4 g/dL"  # clinical values kept as typed, with their unit
    provenance = read_provenance(demo["patients"])
    assert provenance["signature_model"]["sha256"] == signature_model["sha256"]
    assert provenance["nomogram_model"]["sha256"] == nomogram_model["sha256"]


def test_from_tables_rebuilds_the_patient_from_the_written_files(demo, tmp_path):
    """The report command's path: patient table + lesion table + nomogram file, no --clinical."""
    from NomogramScoreLib import patient_pipeline
    from NomogramScoreLib.demo_pipeline import demo_models
    from ResponseSignatureLib.tableio import read_table

    _, nomogram_model = demo_models()
    result = patient_pipeline.from_tables(read_table(demo["patients"]), "sample", read_table(demo["lesions"]),
                                          nomogram_model=nomogram_model)
    assert result.signature["score"] == pytest.approx(demo["signature"]["score"], abs=1e-12)
    assert result.signature["name"] == demo["signature"]["name"]  # identity from the table's provenance
    assert result.risk["risk"] == pytest.approx(demo["risk"]["risk"], abs=1e-12)
    assert result.recist["recist_category"] == demo["recist"]["recist_category"]
    report = patient_pipeline.write_report(result, tmp_path / "report.html").read_text(encoding="utf-8")
    assert "liver_4" in report and demo["signature"]["name"] in report
    with pytest.raises(Exception, match="not in the patient table"):
        patient_pipeline.from_tables(read_table(demo["patients"]), "nobody")


def test_terminal_summary_reads_each_result_against_its_cut_off(demo):
    """demo and pacs run print these lines: the nomogram's 95 % CI spans its cut-off in the demo, so it
    must read 'indeterminate', never 'low risk' (the band alone would say low)."""
    from NomogramScoreLib.patient_pipeline import summary_lines

    result = demo["result"]
    signature_line, nomogram_line = summary_lines(result.signature, result.risk)
    assert result.risk["ci_low"] < result.risk["threshold"] < result.risk["ci_high"]
    assert "Indeterminate — the 95 % CI spans the cut-off" in nomogram_line and "Low risk" not in nomogram_line
    assert "below the cut-off (0.500)" in signature_line  # score 0.076, no CI
    assert summary_lines(None, None) == []
