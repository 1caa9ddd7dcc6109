"""LesionAggregateLib.batch: cohort runs over >= 20 synthetic cases + the real pyradiomics cases.

One cohort (20 synthetic cases from ``make_sample_case``, the three real cases of
``../shared/data/pyradiomics`` with the same scan as baseline and follow-up, one corrupt case) is
run once with a process pool (the reference); the other runs (resume, kill-and-resume, Dask local
cluster) must give byte-identical lesions.csv, patients.csv and errors.csv. Light settings
(shape + first order on the original image) keep the whole file at about a minute.
"""
from __future__ import annotations

import csv
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from LesionAggregateLib.batch import read_manifest, run_batch
from LesionAggregateLib.cli import main
from ResponseSignatureLib.errors import InputError, OperationCancelled
from ResponseSignatureLib.sample_data import make_sample_case
from params_helpers import LIGHT_PARAMS_YAML as LIGHT_PARAMS

N_SYNTHETIC = 20
REAL_CASES = ("brain1", "breast1", "lung1")
REAL_DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "pyradiomics"
OUTPUTS = ("lesions.csv", "patients.csv", "errors.csv")


def write_manifest(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_id", "timepoint", "image", "segmentation", "locations"])
        writer.writerows(rows)
    return path


def synthetic_rows(case_id: str) -> list[list[str]]:
    """Manifest rows of a synthetic case in cases/<id>/ (paths relative to the manifest)."""
    return [[case_id, "baseline", f"cases/{case_id}/baseline.nrrd", f"cases/{case_id}/baseline.seg.nrrd",
             f"cases/{case_id}/locations.csv"],
            [case_id, "followup", f"cases/{case_id}/followup.nrrd", f"cases/{case_id}/followup.seg.nrrd", ""]]


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """The cohort folder: manifest.csv (all cases), small.csv (3 synthetic cases), params.yaml."""
    root = tmp_path_factory.mktemp("cohort")
    rows = []
    for index in range(N_SYNTHETIC):
        case_id = f"s{index:02d}"
        make_sample_case(root / "cases" / case_id, seed=index, patient_id=case_id)
        rows += synthetic_rows(case_id)
    if REAL_DATA.is_dir():
        for name in REAL_CASES:
            image, label = REAL_DATA / f"{name}_image.nrrd", REAL_DATA / f"{name}_label.nrrd"
            rows += [[name, "baseline", str(image), str(label), ""], [name, "followup", str(image), str(label), ""]]
    corrupt = root / "cases" / "corrupt"
    corrupt.mkdir()
    whole = (root / "cases" / "s00" / "baseline.nrrd").read_bytes()
    (corrupt / "baseline.nrrd").write_bytes(whole[: len(whole) // 2])          # a truncated transfer
    rows += [["corrupt", "baseline", "cases/corrupt/baseline.nrrd", "cases/s00/baseline.seg.nrrd", ""],
             ["corrupt", "followup", "cases/s00/followup.nrrd", "cases/s00/followup.seg.nrrd", ""]]
    (root / "params.yaml").write_text(LIGHT_PARAMS, encoding="utf-8")
    return {"root": root, "manifest": write_manifest(root / "manifest.csv", rows),
            "small": write_manifest(root / "small.csv", sum((synthetic_rows(f"s{i:02d}") for i in range(3)), [])),
            "params": root / "params.yaml", "n_cases": len(rows) // 2}


@pytest.fixture(scope="module")
def reference(cohort) -> dict:
    """The uninterrupted process-pool run (2 workers) that every other run is compared with."""
    out = cohort["root"] / "out_pool"
    summary = run_batch(cohort["manifest"], out, jobs=2, params=str(cohort["params"]))
    return {"out": out, "summary": summary}


def same_outputs(first: Path, second: Path) -> None:
    for name in OUTPUTS:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def done_cases(out: Path) -> dict[str, tuple[bytes, int]]:
    """case folder -> (case.json bytes, mtime_ns) of every case whose case.json says done."""
    found = {}
    for path in sorted((out / "cases").glob("*/case.json")):
        data = path.read_bytes()
        if json.loads(data)["status"] == "done":
            found[path.parent.name] = (data, path.stat().st_mtime_ns)
    return found


# ----------------------------------------------------------------------------------- manifest

def test_manifest_relative_paths_and_cases(cohort):
    cases = read_manifest(cohort["small"])
    assert [case["patient_id"] for case in cases] == ["s00", "s01", "s02"]
    assert cases[0]["baseline_image"] == str(cohort["root"] / "cases" / "s00" / "baseline.nrrd")
    assert cases[0]["locations"] == str(cohort["root"] / "cases" / "s00" / "locations.csv")
    assert cases[0]["case_dir"] == "s00"


@pytest.mark.parametrize("rows, message", [
    ([["p", "week8", "cases/s00/baseline.nrrd", "cases/s00/baseline.seg.nrrd", ""]],
     r"line 2: timepoint 'week8' is not one of baseline, followup"),
    ([["p", "baseline", "cases/s00/nope.nrrd", "cases/s00/baseline.seg.nrrd", ""]],
     r"line 2: image file not found: .*cases/s00/nope\.nrrd"),
    (synthetic_rows("s00")[:1], r"patient 's00' has no followup row"),
    (synthetic_rows("s00") + synthetic_rows("s00")[1:], r"line 4: a second followup row for patient 's00'"),
    ([["", "baseline", "a", "b", ""]], r"line 2: empty patient_id"),
])
def test_manifest_errors_name_line_column_and_file(cohort, rows, message):
    manifest = write_manifest(cohort["root"] / "bad.csv", rows)
    with pytest.raises(InputError, match=message):
        read_manifest(manifest)


def test_manifest_missing_column(cohort):
    bad = cohort["root"] / "nocol.csv"
    bad.write_text("patient_id,timepoint,image\np,baseline,x\n", encoding="utf-8")
    with pytest.raises(InputError, match="has no column segmentation"):
        read_manifest(bad)


# ------------------------------------------------------------------------------ process pool

def test_process_pool_batch_over_the_cohort(cohort, reference):
    summary, out = reference["summary"], reference["out"]
    assert summary["cases"] == cohort["n_cases"] >= N_SYNTHETIC + 1
    assert summary["failed"] == 1 and summary["done"] == cohort["n_cases"] - 1
    errors = pd.read_csv(out / "errors.csv", dtype=str)
    assert errors["patient_id"].tolist() == ["corrupt"]
    assert errors.loc[0, "stage"] == "input" and "baseline.nrrd" in errors.loc[0, "message"]

    lesions = pd.read_csv(out / "lesions.csv", dtype={"patient_id": str, "lesion_id": str})
    patients = pd.read_csv(out / "patients.csv", dtype={"patient_id": str}).set_index("patient_id")
    expected_ids = sorted([f"s{i:02d}" for i in range(N_SYNTHETIC)] + (list(REAL_CASES) if REAL_DATA.is_dir() else []))
    assert patients.index.tolist() == expected_ids
    keys = list(zip(lesions["patient_id"], lesions["lesion_id"]))
    assert keys == sorted(keys)
    for case_id in (f"s{i:02d}" for i in range(N_SYNTHETIC)):
        mine = lesions[lesions["patient_id"] == case_id]
        assert sorted(mine["status"]) == ["disappeared", "matched", "matched", "matched", "new"]
        assert patients.loc[case_id, "n_lesions"] == 5
        # volume-weighted mean of the change in volume, by hand from the lesion table
        weights, changes = mine["baseline:volume_ml"].tolist(), mine["delta:volume_ml"].tolist()
        by_hand = sum(w * c for w, c in zip(weights, changes)) / sum(weights)
        assert patients.loc[case_id, "volume_weighted:delta:volume_ml"] == pytest.approx(by_hand, rel=1e-12)
        assert patients.loc[case_id, "recist_category"] in ("CR", "PR", "SD", "PD", "NE")
    manifest_provenance = json.loads((out / "lesions.csv.provenance.json").read_text(encoding="utf-8"))
    assert manifest_provenance["extraction_settings"]["featureClass"].keys() == {"shape", "firstorder"}
    # each case's provenance once, its column meanings once for the whole table (not once per case)
    case_provenance = manifest_provenance["cases"]["s00"]
    assert case_provenance["patient_id"] == "s00" and case_provenance["inputs"] and "columns" not in case_provenance
    assert manifest_provenance["columns"]["baseline:volume_ml"]["unit"]


def test_real_cases_in_the_batch(reference):
    if not REAL_DATA.is_dir():
        pytest.skip(f"reference data not found at {REAL_DATA}")
    lesions = pd.read_csv(reference["out"] / "lesions.csv", dtype={"patient_id": str})
    patients = pd.read_csv(reference["out"] / "patients.csv", dtype={"patient_id": str}).set_index("patient_id")
    for name in REAL_CASES:
        lesion = lesions[lesions["patient_id"] == name]
        assert len(lesion) == 1 and lesion["status"].tolist() == ["matched"]
        # same scan at both time points: no change; one lesion: every aggregate is that lesion's value
        assert lesion["delta:volume_ml"].tolist() == [0.0]
        assert patients.loc[name, "n_lesions"] == 1
        assert patients.loc[name, "volume_weighted:baseline:volume_ml"] == lesion["baseline:volume_ml"].iloc[0]
        assert patients.loc[name, "volume_weighted:delta:original_firstorder_Mean"] == 0.0


def test_rerun_skips_finished_cases_and_retries_the_failed_one(cohort, reference):
    before = done_cases(reference["out"])
    summary = run_batch(cohort["manifest"], reference["out"], jobs=1, params=str(cohort["params"]))
    assert summary["skipped"] == cohort["n_cases"] - 1 and summary["computed"] == 1   # only 'corrupt' again
    assert summary["failed"] == 1
    assert done_cases(reference["out"]) == before


def folder_files(out: Path) -> dict[str, bytes]:
    """Every file under ``out`` (relative path -> bytes)."""
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def other_params(tmp_path: Path) -> Path:
    other = tmp_path / "other.yaml"
    other.write_text(LIGHT_PARAMS.replace("binWidth: 25", "binWidth: 10"), encoding="utf-8")
    return other


def test_changed_settings_are_refused_then_restart_moves_the_old_results(cohort, tmp_path):
    out = tmp_path / "out"
    run_batch(cohort["small"], out, params=str(cohort["params"]))
    first = folder_files(out)
    with pytest.raises(InputError) as refused:
        run_batch(cohort["small"], out, params=str(other_params(tmp_path)))
    message = str(refused.value)
    old, new = re.findall(r"fingerprint ([0-9a-f]{12})", message)
    assert old != new and "extraction settings differ" in message and "--restart" in message
    assert json.loads((out / "settings.json").read_text(encoding="utf-8"))["fingerprint"].startswith(old)
    assert folder_files(out) == first                               # nothing replaced, nothing deleted

    summary = run_batch(cohort["small"], out, params=str(other_params(tmp_path)), restart=True)
    assert summary["computed"] == 3 and summary["skipped"] == 0
    moved = Path(summary["moved_to"])
    assert moved.parent == out and re.fullmatch(r"previous-\d{8}T\d{6}Z", moved.name)
    assert folder_files(moved) == {name: data for name, data in first.items()}   # the old results, byte for byte
    assert json.loads((out / "settings.json").read_text(encoding="utf-8"))["fingerprint"].startswith(new)
    assert not (out / "batch.lock").exists()


def test_a_running_folder_is_refused_naming_the_run(cohort, tmp_path, capsys):
    """Two concurrent runs with different settings: the second is refused (naming the first); the
    first completes every case; neither loses a finished case."""
    out = tmp_path / "out"
    command = [sys.executable, "-m", "LesionAggregateLib", "batch", str(cohort["small"]), "--out", str(out),
               "--params", str(cohort["params"]), "--no-progress"]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        first = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True)
    try:
        deadline = time.monotonic() + 120
        while not done_cases(out):
            assert first.poll() is None, "the first run ended before the second could start"
            assert time.monotonic() < deadline, "no case finished within 120 s"
            time.sleep(0.02)
        finished = done_cases(out)
        code = main(["batch", str(cohort["small"]), "--out", str(out), "--params", str(other_params(tmp_path)),
                     "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2
        assert re.match(rf"error: output folder '{re.escape(str(out))}' is in use by another run: pid {first.pid} on "
                        r"host \S+, started \d{4}-\d\d-\d\dT[\d:]+\+00:00, command: .*LesionAggregateLib batch", err), err
        assert first.wait(timeout=300) == 0
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()
    after = done_cases(out)
    assert set(after) == {"s00", "s01", "s02"}
    for case_dir, record in finished.items():
        assert after[case_dir] == record                          # finished before the refusal: untouched
    assert sorted(pd.read_csv(out / "patients.csv", dtype=str)["patient_id"]) == ["s00", "s01", "s02"]
    assert not (out / "batch.lock").exists()


def test_cli_restart_flag(cohort, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["batch", str(cohort["small"]), "--out", str(out), "--params", str(cohort["params"]), "--no-progress"]) == 0
    assert main(["batch", str(cohort["small"]), "--out", str(out), "--params", str(other_params(tmp_path)),
                 "--no-progress"]) == 2
    assert "holds the results of other settings" in capsys.readouterr().err
    assert main(["batch", str(cohort["small"]), "--out", str(out), "--params", str(other_params(tmp_path)),
                 "--no-progress", "--restart"]) == 0
    assert len(list(out.glob("previous-*/cases/*/case.json"))) == 3


def test_lesion_problems_are_listed_in_errors_csv(cohort, tmp_path):
    """A one-voxel lesion is a per-lesion error: the case finishes, errors.csv names the lesion."""
    import numpy as np
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.random.default_rng(0).normal(50, 10, (20, 24, 24)).astype(np.int16))
    labels = np.zeros((20, 24, 24), np.uint8)
    labels[5:12, 5:14, 5:14] = 1
    labels[16, 20, 20] = 2
    label_image = sitk.GetImageFromArray(labels)
    label_image.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "tiny.nrrd"))
    sitk.WriteImage(label_image, str(tmp_path / "tiny_label.nrrd"))
    manifest = write_manifest(tmp_path / "manifest.csv", [["tiny", t, "tiny.nrrd", "tiny_label.nrrd", ""]
                                                          for t in ("baseline", "followup")])
    summary = run_batch(manifest, tmp_path / "out", params=str(cohort["params"]))
    assert summary["done"] == 1 and summary["failed"] == 0
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert errors["stage"].tolist() == ["lesion", "lesion"]
    assert errors["message"].tolist() == ["lesion 'lesion_2' at baseline: one voxel: too small for radiomic features",
                                          "lesion 'lesion_2' at followup: one voxel: too small for radiomic features"]
    lesions = pd.read_csv(tmp_path / "out" / "lesions.csv")
    assert lesions["lesion_id"].tolist() == ["lesion_1", "lesion_2"]
    assert lesions.loc[0, "baseline:n_voxels"] == 7 * 9 * 9


def test_resampled_segmentation_is_a_warning_in_errors_csv(cohort, tmp_path):
    """A follow-up label map on a coarser grid: the case finishes, errors.csv says it was resampled."""
    import numpy as np
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(np.random.default_rng(1).normal(50, 10, (12, 24, 24)).astype(np.int16))
    labels = np.zeros((12, 24, 24), np.uint8)
    labels[3:9, 6:16, 6:16] = 1
    label_image = sitk.GetImageFromArray(labels)
    coarse = sitk.GetImageFromArray(np.ascontiguousarray(labels[:, ::2, ::2]))
    coarse.SetSpacing((2.0, 2.0, 1.0))
    coarse.SetOrigin((0.5, 0.5, 0.0))
    for name, item in (("ct.nrrd", image), ("label.nrrd", label_image), ("coarse.nrrd", coarse)):
        sitk.WriteImage(item, str(tmp_path / name))
    manifest = write_manifest(tmp_path / "manifest.csv", [["p", "baseline", "ct.nrrd", "label.nrrd", ""],
                                                          ["p", "followup", "ct.nrrd", "coarse.nrrd", ""]])
    summary = run_batch(manifest, tmp_path / "out", params=str(cohort["params"]))
    assert summary["done"] == 1 and summary["failed"] == 0
    errors = pd.read_csv(tmp_path / "out" / "errors.csv")
    assert errors.values.tolist() == [["p", "warning", "followup segmentation is on another grid than its image: "
                                       "resampled from 12 x 12 x 12 voxels of 2 x 2 x 1 mm to 24 x 24 x 12 voxels "
                                       "of 1 x 1 x 1 mm (nearest neighbour)"]]


# --------------------------------------------------------------------------- kill and resume

@pytest.mark.skipif(not hasattr(os, "killpg"), reason="needs POSIX process groups to kill the CLI and its workers")
def test_kill_mid_run_then_resume(cohort, reference, tmp_path, capsys, caplog):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "LesionAggregateLib", "batch", str(cohort["manifest"]), "--out", str(out),
               "--jobs", "2", "--params", str(cohort["params"]), "--no-progress"]
    with open(tmp_path / "stderr.txt", "w") as stderr:
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(done_cases(out)) < 3:
            assert process.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no case finished within 120 s"
            time.sleep(0.02)
    finally:
        os.killpg(process.pid, signal.SIGKILL)      # the CLI, its forkserver and its workers
        process.wait()
    finished = done_cases(out)
    assert 3 <= len(finished) < cohort["n_cases"] - 1, "kill came too late to test resuming"
    assert not (out / "lesions.csv").exists()
    stale = json.loads((out / "batch.lock").read_text(encoding="utf-8"))   # the killed run's lock is left behind
    assert stale["pid"] == process.pid

    with caplog.at_level(logging.WARNING, logger="LesionAggregateLib.batch"):
        code = main(["batch", str(cohort["manifest"]), "--out", str(out), "--jobs", "2",
                     "--params", str(cohort["params"]), "--no-progress"])
    assert code == 1                                  # the corrupt case failed, the rest completed
    assert f"a previous run (pid {process.pid} on host" in caplog.text and "stopped without finishing" in caplog.text
    assert not (out / "batch.lock").exists()
    printed = capsys.readouterr().out
    assert f"{cohort['n_cases'] - len(finished)} computed, {len(finished)} already finished" in printed
    after = done_cases(out)
    for case_dir, record in finished.items():
        assert after[case_dir] == record              # not recomputed: same bytes, same modification time
    same_outputs(out, reference["out"])


# ------------------------------------------------------------------------------- cancellation

def test_cancel_stops_after_the_running_case(cohort, tmp_path):
    out = tmp_path / "out"

    def should_cancel() -> bool:
        return bool(done_cases(out))

    started = time.monotonic()
    with pytest.raises(OperationCancelled, match="re-run the same command to resume"):
        run_batch(cohort["small"], out, params=str(cohort["params"]), should_cancel=should_cancel)
    assert time.monotonic() - started < 30
    assert list(done_cases(out)) == ["s00"]
    assert not (out / "lesions.csv").exists()
    summary = run_batch(cohort["small"], out, params=str(cohort["params"]))
    assert summary["skipped"] == 1 and summary["computed"] == 2 and summary["done"] == 3


def test_cancel_a_process_pool_run_returns_promptly(cohort, tmp_path):
    out = tmp_path / "out"
    flagged: list[float] = []

    def should_cancel() -> bool:
        if not flagged and done_cases(out):
            flagged.append(time.monotonic())
        return bool(flagged)

    with pytest.raises(OperationCancelled):
        run_batch(cohort["manifest"], out, jobs=2, params=str(cohort["params"]), should_cancel=should_cancel)
    assert time.monotonic() - flagged[0] < 2.0
    time.sleep(2.0)                                   # cases already running finish in the background
    assert len(done_cases(out)) <= 1 + 2 * 2 + 1      # no new case was submitted after the cancel
    assert not (out / "lesions.csv").exists()


# ------------------------------------------------------------------------------------- dask

def test_dask_local_cluster_gives_identical_tables(cohort, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    out = tmp_path / "out"
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, memory_limit="2GiB",
                                  silence_logs=logging.ERROR) as cluster:
        summary = run_batch(cohort["manifest"], out, params=str(cohort["params"]),
                            scheduler=cluster.scheduler_address)
    assert summary["done"] == cohort["n_cases"] - 1 and summary["failed"] == 1
    same_outputs(out, reference["out"])


def test_cli_batch_rejects_bad_input(cohort, tmp_path, capsys):
    assert main(["batch", str(tmp_path / "nope.csv"), "--out", str(tmp_path / "out")]) == 2
    assert "manifest not found" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["batch", str(cohort["small"]), "--out", str(tmp_path / "out"), "--method", "vote"])


# ------------------------------------------------------------------------------ memory per case

def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as stream:
        return next(int(line.split()[1]) for line in stream if line.startswith("VmRSS:")) / 1024.0


@pytest.mark.skipif(not Path("/proc/self/status").is_file(), reason="per-case memory is read from /proc (Linux)")
def test_peak_memory_is_the_blocks_own_not_the_processs():
    """A block that touches 300 MB reports at least that over the memory before it; a later block
    that touches 40 MB reports its own peak, well below the process's (the first block's)."""
    import numpy as np

    from LesionAggregateLib.batch import PeakMemory

    first, second = PeakMemory(), PeakMemory()
    before = resident_mb()
    with first:
        block = np.ones(300 * 2**20 // 8)
        del block
    between = resident_mb()
    with second:
        block = np.ones(40 * 2**20 // 8)
        during = resident_mb()                          # what the block really added (the OS decides)
        time.sleep(0.5)                                 # many 10 ms samples while it lives, even on a busy CI
        del block
    assert first.peak_mb >= before + 295
    assert during - 1 <= second.peak_mb <= max(between, during) + 5
    assert second.peak_mb < first.peak_mb - 200


def test_each_case_records_and_reports_its_time_and_peak_memory(cohort, reference, tmp_path):
    for path in (reference["out"] / "cases").glob("s*/case.json"):    # process-pool workers
        record = json.loads(path.read_text(encoding="utf-8"))
        assert record["seconds"] > 0 and 50 < record["peak_rss_mb"] < 8000   # numpy + SimpleITK alone take > 50 MB
    messages = []
    run_batch(cohort["small"], tmp_path / "out", params=str(cohort["params"]),
              progress=lambda fraction, message: messages.append(message))
    done = [m for m in messages if re.search(r"s0\d done \(\d+\.\d s, peak \d+ MB\)$", m)]
    assert len(done) == 3, messages
