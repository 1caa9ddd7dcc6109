"""Input files are hashed when the results are computed, and the report shows those hashes.

``pipeline.run_case_files`` (what ``extract``, ``batch`` and the PACS run call) records the SHA-256
of each image and segmentation it read in the lesion table's provenance. A report written later
shows the recorded hash ("recorded by the pipeline"), not the hash of whatever the file holds by
then. Expected hashes are computed here with hashlib on the files' bytes.
"""
from __future__ import annotations

import hashlib
import shutil

import pytest

from NomogramScoreLib.report import provenance_record
from ResponseSignatureLib.pipeline import run_case_files
from ResponseSignatureLib.provenance import input_sha256
from ResponseSignatureLib.tableio import read_table, write_table

SHAPE_ONLY = {"imageType": {"Original": {}}, "featureClass": {"shape": ["VoxelVolume"]}}
INPUTS = {"baseline_image": "baseline_image", "baseline_segmentation": "baseline_seg",
          "followup_image": "followup_image", "followup_segmentation": "followup_seg"}


def sha256_of(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def case(sample_case, tmp_path) -> dict:
    """A private copy of the sample case's files (the test changes one of them)."""
    copied = {}
    for key in INPUTS.values():
        copied[key] = tmp_path / sample_case[key].name
        shutil.copyfile(sample_case[key], copied[key])
    return copied


def test_the_pipeline_records_the_hash_of_each_input_it_read(case, tmp_path):
    expected = {name: sha256_of(case[key]) for name, key in INPUTS.items()}
    result = run_case_files(*(case[key] for key in INPUTS.values()), patient_id="P1", params=SHAPE_ONLY)
    recorded = result.provenance["inputs"]
    assert recorded == {name: {"path": str(case[key]), "sha256": expected[name]} for name, key in INPUTS.items()}

    # the table is written with its provenance, then the baseline image changes on disk
    table_path = write_table(result.table, tmp_path / "lesions.csv", result.provenance)
    case["baseline_image"].write_bytes(case["baseline_image"].read_bytes() + b"\0")
    assert sha256_of(case["baseline_image"]) != expected["baseline_image"]

    files = provenance_record(read_table(table_path).attrs["provenance"])["input_files"]
    assert [(f["path"], f["sha256"], f["hashed_at"]) for f in files] == [
        (str(case[key]), expected[name], "recorded by the pipeline") for name, key in INPUTS.items()]


def test_a_folder_input_is_hashed_file_by_file(tmp_path):
    """A DICOM series folder: SHA-256 of '<file SHA-256>  <relative path>' lines sorted by path."""
    series = tmp_path / "series"
    (series / "sub").mkdir(parents=True)
    (series / "b.dcm").write_bytes(b"slice 2")
    (series / "a.dcm").write_bytes(b"slice 1")
    (series / "sub" / "c.dcm").write_bytes(b"slice 3")
    lines = "".join(f"{hashlib.sha256(data).hexdigest()}  {name}\n"
                    for name, data in (("a.dcm", b"slice 1"), ("b.dcm", b"slice 2"), ("sub/c.dcm", b"slice 3")))
    assert input_sha256(series) == hashlib.sha256(lines.encode("utf-8")).hexdigest()
    assert input_sha256(series / "a.dcm") == hashlib.sha256(b"slice 1").hexdigest()
    (series / "a.dcm").write_bytes(b"slice 1 changed")
    assert input_sha256(series) != hashlib.sha256(lines.encode("utf-8")).hexdigest()
