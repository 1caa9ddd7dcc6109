"""The workstation writes DICOM SEG + SR for a case loaded from DICOM series folders (issue 18).

A real DICOM case (``radiomics-response sample-data DIR --dicom``: CT series + DICOM SEG per time
point) is loaded into the workstation's session (real MRML nodes), computed, scored by the demo
signature and nomogram, and exported; every object passes dciodvfy (dicom3tools), the SR reads back
to the lesion table and the patient's signature score and risk, and each lesion keeps the Tracking
UID its input SEG gave it. The same through the page in Debian's chromium: load dialog, Compute,
"Export DICOM SEG + SR".
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "Web"))

from dicom_helpers import dciodvfy, dicom_sample_case, unexpected_warnings  # noqa: E402

pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")

FILES = ("baseline_seg", "followup_seg", "sr")


def dicom_paths(case: dict) -> dict:
    """The load dialog's fields for the DICOM version of the sample case."""
    return {"baseline_image": case["baseline_dicom"], "baseline_seg": case["baseline_dicom_seg"],
            "followup_image": case["followup_dicom"], "followup_seg": case["followup_dicom_seg"],
            "locations": case["locations"]}


def input_tracking_uids(case: dict) -> dict:
    from ResponseSignatureLib.imageio import read_image, read_segments

    image = read_image(case["baseline_dicom"])
    return {segment.name: segment.tracking_uid for segment in read_segments(case["baseline_dicom_seg"], image)}


def check_export(paths: dict, lesions, signature: dict, risk: dict | None, case: dict) -> None:
    """dciodvfy clean; the SR reads back to the lesion table, the signature and the risk; the SEGs
    keep the input SEG's Tracking UIDs."""
    from ResponseSignatureLib.dicom_sr import read_sr
    from ResponseSignatureLib.imageio import read_image, read_segments

    for name in FILES:
        errors, warnings = dciodvfy(Path(paths[name]))
        assert errors == [], (name, errors)
        assert unexpected_warnings(warnings) == [], (name, warnings)
    back, patient = read_sr(paths["sr"])
    table = lesions.set_index("lesion_id")
    back = back.set_index("lesion_id").loc[table.index]
    for column in ("baseline:volume_ml", "followup:longest_diameter_mm", "delta:volume_ml"):  # (CSV: last digit)
        assert np.allclose(table[column].to_numpy(float), back[column].to_numpy(float), rtol=1e-12, equal_nan=True), column
    assert patient["signature_score"] == pytest.approx(signature["score"], abs=1e-12)
    if risk is not None:
        assert patient["risk"] == pytest.approx(risk["risk"], abs=1e-12)
    baseline = read_segments(paths["baseline_seg"], read_image(case["baseline_dicom"]))
    assert {segment.name: segment.tracking_uid for segment in baseline} == input_tracking_uids(case)


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict:
    return dicom_sample_case(tmp_path_factory.mktemp("workstation_dicom") / "case")


def test_session_exports_a_dicom_case(case):
    from RadiomicsResponseWeb import results, session
    from ResponseSignatureLib import mrml_bridge

    work = Path(case["locations"]).parent.parent
    reading = session.Session(mrml_bridge.make_scene(), patient_id="sample")
    reading.load_case(dicom_paths(case))
    inputs = reading.pipeline_inputs()
    assert session.dicom_export_problem(inputs) is None
    assert set(inputs.dicom_series) == {"baseline", "followup"}
    signature = results.signature_model()
    lesion_result = session.compute(inputs, params=results.extraction_params(False, signature))
    patient = results.patient_result(lesion_result, signature)
    scored = results.with_nomogram(patient, results.nomogram_model(), results.demo_clinical_values())
    paths = session.export_dicom(lesion_result, inputs, work / "dicom", patient=scored)
    assert set(paths) == set(FILES)
    check_export(paths, lesion_result.table, scored.signature, scored.risk, case)


def test_session_refuses_dicom_export_for_nrrd_images(case):
    from RadiomicsResponseWeb import session
    from ResponseSignatureLib import mrml_bridge
    from ResponseSignatureLib.errors import InputError

    reading = session.Session(mrml_bridge.make_scene(), patient_id="sample")
    reading.load_case({**dicom_paths(case), "followup_image": case["followup_image"], "followup_seg": case["followup_seg"]})
    inputs = reading.pipeline_inputs()
    problem = session.dicom_export_problem(inputs)
    assert "follow-up" in problem and "DICOM series folder" in problem and "baseline" not in problem
    assert session.dicom_export_problem(None) == "Compute the lesion table first."
    with pytest.raises(InputError, match="DICOM series folder"):
        session.export_dicom(None, inputs, Path(case["locations"]).parent / "never")


@pytest.mark.browser
@pytest.mark.slow
def test_export_dicom_in_browser(case, tmp_path, artifacts_dir):
    import workstation_harness as harness

    reason = harness.missing_requirements()
    if reason:
        pytest.skip(f"the browser test needs the web extra and chromium: {reason}")
    out_dir = tmp_path / "workstation"
    with harness.running_workstation(out_dir, demo=False) as server, harness.chromium_page() as page:
        page.goto(server["url"], timeout=60000)
        page.click("#rr-load")
        for index, key in enumerate(("baseline_image", "baseline_seg", "followup_image", "followup_seg", "locations")):
            page.locator(".v-dialog input").nth(index).fill(str(dicom_paths(case)[key]))
        page.click("#rr-load-files")
        harness.wait_for_lesions(page, 4)
        page.click("#rr-compute")
        page.wait_for_selector("#rr-export-dicom:not([disabled])", timeout=180000)
        page.click("#rr-export-dicom")
        page.wait_for_selector("#rr-dicom-written", timeout=120000)
        page.evaluate("() => document.querySelector('#rr-dicom').scrollIntoView({block: 'end'})")
        page.wait_for_timeout(500)
        page.screenshot(path=str(artifacts_dir / "workstation_dicom_export.png"))
        written = page.inner_text("#rr-dicom-written")
        shown_score = page.inner_text("#rr-signature-score")
    folder = out_dir / "dicom"
    paths = {"baseline_seg": folder / "baseline_seg.dcm", "followup_seg": folder / "followup_seg.dcm",
             "sr": folder / "followup_sr.dcm"}
    assert all(str(path.resolve()) in written for path in paths.values()), written
    from ResponseSignatureLib.dicom_sr import read_sr
    from ResponseSignatureLib.tableio import read_table

    patient_id = Path(case["baseline_dicom"]).name.split(".")[0]
    lesions = read_table(out_dir / f"{patient_id}_lesions.csv")

    _, patient = read_sr(paths["sr"])
    assert f"Score {patient['signature_score']:.3f}" in shown_score  # the SR holds the score the panel shows
    check_export(paths, lesions, {"score": patient["signature_score"]}, None, case)
