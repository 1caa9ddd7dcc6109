"""``batch --dicom-out``: each case's DICOM SEGs and SR, next to its lesion table (issue 18).

A cohort of two synthetic patients whose CTs are DICOM series (``sample-data --dicom``, each with
its own patient ID, hence its own UIDs) and one whose images are NRRD. Run with two worker
processes: the two DICOM cases get ``cases/<patient>/dicom/{baseline_seg,followup_seg,followup_sr}.dcm``
that dciodvfy accepts (only the documented private-coding-scheme warnings), whose masks are the
input SEGs' masks voxel for voxel, which reference the patient's own CT series, and whose SR reads
back (highdicom) to the case's lesion table bit for bit; the NRRD case is one ``input`` row of
errors.csv. A re-run resumes (finished cases and their files untouched); a run without --dicom-out
computes the cases again and moves their earlier DICOM aside, never deleting it.
"""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from dicom_helpers import dciodvfy, unexpected_warnings  # noqa: E402
from LesionAggregateLib.cli import main  # noqa: E402
from ResponseSignatureLib import imageio  # noqa: E402
from ResponseSignatureLib.dicom_io import image_files, read_dataset  # noqa: E402
from ResponseSignatureLib.dicom_sr import read_sr  # noqa: E402
from ResponseSignatureLib.lesion_table import recist_from_lesion_table  # noqa: E402
from ResponseSignatureLib.sample_data import make_sample_case  # noqa: E402
from ResponseSignatureLib.tableio import read_table  # noqa: E402
from params_helpers import LIGHT_PARAMS_YAML as LIGHT_PARAMS  # noqa: E402

DICOM_PATIENTS = ("P1", "P2")
DICOM_FILES = ("baseline_seg.dcm", "followup_seg.dcm", "followup_sr.dcm")


def _manifest(root) -> str:
    lines = ["patient_id,timepoint,image,segmentation,locations"]
    for seed, patient in enumerate(DICOM_PATIENTS):
        make_sample_case(root / patient, seed=seed, patient_id=patient, dicom=True)
        lines += [f"{patient},baseline,{patient}/baseline_dicom,{patient}/baseline_seg.dcm,",
                  f"{patient},followup,{patient}/followup_dicom,{patient}/followup_seg.dcm,"]
    make_sample_case(root / "N1", seed=5, patient_id="N1")
    lines += ["N1,baseline,N1/baseline.nrrd,N1/baseline.seg.nrrd,N1/locations.csv",
              "N1,followup,N1/followup.nrrd,N1/followup.seg.nrrd,"]
    (root / "manifest.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (root / "light.yaml").write_text(LIGHT_PARAMS, encoding="utf-8")
    return str(root / "manifest.csv")


def _batch(root, *extra) -> int:
    return main(["batch", str(root / "manifest.csv"), "--out", str(root / "out"), "--params", str(root / "light.yaml"),
                 "--no-progress", *extra])


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("batch_dicom")
    _manifest(root)
    code = _batch(root, "--dicom-out", "--jobs", "2")
    return {"root": root, "out": root / "out", "code": code}


def test_the_nrrd_case_is_one_error_and_the_run_goes_on(run):
    assert run["code"] == 1                                     # some case failed
    errors = pd.read_csv(run["out"] / "errors.csv")
    assert list(errors["patient_id"]) == ["N1"] and list(errors["stage"]) == ["input"]
    assert "baseline image as a DICOM series folder" in errors["message"][0]
    assert not (run["out"] / "cases" / "N1" / "dicom").exists()
    assert not (run["out"] / "cases" / "N1" / "lesions.csv").exists()   # refused before any work
    lesions = read_table(run["out"] / "lesions.csv")
    assert sorted(set(lesions["patient_id"].astype(str))) == list(DICOM_PATIENTS)


@pytest.mark.parametrize("patient", DICOM_PATIENTS)
def test_case_json_lists_the_dicom_files(run, patient):
    record = json.loads((run["out"] / "cases" / patient / "case.json").read_text())
    assert record["status"] == "done" and record["fingerprint"]["dicom_out"] is True
    assert record["dicom"] == {"baseline_seg": "dicom/baseline_seg.dcm", "followup_seg": "dicom/followup_seg.dcm",
                               "sr": "dicom/followup_sr.dcm"}


@pytest.mark.parametrize("patient", DICOM_PATIENTS)
@pytest.mark.parametrize("name", DICOM_FILES)
def test_dciodvfy_finds_no_error(run, patient, name):
    errors, warnings = dciodvfy(run["out"] / "cases" / patient / "dicom" / name)
    assert errors == []
    assert unexpected_warnings(warnings) == []


@pytest.mark.parametrize("patient", DICOM_PATIENTS)
def test_segs_hold_the_input_masks_and_reference_the_patients_ct(run, patient):
    case = run["root"] / patient
    for timepoint in ("baseline", "followup"):
        image = imageio.read_image(case / f"{timepoint}_dicom")
        given = {s.name: s for s in imageio.read_segments(case / f"{timepoint}_seg.dcm", image)}
        written_path = run["out"] / "cases" / patient / "dicom" / f"{timepoint}_seg.dcm"
        written = {s.name: s for s in imageio.read_segments(written_path, image)}
        assert set(written) == set(given) and len(given) >= 3
        for name, segment in given.items():
            assert np.array_equal(sitk.GetArrayViewFromImage(written[name].mask),
                                  sitk.GetArrayViewFromImage(segment.mask)), (timepoint, name)
        ct = read_dataset(image_files(case / f"{timepoint}_dicom")[0], stop_before_pixels=True)
        seg = read_dataset(written_path, stop_before_pixels=True)
        assert seg.PatientID == ct.PatientID == patient
        assert seg.StudyInstanceUID == ct.StudyInstanceUID
        assert {item.SeriesInstanceUID for item in seg.ReferencedSeriesSequence} == {ct.SeriesInstanceUID}


@pytest.mark.parametrize("patient", DICOM_PATIENTS)
def test_sr_reads_back_to_the_case_lesion_table(run, patient):
    # pandas' default CSV float parser may miss the last bit; the round-trip parser reads what was written
    table = pd.read_csv(run["out"] / "cases" / patient / "lesions.csv", float_precision="round_trip",
                        dtype={"patient_id": str, "lesion_id": str}).set_index("lesion_id")
    back, patient_values = read_sr(run["out"] / "cases" / patient / "dicom" / "followup_sr.dcm")
    back = back.set_index("lesion_id").loc[table.index]
    assert list(back["status"]) == list(table["status"]) and list(back["location"]) == list(table["location"])
    numeric = [c for c in table.columns if c.split(":")[0] in ("baseline", "followup", "delta", "reldelta")]
    assert len(numeric) > 50 and set(numeric) <= set(back.columns)
    for column in numeric:
        assert np.array_equal(table[column].to_numpy(float), back[column].to_numpy(float), equal_nan=True), column
    recist = recist_from_lesion_table(table.reset_index())
    assert patient_values["recist_category"] == recist["recist_category"]
    assert patient_values["baseline_sum_mm"] == recist["baseline_sum_mm"]


def test_the_two_patients_have_their_own_uids(run):
    uids = [read_dataset(run["out"] / "cases" / p / "dicom" / "followup_sr.dcm", stop_before_pixels=True)
            for p in DICOM_PATIENTS]
    assert uids[0].StudyInstanceUID != uids[1].StudyInstanceUID and uids[0].PatientID != uids[1].PatientID


def test_rerun_resumes_then_a_run_without_dicom_moves_it_aside(run, capsys):
    root, out = run["root"], run["out"]
    files = {path: path.stat().st_mtime_ns for path in out.glob("cases/*/dicom/*.dcm")}
    assert len(files) == 2 * len(DICOM_FILES)
    capsys.readouterr()
    assert _batch(root, "--dicom-out") == 1
    assert "(1 computed, 2 already finished)" in capsys.readouterr().out   # only the failed NRRD case again
    assert {path: path.stat().st_mtime_ns for path in out.glob("cases/*/dicom/*.dcm")} == files

    assert _batch(root) == 0                    # without --dicom-out the NRRD case is fine, the others recomputed
    assert "(3 computed, 0 already finished)" in capsys.readouterr().out
    for patient in DICOM_PATIENTS:
        case = out / "cases" / patient
        assert not (case / "dicom").exists()
        (aside,) = case.glob("dicom-superseded-*")
        assert sorted(p.name for p in aside.iterdir()) == sorted(DICOM_FILES)
        record = json.loads((case / "case.json").read_text())
        assert "dicom" not in record and "dicom_out" not in record["fingerprint"]
        assert record["superseded_dicom"] == aside.name
