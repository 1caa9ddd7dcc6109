"""DICOM output of a case: SEG per time point + TID 1500 SR of the follow-up (dicom_export, dicom_sr).

The demo case (sample-data --dicom) goes through ``radiomics-response extract --dicom-out`` as a
user would run it. Acceptance of issue 18: every object passes dciodvfy without errors (the only
warnings are our two private coding schemes, docs/dicom.md), the SR read back with highdicom
(``dicom-read-sr``) gives exactly the lesion table's numbers, and a lesion's Tracking UID is the
same in the baseline SEG, the follow-up SEG and both time points' SR groups.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("highdicom")
import highdicom as hd  # noqa: E402

from dicom_helpers import dciodvfy, dicom_sample_case, unexpected_warnings  # noqa: E402
from NomogramScoreLib.cli import main  # noqa: E402
from ResponseSignatureLib.dicom_io import read_dataset  # noqa: E402
from ResponseSignatureLib.tableio import read_table  # noqa: E402

ID_COLUMNS = ["lesion_id", "location", "status", "target"]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The demo case as DICOM, extracted with --dicom-out, and the SR read back with dicom-read-sr."""
    folder = tmp_path_factory.mktemp("dicom_export")
    case = dicom_sample_case(folder / "case")
    out = folder / "dicom_out"
    code = main(["extract", "--baseline", str(case["baseline_dicom"]), "--baseline-seg", str(case["baseline_dicom_seg"]),
                 "--followup", str(case["followup_dicom"]), "--followup-seg", str(case["followup_dicom_seg"]),
                 "--patient-id", "sample", "--out", str(folder / "lesions.csv"), "--dicom-out", str(out)])
    assert code == 0
    code = main(["dicom-read-sr", str(out / "followup_sr.dcm"), "--out", str(folder / "from_sr.csv"),
                 "--patient-out", str(folder / "patient.json")])
    assert code == 0
    return {"case": case, "out": out, "table": read_table(folder / "lesions.csv"),
            "from_sr": read_table(folder / "from_sr.csv"), "folder": folder}


@pytest.mark.parametrize("name", ["baseline_seg.dcm", "followup_seg.dcm", "followup_sr.dcm"])
def test_dciodvfy_finds_no_error(exported, name):
    errors, warnings = dciodvfy(exported["out"] / name)
    assert errors == []
    assert unexpected_warnings(warnings) == []


def test_sr_read_back_equals_the_lesion_table(exported):
    table = exported["table"].set_index("lesion_id")
    back = exported["from_sr"].set_index("lesion_id").loc[table.index]
    assert list(back.index) == ["liver_1", "liver_2", "liver_3", "node_1", "liver_4"]
    for column in ("location", "status"):
        assert list(back[column]) == list(table[column]), column
    assert [bool(v) for v in back["target"]] == [bool(v) for v in table["target"]]
    numeric = [c for c in table.columns if c.split(":")[0] in ("baseline", "followup", "delta", "reldelta")]
    assert len(numeric) > 400 and set(numeric) <= set(back.columns)
    for column in numeric:
        assert np.array_equal(table[column].to_numpy(float), back[column].to_numpy(float), equal_nan=True), column


def test_sr_holds_patient_recist(exported):
    import json

    patient = json.loads((exported["folder"] / "patient.json").read_text())
    provenance = json.loads((exported["folder"] / "lesions.csv.provenance.json").read_text())
    recist = provenance["recist"]
    assert patient["recist_category"] == recist["recist_category"] == "PD"
    assert patient["recist_reason"] == recist["recist_reason"]
    assert patient["baseline_sum_mm"] == recist["baseline_sum_mm"]
    assert patient["percent_change_from_baseline"] == recist["percent_change_from_baseline"]


def _seg_tracking(path) -> dict:
    seg = read_dataset(path)
    return {str(s.TrackingID): str(s.TrackingUID) for s in seg.SegmentSequence}


def test_tracking_uids_are_equal_across_time_points(exported):
    baseline = _seg_tracking(exported["out"] / "baseline_seg.dcm")
    followup = _seg_tracking(exported["out"] / "followup_seg.dcm")
    matched = exported["table"].loc[exported["table"]["status"] == "matched", "lesion_id"]
    assert set(matched) == {"liver_1", "liver_2", "node_1"}
    for lesion in matched:
        assert baseline[lesion] == followup[lesion]
    assert "liver_3" in baseline and "liver_3" not in followup and "liver_4" in followup
    assert len(set(baseline.values()) | set(followup.values())) == 5  # one UID per lesion
    sr = hd.sr.Comprehensive3DSR.from_dataset(read_dataset(exported["out"] / "followup_sr.dcm"))
    groups = sr.content.get_volumetric_roi_measurement_groups()
    uids_in_sr: dict[str, set] = {}
    for group in groups:
        uids_in_sr.setdefault(str(group.tracking_identifier), set()).add(str(group.tracking_uid))
        segment = group.referenced_segment
        assert segment is not None
    assert len(groups) == 3 * 2 + 1 + 1  # matched at both time points, liver_3 at baseline, liver_4 at follow-up
    for lesion, uids in uids_in_sr.items():
        assert uids == {baseline.get(lesion) or followup.get(lesion)}


def test_sr_references_its_evidence(exported):
    sr = read_dataset(exported["out"] / "followup_sr.dcm")
    followup_seg = read_dataset(exported["out"] / "followup_seg.dcm")
    baseline_seg = read_dataset(exported["out"] / "baseline_seg.dcm")
    assert sr.StudyInstanceUID == followup_seg.StudyInstanceUID != baseline_seg.StudyInstanceUID
    # highdicom >= 0.23 lists the baseline study as pertinent other evidence, 0.22 as current evidence
    evidence = {item.ReferencedSOPInstanceUID
                for sequence in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence")
                for study in sr.get(sequence, []) for series in study.ReferencedSeriesSequence
                for item in series.ReferencedSOPSequence}
    assert {followup_seg.SOPInstanceUID, baseline_seg.SOPInstanceUID} <= evidence
    assert sr.CompletionFlag == "COMPLETE"


def test_sr_features_can_be_selected(exported, tmp_path):
    case = exported["case"]
    code = main(["extract", "--baseline", str(case["baseline_dicom"]), "--baseline-seg", str(case["baseline_dicom_seg"]),
                 "--followup", str(case["followup_dicom"]), "--followup-seg", str(case["followup_dicom_seg"]),
                 "--patient-id", "sample", "--out", str(tmp_path / "lesions.csv"), "--dicom-out", str(tmp_path),
                 "--sr-features", "original_shape_*"])
    assert code == 0
    assert main(["dicom-read-sr", str(tmp_path / "followup_sr.dcm"), "--out", str(tmp_path / "back.csv")]) == 0
    columns = [c for c in pd.read_csv(tmp_path / "back.csv").columns if c.startswith("baseline:")]
    features = [c for c in columns if "original_" in c]
    assert features and all(c.startswith("baseline:original_shape_") for c in features)


def test_dicom_out_refuses_nrrd_images(exported, tmp_path, capsys):
    case = exported["case"]
    code = main(["extract", "--baseline", str(case["baseline_image"]), "--baseline-seg", str(case["baseline_seg"]),
                 "--followup", str(case["followup_image"]), "--followup-seg", str(case["followup_seg"]),
                 "--out", str(tmp_path / "lesions.csv"), "--dicom-out", str(tmp_path / "dicom")])
    assert code == 2
    assert "DICOM series folder" in capsys.readouterr().err
    assert not (tmp_path / "lesions.csv").exists()  # refused before any work
