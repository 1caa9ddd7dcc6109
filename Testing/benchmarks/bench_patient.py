"""Benchmark: one 5-lesion patient, baseline + follow-up, end to end through the CLI code path.

Not a test: prints wall times, peak memory and ratios measured in one run; never fails on a timing.
Run: ``.venv/bin/python Testing/benchmarks/bench_patient.py [--repeat N] [--skip-usual-full]``

The patient (built once, written to a temporary folder as the user would have it on disk): a
512 x 512 x 120 int16 CT (0.78 x 0.78 x 2.5 mm) per time point with five textured spherical lesions
of 12, 25, 40, 60 and 100 mm (follow-up: 0.8 x the diameter, new noise), as NRRD image + .seg.nrrd.

Each variant runs in its own process (so peak memory is that variant's own, read with ``wait4``):

- ``ours``: ``radiomics-response extract`` (reading, measuring, features, matching, RECIST, writing
  the lesion table) with ``--jobs`` 1 and 2;
- ``ours in a session``: the same call (``pipeline.run_case_files``, reading to lesion table) timed
  inside a process that has already imported the code and computed one patient, as in a running
  Slicer or workstation session where the radiologist waits only for this part;
- ``pyradiomics usual``: pyradiomics' ``RadiomicsFeatureExtractor.execute(image, mask)`` on the whole
  scan for every lesion and time point (as SlicerRadiomics calls it), reading the same files;
- ``pyradiomics crop``: the same on each lesion's crop (the voxels our extractor reads:
  ``FeatureExtractor.input_margin``), i.e. the engine against pyradiomics on equal input.

Settings: ``full`` (Original + LoG sigma 1-5 mm + Wavelet, all classes: 1 316 features per lesion)
and the ``dercle2020_signature`` preset (the Dercle signature's inputs; pyradiomics has no 'zhao'
class, so for that preset only our timings are printed).
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

SHAPE = (120, 512, 512)  # k, j, i
DIAMETERS_MM = (12.0, 25.0, 40.0, 60.0, 100.0)
CENTRES_MM = [(120.0, 200.0, 60.0), (300.0, 150.0, 90.0), (200.0, 320.0, 150.0),
              (140.0, 260.0, 220.0), (270.0, 240.0, 160.0)]  # x, y, z
FULL_PARAMS = """\
setting: {binWidth: 25, label: 1}
imageType:
  Original: {}
  LoG: {sigma: [1.0, 2.0, 3.0, 4.0, 5.0]}
  Wavelet: {}
"""


def build_patient_in_child(folder: Path, seed: int = 0) -> dict:
    """build_patient in a child process, so that this process stays small.

    A child's peak memory as ``wait4`` reports it includes this process' resident memory at the
    fork (before the child execs): building the two scans here would hide every child peak below
    ~730 MB behind this process' own.
    """
    subprocess.run([sys.executable, __file__, "--child-build", str(folder), "--seed", str(seed)], check=True)
    return {timepoint: (folder / f"{timepoint}.nrrd", folder / f"{timepoint}.seg.nrrd")
            for timepoint in ("baseline", "followup")}


def build_patient(folder: Path, seed: int = 0) -> dict:
    """Write baseline and follow-up (NRRD CT + .seg.nrrd with five named lesions) into ``folder``;
    ``seed`` and ``seed + 1`` draw their noise and texture (the benchmark patient: 0)."""
    from bench_extraction import synthetic_scan

    from ResponseSignatureLib import imageio

    files = {}
    for timepoint, seed, scale in (("baseline", seed, 1.0), ("followup", seed + 1, 0.8)):
        image, masks = synthetic_scan(seed, DIAMETERS_MM, CENTRES_MM, scale, shape=SHAPE)
        segments = [imageio.Segment(f"liver_{d:.0f}mm", mask) for d, mask in zip(DIAMETERS_MM, masks)]
        image_path, seg_path = folder / f"{timepoint}.nrrd", folder / f"{timepoint}.seg.nrrd"
        import SimpleITK as sitk

        sitk.WriteImage(image, str(image_path), True)
        imageio.write_segments(segments, image, seg_path)
        files[timepoint] = (image_path, seg_path)
    (folder / "full.yaml").write_text(FULL_PARAMS)
    return files


def run_child(command: list) -> tuple[float, float, str]:
    """(wall seconds, peak resident MB, what it printed) of one child process; raises if it fails.

    Its output goes to files, not pipes, so a chatty child cannot block on a full pipe before
    ``wait4`` (which must reap it to get its peak memory).
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - start
        if os.waitstatus_to_exitcode(status) != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(map(str, command))} failed: {err.read().decode()[-2000:]}")
        out.seek(0)
        return wall, usage.ru_maxrss / 1024.0, out.read().decode()


def run_measured(command: list) -> tuple[float, float]:
    """(wall seconds, peak resident MB) of one child process."""
    wall, peak, _ = run_child(command)
    return wall, peak


def ours_command(files: dict, params: str, jobs: int, out: Path) -> list:
    """The CLI code path: ``radiomics-response extract`` as a user runs it."""
    (base, base_seg), (fu, fu_seg) = files["baseline"], files["followup"]
    return [sys.executable, "-c", "from NomogramScoreLib.cli import console_main; console_main()",
            "extract", "--baseline", str(base), "--baseline-seg", str(base_seg), "--followup", str(fu),
            "--followup-seg", str(fu_seg), "--params", params, "--jobs", str(jobs), "--patient-id", "P1",
            "--out", str(out)]


def pyradiomics_command(files: dict, params: str, mode: str) -> list:
    """This file, re-run as a child that calls pyradiomics on every lesion (``mode``: usual|crop)."""
    (base, base_seg), (fu, fu_seg) = files["baseline"], files["followup"]
    return [sys.executable, __file__, "--child-pyradiomics", mode, "--params", params,
            str(base), str(base_seg), str(fu), str(fu_seg)]


def child_pyradiomics(mode: str, params: str, paths: list) -> int:
    """Child process: pyradiomics on each lesion of both time points, whole scan or crop."""
    import SimpleITK as sitk
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    from ResponseSignatureLib import imageio
    from ResponseSignatureLib.extraction import FeatureExtractor, _quiet_pyradiomics, load_params
    from ResponseSignatureLib.engine.preprocess import roi_bbox

    _quiet_pyradiomics()
    settings = load_params(params)
    ours = FeatureExtractor(settings)
    for image_path, seg_path in zip(paths[0::2], paths[1::2]):
        image = imageio.read_image(image_path)
        for segment in imageio.read_segments(seg_path, image):
            mask = segment.mask
            if mode == "crop":
                lower, upper = roi_bbox(sitk.GetArrayViewFromImage(mask), segment.name)
                margin = ours.input_margin(image.GetSpacing())
                margin = np.zeros(3, int) if margin is None else np.asarray(margin, int)
                lo = np.maximum(np.asarray(lower)[::-1] - margin, 0)
                hi = np.minimum(np.asarray(upper)[::-1] + margin + 1, image.GetSize())
                image_used, mask = image[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]], mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]
            else:
                image_used = image
            RadiomicsFeatureExtractor(dict(settings)).execute(image_used, mask)
    return 0


def session_command(files: dict, params: str, jobs: int) -> list:
    """This file, re-run as a child that times run_case_files after a warm-up patient."""
    (base, base_seg), (fu, fu_seg) = files["baseline"], files["followup"]
    return [sys.executable, __file__, "--child-session", str(jobs), "--params", params,
            str(base), str(base_seg), str(fu), str(fu_seg)]


def child_session(jobs: int, params: str, paths: list) -> int:
    """Child process: one patient to warm up (imports, lazy imports), then prints the second's wall time."""
    sys.path.insert(0, str(REPO / "LesionAggregate"))
    from ResponseSignatureLib.pipeline import run_case_files

    run_case_files(*paths, patient_id="P1", params=params, workers=jobs)
    started = time.perf_counter()
    run_case_files(*paths, patient_id="P1", params=params, workers=jobs)
    print(f"{time.perf_counter() - started:.6f}")
    return 0


def run_session(command: list) -> tuple[float, float]:
    """(seconds of the timed patient, as the child printed them; peak resident MB of the child)."""
    _, peak, printed = run_child(command)
    return float(printed.strip().splitlines()[-1]), peak


def compile_packages() -> None:
    """Byte-compile the project's packages, as ``pip install`` does for a regular install.

    With PYTHONDONTWRITEBYTECODE set (as on some shared machines) an editable install never caches
    its bytecode, and every child would spend ~0.1 s compiling the project's modules: time a user
    with an installed package never pays.
    """
    import compileall
    import importlib.util

    for package in ("ResponseSignatureLib", "LesionAggregateLib", "NomogramScoreLib"):
        for folder in importlib.util.find_spec(package).submodule_search_locations:
            compileall.compile_dir(folder, quiet=1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs of each of our variants (best kept)")
    parser.add_argument("--skip-usual-full", action="store_true",
                        help="skip whole-scan pyradiomics for the full setting (about 5 minutes on 2 cores)")
    parser.add_argument("--child-pyradiomics", choices=["usual", "crop"], help=argparse.SUPPRESS)
    parser.add_argument("--child-session", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--child-build", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--params", help=argparse.SUPPRESS)
    parser.add_argument("paths", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_pyradiomics:
        return child_pyradiomics(args.child_pyradiomics, args.params, args.paths)
    if args.child_build:
        build_patient(Path(args.child_build), args.seed)
        return 0
    if args.child_session:
        return child_session(args.child_session, args.params, args.paths)

    import platform

    compile_packages()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        files = build_patient_in_child(folder)
        print(f"patient written in {time.perf_counter() - started:.1f} s: 512 x 512 x 120 CT, lesions "
              f"{', '.join(f'{d:.0f}' for d in DIAMETERS_MM)} mm x 2 time points; {os.cpu_count()} CPUs, "
              f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
        print(f"{'setting':<22}{'variant':<22}{'wall (s)':>10}{'peak MB':>10}{'vs ours jobs=2':>16}")
        settings = (("full", str(folder / "full.yaml")), ("dercle2020_signature", "dercle2020_signature"))
        for name, params in settings:
            results = {}
            for jobs in (1, 2):
                runs = [run_measured(ours_command(files, params, jobs, folder / "lesions.csv"))
                        for _ in range(args.repeat)]
                results[f"ours jobs={jobs}"] = min(runs)
            results["ours in a session jobs=2"] = min(run_session(session_command(files, params, 2))
                                                      for _ in range(args.repeat))
            if name == "full":
                results["pyradiomics crop"] = run_measured(pyradiomics_command(files, params, "crop"))
                if not args.skip_usual_full:
                    results["pyradiomics usual"] = run_measured(pyradiomics_command(files, params, "usual"))
            reference = results["ours jobs=2"][0]
            for variant, (wall, peak) in results.items():
                print(f"{name:<22}{variant:<22}{wall:>10.2f}{peak:>10.0f}{wall / reference:>15.1f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
