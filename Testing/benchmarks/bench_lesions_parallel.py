"""Benchmark: one patient's lesions on the whole scan vs on private crops with 1 and 2 workers.

Not a test: prints times and ratios, never fails on a timing (it does fail if the results differ).
Run: ``.venv/bin/python Testing/benchmarks/bench_lesions_parallel.py [--repeat N] [--params P1,P2]``

Builds one synthetic patient in memory: a 512 x 512 x 100 int16 CT (0.78 x 0.78 x 2.5 mm) per time
point with 6 textured spherical lesions of 10, 15, 20, 30, 45 and 60 mm (follow-up: the same
lesions at 0.8 x the radius, new noise), i.e. 12 lesion jobs. For each preset it times, in this
process and interleaved:

- ``whole scan``: every lesion measured and extracted on the whole scan, one after the other
  (``measure_lesion`` + ``FeatureExtractor.extract``: what the pipeline did before it cut crops);
- ``workers=1`` and ``workers=2``: ``pipeline.compute_lesion_table`` (each lesion on its own crop,
  1 or 2 worker threads), which separates the gain from the crops from the gain from a second thread;

and prints the best of ``--repeat`` runs (default 3), the ratios and the 1-minute load average.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))

from ResponseSignatureLib import imageio, measure, pipeline  # noqa: E402
from ResponseSignatureLib.extraction import FeatureExtractor, load_params  # noqa: E402
from bench_extraction import synthetic_scan  # noqa: E402  (same synthetic CT and lesions)

DIAMETERS_MM = (10.0, 15.0, 20.0, 30.0, 45.0, 60.0)
CENTRES_MM = [(120.0, 200.0, 50.0), (300.0, 150.0, 80.0), (200.0, 320.0, 110.0),
              (140.0, 280.0, 170.0), (290.0, 260.0, 140.0), (220.0, 170.0, 190.0)]  # x, y, z


def timepoint(seed: int, scale: float):
    """(CT image, 6 lesion segments) of one time point; lesion radii scaled by ``scale``."""
    image, masks = synthetic_scan(seed, DIAMETERS_MM, CENTRES_MM, scale)
    return image, [imageio.Segment(f"lesion_{d:.0f}mm", mask) for d, mask in zip(DIAMETERS_MM, masks)]


def run_whole_scan(timepoints, params):
    """Each lesion measured and extracted on the whole scan, one after the other (the pre-crop way)."""
    extractor = FeatureExtractor(load_params(params))
    out = {}
    for name, (image, segments) in timepoints.items():
        for segment in segments:
            out[(name, segment.name)] = (measure.measure_lesion(image, segment.mask, segment.name),
                                         extractor.extract(image, segment.mask, lesion_id=segment.name))
    return out


def run_workers(workers: int):
    def run(timepoints, params):
        return pipeline.compute_lesion_table(timepoints, params=params, workers=workers)
    return run


VARIANTS = (("whole scan", run_whole_scan), ("workers=1", run_workers(1)), ("workers=2", run_workers(2)))


def bench(timepoints, params: str, repeat: int) -> dict:
    """Best wall time per variant over ``repeat`` interleaved rounds; checks 1 vs 2 workers agree."""
    best = {name: float("inf") for name, _ in VARIANTS}
    results = {}
    for _ in range(repeat):
        for name, run in VARIANTS:
            start = time.perf_counter()
            results[name] = run(timepoints, params)
            best[name] = min(best[name], time.perf_counter() - start)
    pd.testing.assert_frame_equal(results["workers=1"].table, results["workers=2"].table, check_exact=True)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--params", default="default,dercle2020", help="comma-separated presets")
    args = parser.parse_args()
    started = time.perf_counter()
    timepoints = {"baseline": timepoint(0, 1.0), "followup": timepoint(1, 0.8)}
    print(f"synthetic patient built in {time.perf_counter() - started:.1f} s: 512 x 512 x 100, "
          f"{len(DIAMETERS_MM)} lesions x 2 time points; load average {os.getloadavg()[0]:.2f}")
    print(f"{'preset':<12}{'whole scan':>11}{'workers=1':>11}{'speed-up':>9}{'workers=2':>11}{'speed-up':>9}"
          f"{'2 vs 1':>8}{'load1':>7}")
    for params in args.params.split(","):
        best = bench(timepoints, params, args.repeat)
        whole, one, two = best["whole scan"], best["workers=1"], best["workers=2"]
        print(f"{params:<12}{whole:>10.2f}s{one:>10.2f}s{whole / one:>8.2f}x{two:>10.2f}s{whole / two:>8.2f}x"
              f"{one / two:>7.2f}x{os.getloadavg()[0]:>7.2f}")


if __name__ == "__main__":
    main()
