"""Benchmark: crop-first FeatureExtractor vs plain pyradiomics, same process, same lesions.

Not a test: prints per-lesion wall times and the speed-up, never fails on a timing.
Run: ``.venv/bin/python Testing/benchmarks/bench_extraction.py [--repeat N]``

Plain pyradiomics is called the usual way (as SlicerRadiomics does): whole image + whole mask,
default ``additionalInfo`` (diagnostics on). Lesions: lung1 from ../shared/data/pyradiomics (when
present) and a synthetic 512 x 512 x 100 int16 CT built in memory with three textured spherical
lesions of 12, 30 and 60 mm diameter. Settings: the 'default' and 'dercle2020' presets.
The largest relative difference over all features, and that feature, is printed as a sanity check
(for LoG images it is the crop margin's effect, see Testing/benchmarks/README.md).
"""
from __future__ import annotations

import argparse
import copy
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "ResponseSignature"))

from ResponseSignatureLib.extraction import FeatureExtractor, load_params  # noqa: E402

SHARED = REPO.parent / "shared" / "data" / "pyradiomics"
CT_SPACING = (0.78, 0.78, 2.5)
LESION_DIAMETERS_MM = (12.0, 30.0, 60.0)


def synthetic_ct(seed: int = 0):
    """512 x 512 x 100 int16 CT (body ellipse, noise) and one mask per textured spherical lesion."""
    centres_mm = [(130.0, 200.0, 60.0), (250.0, 160.0, 125.0), (200.0, 280.0, 170.0)]  # x, y, z
    image, masks = synthetic_scan(seed, LESION_DIAMETERS_MM, centres_mm)
    return image, [(f"synthetic {d:.0f} mm", mask) for d, mask in zip(LESION_DIAMETERS_MM, masks)]


def synthetic_scan(seed: int, diameters_mm, centres_mm, scale: float = 1.0, shape=(100, 512, 512)):
    """(int16 CT of ``shape`` (z, y, x; default 512 x 512 x 100): body ellipse + noise, a mask per
    lesion of diameter ``scale * d`` painted at each centre (x, y, z mm)), the lesions drawn in order
    from one seeded generator."""
    rng = np.random.default_rng(seed)
    y, x = np.ogrid[:shape[1], :shape[2]]
    body = ((x - 256) / 220.0) ** 2 + ((y - 256) / 170.0) ** 2 < 1
    ct = np.where(body, 40, -1000).astype(np.int16)[None].repeat(shape[0], axis=0)
    ct += rng.normal(0, 15, shape).astype(np.int16)
    arrays = [add_lesion(ct, scale * d / 2, c, rng) for d, c in zip(diameters_mm, centres_mm)]
    image = sitk.GetImageFromArray(ct)
    image.SetSpacing(CT_SPACING)
    masks = []
    for mask_arr in arrays:
        mask = sitk.GetImageFromArray(mask_arr)
        mask.CopyInformation(image)
        masks.append(mask)
    return image, masks


def add_lesion(ct: np.ndarray, radius: float, centre_mm, rng) -> np.ndarray:
    """Paint a textured sphere into ``ct`` (in place) and return its 0/1 mask."""
    spacing = np.array(CT_SPACING)[::-1]  # z, y, x
    centre = np.array(centre_mm)[::-1] / spacing
    half = np.ceil(radius / spacing).astype(int) + 2
    lo, hi = (centre - half).astype(int), (centre + half).astype(int) + 1
    box = tuple(slice(a, b) for a, b in zip(lo, hi))
    grid = np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi)], indexing="ij")
    dist = np.sqrt(sum(((g - c) * s) ** 2 for g, c, s in zip(grid, centre, spacing)))
    inside = dist < radius
    noise = sitk.GetImageFromArray(rng.normal(0, 1, inside.shape))
    noise.SetSpacing(CT_SPACING)
    texture = sitk.GetArrayFromImage(sitk.SmoothingRecursiveGaussian(noise, 2.0))
    patch = ct[box]
    patch[inside] = (90 + 30 * texture / texture.std())[inside].astype(np.int16)
    mask = np.zeros(ct.shape, np.uint8)
    mask[box][inside] = 1
    return mask


def lung1():
    """lung1 image and tumour mask from shared data, or None if absent."""
    if not SHARED.is_dir():
        print(f"(lung1 skipped: {SHARED} not found)")
        return None
    image = sitk.ReadImage(str(SHARED / "lung1_image.nrrd"))
    mask = sitk.Cast(sitk.ReadImage(str(SHARED / "lung1_label.nrrd")) == 1, sitk.sitkUInt8)
    return image, [("lung1 tumour", mask)]


def best_time(func, repeat: int):
    """(minimum wall time over ``repeat`` runs, result of the last run)."""
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return min(times), result


def bench_case(preset: str, image, lesions, repeat: int) -> list[tuple]:
    """Time ours and plain pyradiomics on each lesion of one image."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    params = load_params(preset)
    ours_extractor = FeatureExtractor(params)
    plain_extractor = RadiomicsFeatureExtractor(copy.deepcopy(params))
    rows = []
    for name, mask in lesions:
        t_ours, ours = best_time(lambda: ours_extractor.extract(image, mask, name), repeat)
        t_plain, plain = best_time(lambda: plain_extractor.execute(image, mask), repeat)
        plain = {k: float(v) for k, v in plain.items() if not k.startswith("diagnostics_")}
        worst, feature = max((abs(ours[k] - v) / abs(v) if v else abs(ours[k]), k) for k, v in plain.items())
        rows.append((preset, name, int(sitk.GetArrayViewFromImage(mask).sum()), len(ours),
                     t_ours, t_plain, worst))
        print(f"{preset:<11} {name:<18} {rows[-1][2]:>8} {len(ours):>5} {t_ours:>9.3f} "
              f"{t_plain:>9.3f} {t_plain / t_ours:>8.1f}x {worst:>10.2g}  {feature}", flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="runs per measurement (min is kept)")
    args = parser.parse_args(argv)
    import radiomics

    print(f"pyradiomics {radiomics.__version__}, SimpleITK {sitk.Version_VersionString()}, "
          f"numpy {np.__version__}, min of {args.repeat} run(s)")
    start = time.perf_counter()
    cases = [case for case in (lung1(), synthetic_ct()) if case is not None]
    print(f"data ready in {time.perf_counter() - start:.1f} s\n")
    print(f"{'setting':<11} {'lesion':<18} {'voxels':>8} {'feats':>5} {'ours (s)':>9} "
          f"{'plain (s)':>9} {'speed-up':>9} {'max rel':>10}  feature")
    rows = []
    for preset in ("default", "dercle2020"):
        for image, lesions in cases:
            rows += bench_case(preset, image, lesions, args.repeat)
    for preset in ("default", "dercle2020"):
        ours = sum(r[4] for r in rows if r[0] == preset)
        plain = sum(r[5] for r in rows if r[0] == preset)
        print(f"total {preset:<11}: ours {ours:.2f} s, plain pyradiomics {plain:.2f} s, "
              f"speed-up {plain / ours:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
