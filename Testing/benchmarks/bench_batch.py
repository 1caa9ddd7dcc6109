"""Benchmark: cohort batch throughput with 1 and 2 workers (cases per minute, their ratio, memory per case).

Not a test: prints numbers, never fails on a timing.
Run: ``.venv/bin/python Testing/benchmarks/bench_batch.py [--cases N] [--params PRESET_OR_YAML] [--repeat R]
[--case-size sample|ct]``

Writes N synthetic cases into a temporary folder: ``sample`` (default) the built-in sample case
(``ResponseSignatureLib.sample_data.make_sample_case``, 5 lesions each, 160 x 160 x 60 voxels per
time point, 0.15-0.9 s per case); ``ct`` the patient of bench_patient.py (512 x 512 x 120 CT,
lesions of 12-100 mm; each case its own noise and texture; ~130 MB on disk per case), a case of the
size a real cohort has. Then it runs
``radiomics-response batch`` (``python -m LesionAggregateLib batch``, the command a user runs) on
the same manifest with ``--jobs 1`` and ``--jobs 2``, each time as a new process into an empty
output folder, so both pay the same interpreter start and imports. ``--repeat R`` alternates the
two R times and keeps the best of each (this machine's speed drifts with the other jobs on it).

What each setting uses (printed with the results):

- ``--jobs 1``: one process; each case measures its lesions in the pipeline's lesion threads
  (``pipeline.default_workers()``) and SimpleITK uses its default number of threads, so it already
  uses a second core now and then;
- ``--jobs 1, one CPU``: the same command restricted to one CPU (``sched_setaffinity``, as
  ``taskset -c 0``): then one lesion thread, and what one worker does on one core;
- ``--jobs 2``: two worker processes started once (forked from a fork server that imported the
  pipeline while the command read the manifest) and reused for every case, each with one lesion
  thread and one SimpleITK thread; the command itself waits and writes the cohort tables.

Reports wall time, cases per minute, the ratios of ``--jobs 2`` to both ``--jobs 1`` rows (2 is
ideal on an idle machine with >= 2 cores against the one-CPU row), the 1-minute load average before each run, the peak resident memory of
the largest process of the run (``wait4``), the per-case time and peak memory that every case
records in its ``case.json`` (``peak_rss_mb``: the process that computed the case, while it ran),
and where the wall time went (start-up until the first case starts, the cases, the cohort tables
and exit after the last case), from the start and end times in the ``case.json`` files.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))
sys.path.insert(0, str(REPO / "LesionAggregate"))

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_patient import build_patient_in_child  # noqa: E402
from ResponseSignatureLib.sample_data import make_sample_case  # noqa: E402


def make_cohort(root: Path, n_cases: int, case_size: str = "sample") -> Path:
    """N synthetic cases (``case_size``: 'sample' or 'ct', see the module docstring) and their
    manifest; returns the manifest path."""
    rows = []
    for index in range(n_cases):
        case_id = f"case{index:03d}"
        if case_size == "ct":
            (root / case_id).mkdir(parents=True)
            build_patient_in_child(root / case_id, seed=2 * index)
            locations = ""
        else:
            make_sample_case(root / case_id, seed=index, patient_id=case_id)
            locations = f"{case_id}/locations.csv"
        rows.append([case_id, "baseline", f"{case_id}/baseline.nrrd", f"{case_id}/baseline.seg.nrrd", locations])
        rows.append([case_id, "followup", f"{case_id}/followup.nrrd", f"{case_id}/followup.seg.nrrd", ""])
    manifest = root / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_id", "timepoint", "image", "segmentation", "locations"])
        writer.writerows(rows)
    return manifest


def timed_run(manifest: Path, out: Path, jobs: int, params: str, one_cpu: bool = False) -> tuple[float, float, float]:
    """(wall seconds, peak MB of the run's largest process, start time since the epoch) of one
    ``batch`` command into an empty folder (``one_cpu``: the command may run on the first allowed CPU only)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "ResponseSignature"), str(REPO / "LesionAggregate"),
                                                        os.environ.get("PYTHONPATH", "")])}
    command = [sys.executable, "-m", "LesionAggregateLib", "batch", str(manifest), "--out", str(out),
               "--jobs", str(jobs), "--params", params, "--no-progress"]
    start, started = time.perf_counter(), time.time()
    first_cpu = {min(os.sched_getaffinity(0))} if one_cpu else None
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env,
                               preexec_fn=(lambda: os.sched_setaffinity(0, first_cpu)) if one_cpu else None)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"batch --jobs {jobs} failed: {process.stderr.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024.0, started


def case_records(out: Path) -> list[dict]:
    return [json.loads(path.read_text(encoding="utf-8")) for path in sorted(out.glob("cases/*/case.json"))]


def phases(records: list[dict], started: float, seconds: float) -> str:
    """Where the wall time went: command start -> first case started (interpreter, imports, manifest,
    workers), first case started -> last case finished, last case finished -> command end (cohort
    tables, exit); from the UTC times each case.json records."""
    def stamp(text: str) -> float:
        return datetime.fromisoformat(text).timestamp()

    first = min(stamp(r["started_utc"]) for r in records) - started
    last = max(stamp(r["finished_utc"]) for r in records) - started
    return f"start-up {first:.2f} s, cases {last - first:.2f} s, tables + exit {seconds - last:.2f} s"


def spread(values: list[float], unit: str) -> str:
    """'min / median / max unit' of a list of numbers."""
    return f"{min(values):.2f} / {statistics.median(values):.2f} / {max(values):.2f} {unit}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=24, help="number of synthetic cases (default 24)")
    parser.add_argument("--params", default="default", help="preset name or pyradiomics YAML (default: 'default')")
    parser.add_argument("--repeat", type=int, default=1, help="alternating runs of each setting, best kept (default 1)")
    parser.add_argument("--case-size", choices=["sample", "ct"], default="sample",
                        help="sample: the built-in sample case (default); ct: a 512 x 512 x 120 CT with 5 lesions")
    args = parser.parse_args()
    from ResponseSignatureLib.pipeline import default_workers

    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    settings = {  # name: (jobs, one CPU, what it uses)
        "jobs=1": (1, False, f"1 process, {default_workers()} lesion threads, SimpleITK default threads"),
        "jobs=1, one CPU": (1, True, "1 process on 1 CPU: 1 lesion thread"),
        "jobs=2": (2, False, f"2 worker processes (fork server, pipeline preloaded), 1 lesion thread + "
                             f"{max(1, cpus // 2)} SimpleITK thread each"),
    }
    if not hasattr(os, "sched_setaffinity"):
        del settings["jobs=1, one CPU"]
    with tempfile.TemporaryDirectory(prefix="bench_batch_") as folder:
        root = Path(folder)
        start = time.perf_counter()
        manifest = make_cohort(root / "cases", args.cases, args.case_size)
        print(f"{args.cases} synthetic {args.case_size} cases written in {time.perf_counter() - start:.1f} s; "
              f"settings: {args.params}; {cpus} CPUs")
        best: dict[str, tuple[float, float, list[dict], str, str]] = {}
        for run in range(args.repeat):
            for name, (jobs, one_cpu, _) in settings.items():
                load = f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"
                out = root / f"out_{len(best)}_{run}_{jobs}{'_1cpu' if one_cpu else ''}"
                seconds, peak, started = timed_run(manifest, out, jobs, args.params, one_cpu)
                records = case_records(out)
                where = phases(records, started, seconds)
                print(f"  run {run + 1} {name}: {seconds:6.2f} s (load average before: {load}; {where})", flush=True)
                if name not in best or seconds < best[name][0]:
                    best[name] = (seconds, peak, records, load, where)
        for name, (seconds, peak, records, load, where) in best.items():
            print(f"{name:<16} {seconds:6.2f} s {args.cases / seconds * 60.0:7.1f} cases/min  load {load}  "
                  f"largest process {peak:.0f} MB  [{settings[name][2]}]")
            print(f"{'':<16} {where}")
            peaks = [r["peak_rss_mb"] for r in records if r.get("peak_rss_mb") is not None]
            print(f"{'':<16} per case {spread([r['seconds'] for r in records], 's')}, peak memory "
                  f"{spread(peaks, 'MB') if peaks else 'not recorded'} (min / median / max)")
        for name in best:
            if name != "jobs=2":
                print(f"ratio jobs=2 / {name}: {best[name][0] / best['jobs=2'][0]:.2f}x")


if __name__ == "__main__":
    main()
