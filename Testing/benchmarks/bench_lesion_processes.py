"""Benchmark: one patient's lesions in worker threads vs worker processes (is a process pool worth it?).

Not a test: prints times, never fails on a timing (it does stop if a variant's values differ).
Run: ``.venv/bin/python Testing/benchmarks/bench_lesion_processes.py [--repeat N] [--params full|PRESET]``

The patient of bench_patient.py (512 x 512 x 120 CT, lesions of 12-100 mm, baseline + follow-up)
is written to a temporary folder and read as ``radiomics-response extract`` reads it; then the
10 lesion jobs run, in one process, in turn (best of ``--repeat``):

- ``threads 1`` / ``threads 2``: ``pipeline._measure_all`` with 1 or 2 lesion threads (what the
  pipeline does; the engine runs a lesion's filters in its own threads besides);
- ``processes 2``: the same private crops, cut in this process, sent as numpy arrays + geometry
  to 2 worker processes (fork server with the pipeline preloaded, started before the patient is
  read, one SimpleITK thread each), largest lesion first; the time includes waiting for the
  workers to be ready.

Every variant's measures and features must equal the serial run's, bit for bit.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def _image(values, geometry):
    import SimpleITK as sitk

    image = sitk.GetImageFromArray(values)
    image.SetSpacing(geometry[0])
    image.SetDirection(geometry[1])
    image.SetOrigin(geometry[2])
    return image


def _geometry(image) -> tuple:
    return image.GetSpacing(), image.GetDirection(), image.GetOrigin()


def _one_itk_thread() -> None:
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(1)


def measure_crop(job: tuple):
    """Worker process: _measure_segment on a crop sent as arrays + geometry."""
    from ResponseSignatureLib import imageio, pipeline
    from ResponseSignatureLib.extraction import FeatureExtractor

    image, mask, geometry, name, timepoint, settings, offset, frame = job
    extractor = FeatureExtractor(settings)
    return pipeline._measure_segment(_image(image, geometry), imageio.Segment(name, _image(mask, geometry)), extractor,
                                     timepoint, offset=offset, frame=_image(np.zeros((1, 1, 1), np.uint8), frame))


def crop_jobs(timepoints, extractor, settings) -> list:
    """(job, (time point, segment)) per lesion, cut as the pipeline cuts them, largest first."""
    import SimpleITK as sitk

    from ResponseSignatureLib import pipeline

    jobs = []
    for timepoint, (image, segments) in timepoints.items():
        for segment in segments:
            lesion = pipeline._cut_lesion(image, segment, pipeline._lesion_region(image, segment, extractor))
            jobs.append(((sitk.GetArrayFromImage(lesion.image), sitk.GetArrayFromImage(lesion.segment.mask),
                          _geometry(lesion.image), segment.name, timepoint, settings, lesion.offset,
                          _geometry(lesion.frame)), (timepoint, segment.name)))
    return sorted(jobs, key=lambda item: -item[0][1].size)


def same_values(expected: dict, got: dict) -> bool:
    return all(got[key] == value or (value != value and got[key] != got[key]) for key, value in expected.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--params", default="full", help="'full' (Original + LoG 1-5 + Wavelet) or a preset name")
    args = parser.parse_args()
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ResponseSignatureLib.pipeline"])
    pool = ProcessPoolExecutor(2, mp_context=context, initializer=_one_itk_thread)
    pool.submit(int, 0)                                   # the fork server imports while we read
    from bench_patient import FULL_PARAMS, build_patient

    from ResponseSignatureLib import pipeline
    from ResponseSignatureLib.extraction import FeatureExtractor, load_params

    with tempfile.TemporaryDirectory() as folder:
        files = build_patient(Path(folder))
        (Path(folder) / "full.yaml").write_text(FULL_PARAMS)
        settings = load_params(str(Path(folder) / "full.yaml") if args.params == "full" else args.params)
        timepoints = pipeline.read_timepoints(*files["baseline"], *files["followup"], cropped=True)
    extractor = FeatureExtractor(settings)
    serial, _, _ = pipeline._measure_all(timepoints, extractor, None, None, 1)
    best: dict[str, tuple[float, float, float]] = {}
    for _ in range(args.repeat):
        for variant in ("threads 1", "threads 2", "processes 2"):
            load = os.getloadavg()[0]
            start, cpu = time.perf_counter(), time.process_time()
            if variant == "processes 2":
                jobs = crop_jobs(timepoints, extractor, settings)
                outcomes = [future.result() for future in [pool.submit(measure_crop, job) for job, _ in jobs]]
                values = {key: {**{k: v for k, v in (m or {}).items() if k in serial[key[0]][key[1]]}, **f}
                          for (_, key), (m, f, _) in zip(jobs, outcomes)}
            else:
                found, _, _ = pipeline._measure_all(timepoints, extractor, None, None, int(variant[-1]))
                values = {(t, s): v for t, per in found.items() for s, v in per.items()}
            seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
            if not all(same_values(serial[t][s], values[(t, s)]) for t, per in serial.items() for s in per):
                raise SystemExit(f"{variant}: values differ from the serial run")
            if variant not in best or seconds < best[variant][0]:
                best[variant] = (seconds, cpu, load)
    pool.shutdown()
    print(f"{args.params}: 10 lesion jobs, best of {args.repeat}; {os.cpu_count()} CPUs")
    for variant, (seconds, cpu, load) in best.items():
        print(f"{variant:<12} {seconds:6.2f} s  (this process' CPU {cpu:5.2f} s, load average {load:.1f})  "
              f"vs threads 1: {best['threads 1'][0] / seconds:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
