"""The Slicer cohort run: ONE real worker process running the command line's ``batch``.

RadiomicsResponseSlicerUtils.cohort_worker starts ``<python> -c BOOTSTRAP <lib dirs> batch ...
--progress-format json`` exactly as LesionAggregateLogic does inside Slicer (there with PythonSlicer;
here with this venv's Python). Checked: the progress lines are read while the worker runs, Cancel
stops the worker and every process of its pool, the cancelled run resumes to the same tables as an
uninterrupted one, and a bad manifest comes back as the command line's one-line error.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))

from RadiomicsResponseSlicerUtils.cohort_worker import (  # noqa: E402
    BOOTSTRAP, CohortCancelled, CohortWorker, batchArguments)
from params_helpers import LIGHT_PARAMS_YAML as LIGHT_PARAMS  # noqa: E402

LIB_DIRS = [str(REPO / "ResponseSignature"), str(REPO / "LesionAggregate")]
N_CASES = 4


@pytest.fixture(scope="module")
def cohort(tmp_path_factory) -> dict:
    """N_CASES synthetic cases, their manifest and light settings (shape + first order)."""
    from ResponseSignatureLib.sample_data import make_sample_case

    root = tmp_path_factory.mktemp("cohort")
    rows = []
    for index in range(N_CASES):
        case = f"P{index:02d}"
        make_sample_case(root / case, seed=index, patient_id=case)
        rows += [[case, "baseline", f"{case}/baseline.nrrd", f"{case}/baseline.seg.nrrd", f"{case}/locations.csv"],
                 [case, "followup", f"{case}/followup.nrrd", f"{case}/followup.seg.nrrd", ""]]
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_id", "timepoint", "image", "segmentation", "locations"])
        writer.writerows(rows)
    (root / "params.yaml").write_text(LIGHT_PARAMS, encoding="utf-8")
    return {"root": root, "manifest": manifest, "params": root / "params.yaml"}


def start(cohort: dict, out: Path, jobs: int, manifest: Path | None = None) -> CohortWorker:
    arguments = batchArguments(str(manifest or cohort["manifest"]), str(out), jobs=jobs, params=str(cohort["params"]))
    return CohortWorker.start(arguments, libDirs=LIB_DIRS, python=sys.executable)


def group_alive(pgid: int) -> list:
    """Processes of process group ``pgid`` that are still running (zombies waiting for init do not count)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            alive.append(stat.parent.name)
    return alive


def test_worker_command_is_the_command_line_batch(cohort, tmp_path):
    arguments = batchArguments("m.csv", "out", jobs=3, params="p.yaml", engine="builtin", method="mean")
    assert arguments == ["batch", "m.csv", "--out", "out", "--jobs", "3", "--engine", "builtin", "--method", "mean",
                         "--progress-format", "json", "--params", "p.yaml"]
    worker = CohortWorker.start(arguments, libDirs=["/a", "/b"], python="/bin/true")
    worker.wait()
    assert worker.command[:4] == ["/bin/true", "-c", BOOTSTRAP, os.pathsep.join(["/a", "/b"])]
    assert worker.command[4:] == arguments


def test_progress_is_read_while_the_worker_runs_and_the_summary_at_the_end(cohort, tmp_path):
    worker = start(cohort, tmp_path / "out", jobs=2)
    seen = []
    summary = worker.runToEnd(progress=lambda fraction, message: seen.append((fraction, message)), pollSeconds=0.05)
    assert summary["cases"] == N_CASES and summary["done"] == N_CASES and summary["failed"] == 0
    assert summary["computed"] == N_CASES and summary["skipped"] == 0
    fractions = [fraction for fraction, _message in seen]
    assert len(fractions) == N_CASES, "one progress line per finished case in a pooled run"
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    assert all("cases" in message for _fraction, message in seen)
    assert (tmp_path / "out" / "patients.csv").is_file()
    assert worker.process.returncode == 0


def test_cancel_stops_the_worker_and_its_pool_and_the_run_resumes(cohort, tmp_path):
    reference = tmp_path / "reference"
    start(cohort, reference, jobs=1).runToEnd()

    out = tmp_path / "cancelled"
    worker = start(cohort, out, jobs=2)
    progress = []
    deadline = time.monotonic() + 120
    while not progress and worker.running and time.monotonic() < deadline:
        progress += worker.poll()
        time.sleep(0.02)
    assert progress, "no progress line before the end of the run"
    worker.cancel(graceSeconds=10)
    assert not worker.running
    with pytest.raises(CohortCancelled, match="resume"):
        worker.result()
    time.sleep(0.5)
    if Path("/proc/self/stat").is_file():
        assert not group_alive(worker.process.pid), "a process of the cancelled worker's pool is still running"

    finished = [json.loads(p.read_text())["status"] for p in (out / "cases").glob("*/case.json")]
    assert 1 <= finished.count("done") <= N_CASES
    summary = start(cohort, out, jobs=2).runToEnd()
    assert summary["done"] == N_CASES and summary["skipped"] >= 1
    assert summary["computed"] + summary["skipped"] == N_CASES
    for name in ("lesions.csv", "patients.csv", "errors.csv"):
        assert (out / name).read_bytes() == (reference / name).read_bytes(), f"{name} differs after cancel + resume"


def test_bad_manifest_comes_back_as_the_command_lines_error(cohort, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("patient_id,timepoint,image\nP1,baseline,x.nrrd\n", encoding="utf-8")
    worker = start(cohort, tmp_path / "out", jobs=1, manifest=bad)
    with pytest.raises(ValueError, match="has no column segmentation"):
        worker.runToEnd()
    assert worker.process.returncode == 2
