"""Benchmark: built-in engine vs pyradiomics, per lesion (prints times and ratios, never asserts).

Builds a synthetic 512 x 512 x 100 CT (0.78 x 0.78 x 2.5 mm, int16) in memory with three textured,
lobulated lesions of 12, 35 and 60 mm, then for each lesion and each setting
- "original": Original image, all 7 classes, binWidth 25 (107 features),
- "full": Original + LoG sigma 1..5 mm + Wavelet (coif1, 8 sub-bands), all classes (1316 features),
times, per lesion (best of ``--repeat``):
- builtin_crop: the engine on the crop it works on (ROI box + filter margin), cut by the caller;
- pyrad_crop: pyradiomics (additionalInfo False) on exactly the same crop, timed in turn with
  builtin_crop (best of each), so that a drift of the machine's speed touches both;
- builtin_scan: the engine given the whole scan and mask (finding the box and cropping included);
- pyrad_usual: pyradiomics called the usual way: whole image + whole mask, default settings
  (additionalInfo on), same imageType/binWidth. It filters the whole 512 x 512 x 100 scan, so it is
  slow: by default it runs for every lesion of "original" but, for "full", only for the lesions of
  ``--usual-full`` (default 12mm and 60mm), once each (``--usual-repeat``); '-' elsewhere.
and the speed-ups pyrad_crop / builtin_crop and pyrad_usual / builtin_scan. The 1-minute load average
is printed before each row (a 2-core machine shared with other jobs gives noisy numbers).
Run: ``.venv/bin/python Testing/benchmarks/bench_engine.py [--repeat 3] [--no-usual] [--no-pyradiomics]``.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "ResponseSignature"))

from ResponseSignatureLib.engine import extract_features  # noqa: E402
from ResponseSignatureLib.engine import margins, preprocess  # noqa: E402

SPACING = (0.78125, 0.78125, 2.5)  # x, y, z mm
SHAPE = (100, 512, 512)  # k, j, i
LESIONS = {"12mm": ((30, 200, 180), 12.0), "35mm": ((50, 300, 330), 35.0), "60mm": ((65, 180, 340), 60.0)}
SETTINGS = {
    "original": {"setting": {"binWidth": 25}},
    "full": {"setting": {"binWidth": 25},
             "imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0, 3.0, 4.0, 5.0]}, "Wavelet": {}}},
}


def make_ct(seed: int = 7) -> tuple[sitk.Image, dict[str, sitk.Image]]:
    """Synthetic CT (soft tissue 40 HU + noise SD 20) with three textured lobulated lesions."""
    rng = np.random.default_rng(seed)
    ct = (40 + 20 * rng.standard_normal(SHAPE, dtype=np.float32)).astype(np.int16)
    masks = {}
    sp = np.array(SPACING[::-1])
    for name, (centre, diam) in LESIONS.items():
        half = np.ceil((diam / 2 * 1.2) / sp).astype(int) + 2
        box = tuple(slice(c - h, c + h + 1) for c, h in zip(centre, half))
        grid = np.stack(np.meshgrid(*[(np.arange(s.start, s.stop) - c) * d
                                      for s, c, d in zip(box, centre, sp)], indexing="ij"))
        r = np.sqrt((grid ** 2).sum(0))
        theta = np.arctan2(grid[1], grid[2])
        phi = np.arctan2(grid[0], np.hypot(grid[1], grid[2]))
        radius = diam / 2 * (1 + 0.1 * np.sin(3 * theta) * np.cos(2 * phi))
        inside = r <= radius
        texture = ndimage.gaussian_filter(rng.standard_normal(inside.shape), 3.0 / sp) * 400
        texture += ndimage.gaussian_filter(rng.standard_normal(inside.shape), 1.2 / sp) * 150
        values = 95 + texture + 30 * (r > 0.8 * radius) - 40 * (r < 0.3 * radius)
        sub = ct[box]
        sub[inside] = np.clip(values[inside] + 20 * rng.standard_normal(inside.sum()), -200, 400)
        m = np.zeros(SHAPE, dtype=np.uint8)
        m[box][inside] = 1
        masks[name] = m
    image = sitk.GetImageFromArray(ct)
    image.SetSpacing(SPACING)
    out = {}
    for name, m in masks.items():
        mask = sitk.GetImageFromArray(m)
        mask.CopyInformation(image)
        out[name] = mask
    return image, out


def engine_crop(image: sitk.Image, mask: sitk.Image, params: dict) -> tuple[sitk.Image, sitk.Image]:
    """The crop (ROI box + filter margin) the built-in engine works on."""
    settings, image_types, _ = preprocess.split_params(params)
    lo, hi = preprocess.roi_bbox(sitk.GetArrayViewFromImage(mask) == 1, "bench")
    margin = margins.filter_margin_voxels(image_types, settings, np.array(image.GetSpacing()[::-1]))
    return preprocess.crop_image(image, lo - margin, hi + margin), preprocess.crop_image(mask, lo - margin, hi + margin)


def best_time(fn, repeat: int) -> tuple[float, object]:
    return best_times([fn], repeat)[0]


def best_times(fns: list, repeat: int) -> list[tuple[float, object]]:
    """(best time, last result) of each function, the functions called in turn ``repeat`` times."""
    best, out = [np.inf] * len(fns), [None] * len(fns)
    for _ in range(repeat):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            out[k] = fn()
            best[k] = min(best[k], time.perf_counter() - t0)
    return list(zip(best, out))


def pyradiomics_extractors(params: dict):
    """(crop extractor: additionalInfo off, usual extractor: pyradiomics' defaults) for ``params``."""
    from radiomics import featureextractor

    crop = dict(params)
    crop["setting"] = dict(params["setting"], additionalInfo=False)
    return featureextractor.RadiomicsFeatureExtractor(crop), featureextractor.RadiomicsFeatureExtractor(dict(params))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="repeats of the timed calls (best kept)")
    parser.add_argument("--no-pyradiomics", action="store_true", help="time the built-in engine only")
    parser.add_argument("--no-usual", action="store_true", help="skip pyradiomics on the whole scan")
    parser.add_argument("--usual-repeat", type=int, default=1, help="repeats of the whole-scan pyradiomics calls")
    parser.add_argument("--usual-full", default="12mm,60mm",
                        help="lesions timed with whole-scan pyradiomics for 'full' (comma list, 'all' or '')")
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    image, masks = make_ct()
    print(f"synthetic CT {image.GetSize()} built in {time.perf_counter() - t0:.1f} s; "
          f"best of {args.repeat} (whole-scan pyradiomics: best of {args.usual_repeat})")
    if not args.no_pyradiomics:
        import radiomics

        radiomics.setVerbosity(logging.ERROR)
        print(f"pyradiomics {radiomics.__version__}")
    usual_full = set(masks) if args.usual_full == "all" else set(filter(None, args.usual_full.split(",")))
    if not args.no_usual and not args.no_pyradiomics:
        print(f"pyrad_usual for 'full' only for: {', '.join(sorted(usual_full)) or 'none'} (it filters the whole scan)")
    extract_features(image, masks["12mm"], SETTINGS["full"])  # warm-up: lazy imports
    print(f"{'setting':9s} {'lesion':6s} {'voxels':>7s} {'n_feat':>6s} {'builtin_crop_s':>14s} "
          f"{'pyrad_crop_s':>12s} {'speedup':>8s} {'builtin_scan_s':>14s} {'pyrad_usual_s':>13s} "
          f"{'speedup':>8s} {'load1':>5s}")
    for sname, params in SETTINGS.items():
        for lname, mask in masks.items():
            print(bench_row(sname, params, lname, image, mask, args, lname in usual_full or sname == "original"),
                  flush=True)
    return 0


def bench_row(sname: str, params: dict, lname: str, image, mask, args, usual: bool) -> str:
    """One printed row: the built-in engine and pyradiomics on one lesion and setting."""
    load = os.getloadavg()[0]
    crop_img, crop_mask = engine_crop(image, mask, params)
    ours = lambda: extract_features(crop_img, crop_mask, params)  # noqa: E731
    if args.no_pyradiomics:
        t_crop, feats = best_time(ours, args.repeat)
    else:
        ext_crop, ext_usual = pyradiomics_extractors(params)
        # alternated, best of each: a shared machine's speed drifts between runs
        (t_crop, feats), (t_pyr, _) = best_times([ours, lambda: ext_crop.execute(crop_img, crop_mask)], args.repeat)
    t_scan, _ = best_time(lambda: extract_features(image, mask, params), args.repeat)
    n_vox = int((sitk.GetArrayViewFromImage(crop_mask) == 1).sum())
    line = f"{sname:9s} {lname:6s} {n_vox:7d} {len(feats):6d} {t_crop:14.3f}"
    if args.no_pyradiomics:
        return line + f" {'-':>12s} {'-':>8s} {t_scan:14.3f} {'-':>13s} {'-':>8s} {load:5.2f}"
    line += f" {t_pyr:12.3f} {t_pyr / t_crop:7.1f}x {t_scan:14.3f}"
    if usual and not args.no_usual:
        t_usual, _ = best_time(lambda: ext_usual.execute(image, mask), args.usual_repeat)
        line += f" {t_usual:13.3f} {t_usual / t_scan:7.1f}x"
    else:
        line += f" {'-':>13s} {'-':>8s}"
    return line + f" {load:5.2f}"


if __name__ == "__main__":
    sys.exit(main())
