"""Benchmark of the web workstation: seconds to server ready, demo shown, first computation done.

    .venv/bin/python Testing/benchmarks/bench_workstation.py [--repeat N]

Starts ``python -m RadiomicsResponseWeb --demo`` on 127.0.0.1 and a free port (as a user would,
in a fresh process), opens the address it prints (with the launch's access token, read from its
output by ``harness.running_workstation``) in Debian's headless chromium through Playwright (no
browser download) and prints, per run:

- server ready: process start until the server answers HTTP (includes building the views and
  segment editor, writing and loading the demo case; the server's own split is printed too);
- demo shown: page opened until the lesion list and every slice view have rendered;
- first computation: Compute clicked until the lesion table is shown (features with the
  signature's extraction settings when a signature model is installed), against the baseline
  of ``pipeline.run_case_files`` on the same files and settings in this process (the ratio is the
  workstation's overhead: reading the scene, progress, later stages, the browser round trip).

A benchmark, not a test: it never fails on a timing. It needs the web extra and chromium.
"""
from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "Web"))
sys.path.insert(0, str(REPO_ROOT / "Testing"))

import workstation_harness as harness  # noqa: E402

SERVER_TIMINGS = re.compile(r"workstation: (.+?) in ([0-9.]+) s")


def one_run(out_dir: Path) -> dict:
    """Times of one fresh start: server ready, demo shown in the browser, first computation."""
    with harness.running_workstation(out_dir, demo=True) as server, harness.chromium_page() as page:
        times = {"server ready": server["ready_s"]}
        start = time.monotonic()
        page.goto(server["url"], timeout=60000)  # the printed address, token included
        harness.wait_for_lesions(page, 4)
        harness.wait_for_views(page)
        times["demo shown in browser"] = time.monotonic() - start
        start = time.monotonic()
        harness.compute_and_wait(page)
        times["first computation"] = time.monotonic() - start
        log = Path(server["log"]).read_text(encoding="utf-8", errors="replace")
    split = {f"  (server: {name})": float(seconds) for name, seconds in SERVER_TIMINGS.findall(log)}
    times["  (headless pipeline, same case)"] = headless_seconds(out_dir)
    return {**times, **split}


def headless_seconds(out_dir: Path) -> float:
    """The baseline: pipeline.run_case_files on the demo files with the settings the browser run used."""
    from ResponseSignatureLib import pipeline
    from ResponseSignatureLib.tableio import read_provenance

    case = out_dir / "demo_case"
    settings = read_provenance(next(out_dir.glob("*_lesions.csv")))["extraction_settings"]
    start = time.monotonic()
    pipeline.run_case_files(case / "baseline.nrrd", case / "baseline.seg.nrrd", case / "followup.nrrd",
                            case / "followup.seg.nrrd", params=settings, locations=case / "locations.csv")
    return time.monotonic() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="fresh starts to time (default 1)")
    args = parser.parse_args(argv)
    reason = harness.missing_requirements()
    if reason:
        print(f"cannot run the workstation benchmark: {reason}")
        return 2
    runs = []
    for index in range(args.repeat):
        with tempfile.TemporaryDirectory(prefix="bench_workstation_") as folder:
            runs.append(one_run(Path(folder)))
    print(f"{'step':<42}" + "".join(f"{'run ' + str(i + 1):>10}" for i in range(len(runs))))
    for name in runs[0]:
        print(f"{name:<42}" + "".join(f"{run.get(name, float('nan')):>9.2f}s" for run in runs))
    total = [run["server ready"] + run["demo shown in browser"] + run["first computation"] for run in runs]
    print(f"{'start + demo + first computation':<42}" + "".join(f"{t:>9.2f}s" for t in total))
    ratios = [run["first computation"] / run["  (headless pipeline, same case)"] for run in runs]
    print(f"{'first computation / headless pipeline':<42}" + "".join(f"{r:>9.2f}x" for r in ratios))
    return 0


if __name__ == "__main__":
    sys.exit(main())
