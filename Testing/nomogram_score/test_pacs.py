"""A real PACS: Orthanc with its DICOMweb plugin on loopback, and ``radiomics-response pacs``.

The fixture starts Debian's Orthanc on a free port of 127.0.0.1 with a temporary storage folder,
a per-run user and password, the DICOM (DIMSE) server off and remote access refused, and stops it
afterwards (skip when Orthanc is not installed: Testing/run_tests.sh installs it). Orthanc 1.10
has no bind-address option: its HTTP server listens on every interface but answers only loopback
clients (RemoteAccessAllowed false) that know the credentials.

End to end (issue 18): the demo case's baseline and follow-up studies with their SEGs are uploaded
through Orthanc's own REST API, ``pacs run`` assesses the patient, then Orthanc is queried through
its REST API again: the follow-up study holds our SR and SEG, valid (dciodvfy) and complete (the SR
read back equals the lesion table, with the signature and the nomogram risk).
"""
from __future__ import annotations

import json
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("highdicom")
pytest.importorskip("dicomweb_client")
import requests  # noqa: E402

from dicom_helpers import dciodvfy, dicom_sample_case, unexpected_warnings  # noqa: E402
from NomogramScoreLib.cli import main  # noqa: E402
from ResponseSignatureLib.dicom_sr import read_sr  # noqa: E402
from ResponseSignatureLib.tableio import read_table  # noqa: E402

PLUGIN = Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so")
PATIENT = "PACS-001"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def orthanc(tmp_path_factory):
    """A running Orthanc: {'rest': base URL, 'dicomweb': DICOMweb root, 'auth': (user, password)}."""
    binary = shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin")
    if binary is None or not PLUGIN.exists():
        pytest.skip("Orthanc with its DICOMweb plugin is not installed (Debian packages orthanc, orthanc-dicomweb; "
                    "Testing/run_tests.sh installs them)")
    folder = tmp_path_factory.mktemp("orthanc")
    port, user, password = _free_port(), "tester", secrets.token_urlsafe(12)
    config = {"Name": "RadiomicsResponseTest", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
              "HttpPort": port, "DicomServerEnabled": False, "RemoteAccessAllowed": False,
              "AuthenticationEnabled": True, "RegisteredUsers": {user: password}, "Plugins": [str(PLUGIN)],
              "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
              "OrthancExplorerEnabled": False, "WebDavEnabled": False, "StableAge": 1}
    (folder / "orthanc.json").write_text(json.dumps(config), encoding="utf-8")
    log = open(folder / "orthanc.log", "w")
    process = subprocess.Popen([binary, str(folder / "orthanc.json")], cwd=folder, stdout=log, stderr=subprocess.STDOUT)
    rest = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(rest, (user, password), process, folder / "orthanc.log")
        yield {"rest": rest, "dicomweb": f"{rest}/dicom-web", "auth": (user, password)}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


def _wait_until_up(rest: str, auth, process, log_path: Path, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"Orthanc exited at start:\n{log_path.read_text()[-2000:]}")
        try:
            if requests.get(f"{rest}/system", auth=auth, timeout=2).ok:
                return
        except requests.exceptions.ConnectionError:
            pass
        time.sleep(0.3)
    pytest.fail(f"Orthanc did not start within {seconds:g} s:\n{log_path.read_text()[-2000:]}")


@pytest.fixture()
def pacs_env(orthanc, monkeypatch):
    monkeypatch.setenv("RADIOMICS_RESPONSE_PACS_URL", orthanc["dicomweb"])
    monkeypatch.setenv("RADIOMICS_RESPONSE_PACS_USER", orthanc["auth"][0])
    monkeypatch.setenv("RADIOMICS_RESPONSE_PACS_PASSWORD", orthanc["auth"][1])
    return orthanc


def _upload(orthanc, paths) -> None:
    """Send files with Orthanc's REST API (not with the code under test)."""
    for path in paths:
        answer = requests.post(f"{orthanc['rest']}/instances", data=Path(path).read_bytes(), auth=orthanc["auth"], timeout=30)
        assert answer.ok, answer.text


def _series_of_study(orthanc, study_uid: str) -> list[dict]:
    """Orthanc's series of a study: their main DICOM tags and instance ids."""
    found = requests.post(f"{orthanc['rest']}/tools/lookup", data=study_uid, auth=orthanc["auth"], timeout=30).json()
    (study,) = [item for item in found if item["Type"] == "Study"]
    return requests.get(f"{orthanc['rest']}/studies/{study['ID']}/series", auth=orthanc["auth"], timeout=30).json()


@pytest.fixture(scope="module")
def pacs_run(orthanc, tmp_path_factory):
    """The demo case uploaded, then ``pacs run --demo-models`` on it."""
    folder = tmp_path_factory.mktemp("pacs_run")
    case = dicom_sample_case(folder / "case", patient_id=PATIENT)
    _upload(orthanc, [*sorted(case["baseline_dicom"].iterdir()), *sorted(case["followup_dicom"].iterdir()),
                      case["baseline_dicom_seg"], case["followup_dicom_seg"]])
    env = {"RADIOMICS_RESPONSE_PACS_URL": orthanc["dicomweb"], "RADIOMICS_RESPONSE_PACS_USER": orthanc["auth"][0],
           "RADIOMICS_RESPONSE_PACS_PASSWORD": orthanc["auth"][1]}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        code = main(["pacs", "run", "--patient-id", PATIENT, "--out", str(folder / "run"), "--demo-models"])
    assert code == 0
    return {"case": case, "run": folder / "run", "folder": folder}


@pytest.mark.slow
def test_pacs_run_stores_valid_complete_sr_and_seg_in_the_followup_study(orthanc, pacs_run, tmp_path):
    from ResponseSignatureLib.dicom_io import read_dataset

    followup_ct = read_dataset(sorted(pacs_run["case"]["followup_dicom"].iterdir())[0], stop_before_pixels=True)
    series = _series_of_study(orthanc, followup_ct.StudyInstanceUID)
    by_modality: dict[str, list] = {}
    for item in series:
        by_modality.setdefault(item["MainDicomTags"]["Modality"], []).append(item)
    assert len(by_modality["SR"]) == 1 and len(by_modality["SEG"]) == 2  # our SEG beside the input SEG
    descriptions = {item["MainDicomTags"].get("SeriesDescription") for item in by_modality["SEG"]}
    assert "Lesions (RadiomicsResponse)" in descriptions
    files = {}
    for modality, item in (("SR", by_modality["SR"][0]),
                           ("SEG", next(i for i in by_modality["SEG"] if i["MainDicomTags"].get("SeriesDescription", "").endswith("(RadiomicsResponse)")))):
        (instance,) = item["Instances"]
        data = requests.get(f"{orthanc['rest']}/instances/{instance}/file", auth=orthanc["auth"], timeout=30).content
        files[modality] = tmp_path / f"{modality}.dcm"
        files[modality].write_bytes(data)
        errors, warnings = dciodvfy(files[modality])
        assert errors == [] and unexpected_warnings(warnings) == [], modality
    table = read_table(pacs_run["run"] / "lesions.csv")
    back, patient = read_sr(files["SR"])
    assert sorted(back["lesion_id"]) == sorted(table["lesion_id"]) == sorted(["liver_1", "liver_2", "liver_3", "node_1", "liver_4"])
    table, back = table.set_index("lesion_id"), back.set_index("lesion_id").loc[table["lesion_id"]]
    for column in [c for c in table.columns if c.split(":")[0] in ("baseline", "followup", "delta")]:
        # the SR holds the exact doubles; pandas' CSV reader may round the last digits
        assert np.allclose(table[column].to_numpy(float), back[column].to_numpy(float), rtol=1e-12, atol=0,
                           equal_nan=True), column
    provenance = json.loads((pacs_run["run"] / "lesions.csv.provenance.json").read_text())
    assert patient["recist_category"] == provenance["recist"]["recist_category"]
    assert 0.0 <= patient["signature_score"] <= 1.0 and patient["signature_class"] in ("15508007", "75976002")
    assert 0.0 <= patient["risk_ci_low"] <= patient["risk"] <= patient["risk_ci_high"] <= 1.0
    seg = read_dataset(files["SEG"])
    assert [str(s.SegmentLabel) for s in seg.SegmentSequence] == ["liver_1", "liver_2", "node_1", "liver_4"]


@pytest.mark.slow
def test_baseline_seg_is_stored_in_the_baseline_study(orthanc, pacs_run):
    from ResponseSignatureLib.dicom_io import read_dataset

    baseline_ct = read_dataset(sorted(pacs_run["case"]["baseline_dicom"].iterdir())[0], stop_before_pixels=True)
    descriptions = [item["MainDicomTags"].get("SeriesDescription") for item in _series_of_study(orthanc, baseline_ct.StudyInstanceUID)]
    assert "Lesions (RadiomicsResponse)" in descriptions and "Response assessment (RadiomicsResponse)" not in descriptions


def test_pacs_find_lists_the_studies(pacs_env, pacs_run, capsys):
    assert main(["pacs", "find", "--patient-id", PATIENT]) == 0
    out = capsys.readouterr().out
    assert "2 studies" in out and "20240108" in out and "20240304" in out and "Lesions drawn (synthetic)" in out


def test_wrong_password_is_a_clear_error(pacs_env, monkeypatch, capsys):
    monkeypatch.setenv("RADIOMICS_RESPONSE_PACS_PASSWORD", "wrong")
    assert main(["pacs", "find", "--patient-id", PATIENT]) == 2
    assert "refused the credentials (HTTP 401)" in capsys.readouterr().err


def test_pacs_down_is_a_clear_error_within_the_timeout(capsys, monkeypatch):
    monkeypatch.delenv("RADIOMICS_RESPONSE_PACS_URL", raising=False)
    started = time.monotonic()
    code = main(["pacs", "find", "--patient-id", PATIENT, "--url", f"http://127.0.0.1:{_free_port()}/dicom-web", "--timeout", "3"])
    assert code == 2 and time.monotonic() - started < 10
    assert "is not reachable" in capsys.readouterr().err


def test_no_pacs_address_is_a_clear_error(capsys, monkeypatch):
    monkeypatch.delenv("RADIOMICS_RESPONSE_PACS_URL", raising=False)
    assert main(["pacs", "find", "--patient-id", PATIENT]) == 2
    assert "RADIOMICS_RESPONSE_PACS_URL" in capsys.readouterr().err


def test_a_patient_with_one_study_is_a_clear_error(pacs_env, pacs_run, capsys, tmp_path):
    assert main(["pacs", "run", "--patient-id", "nobody", "--out", str(tmp_path)]) == 2
    assert "has 0 studies" in capsys.readouterr().err
