"""Benchmark: cohort batch throughput with 1 and 2 workers (cases per minute and their ratio).

Not a test: prints numbers, never fails on a timing.
Run: ``.venv/bin/python Testing/benchmarks/bench_batch.py [--cases N] [--params PRESET_OR_YAML]``

Writes N synthetic cases (``ResponseSignatureLib.sample_data.make_sample_case``, 5 lesions each,
160 x 160 x 60 voxels per time point) into a temporary folder, then runs
``LesionAggregateLib.batch.run_batch`` on the same manifest twice, each time into an empty output
folder: ``jobs=1`` (cases one after the other in this process) and ``jobs=2`` (process pool of 2
workers, worker start-up included). Reports wall time, cases per minute and the ratio
(2 workers / 1 worker), with the 1-minute load average before each run: the ideal ratio is 2 on
an otherwise idle machine with >= 2 cores; other work on the cores lowers it.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))
sys.path.insert(0, str(REPO / "LesionAggregate"))

from LesionAggregateLib.batch import run_batch  # noqa: E402
from ResponseSignatureLib import pipeline  # noqa: E402,F401  (imported before timing, as the CLI does)
from ResponseSignatureLib.sample_data import make_sample_case  # noqa: E402


def make_cohort(root: Path, n_cases: int) -> Path:
    """N synthetic cases and their manifest; returns the manifest path."""
    rows = []
    for index in range(n_cases):
        case_id = f"case{index:03d}"
        make_sample_case(root / case_id, seed=index, patient_id=case_id)
        rows.append([case_id, "baseline", f"{case_id}/baseline.nrrd", f"{case_id}/baseline.seg.nrrd",
                     f"{case_id}/locations.csv"])
        rows.append([case_id, "followup", f"{case_id}/followup.nrrd", f"{case_id}/followup.seg.nrrd", ""])
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_id", "timepoint", "image", "segmentation", "locations"])
        writer.writerows(rows)
    return manifest


def timed_run(manifest: Path, out: Path, jobs: int, params: str) -> float:
    """Wall time of one full batch run into an empty folder (fails loudly if a case failed)."""
    start = time.perf_counter()
    summary = run_batch(manifest, out, jobs=jobs, params=params)
    seconds = time.perf_counter() - start
    if summary["failed"]:
        raise SystemExit(f"{summary['failed']} cases failed; see {summary['errors_csv']}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=12, help="number of synthetic cases (default 12)")
    parser.add_argument("--params", default="default", help="preset name or pyradiomics YAML (default: 'default')")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as folder:
        root = Path(folder)
        start = time.perf_counter()
        manifest = make_cohort(root / "cases", args.cases)
        print(f"{args.cases} synthetic cases written in {time.perf_counter() - start:.1f} s; settings: {args.params}")
        rates = {}
        for jobs in (1, 2):
            load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
            seconds = timed_run(manifest, root / f"out_jobs{jobs}", jobs, args.params)
            rates[jobs] = args.cases / seconds * 60.0
            print(f"jobs={jobs}: {seconds:7.1f} s  {rates[jobs]:7.1f} cases/min  (load average before: {load})")
        print(f"ratio 2 workers / 1 worker: {rates[2] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()
