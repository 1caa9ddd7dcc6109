"""Shared by the engine parity tests: pyradiomics as the reference, and its sample cases.

Not a test module (pytest collects ``test_*.py`` only); the test files import it after
``pytest.importorskip("radiomics")``, and ``conftest.pyradiomics_data`` / ``pyradiomics_cases`` find
the real cases: in ``../shared/data/pyradiomics`` when that folder exists, else in a cache folder
(``~/.cache/radiomics-response``, or ``$RADIOMICS_RESPONSE_CACHE``) filled once from pyradiomics'
source package on PyPI (``fetch_pyradiomics_data``), so that anyone who clones the repository can
run the parity tests. Nothing of it is committed here (it is pyradiomics' data, BSD-3-Clause).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import warnings
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from ResponseSignatureLib.engine import preprocess

#: the real cases of ../shared/data/pyradiomics
CASES = ("brain1", "breast1", "lung1")
#: relative difference allowed where both compute on the same voxels
TOL = 1e-6
#: pyradiomics' source package (sdist) on PyPI, which holds its data/ folder; pinned by hash. Its
#: metadata names version 3.0.1a1, so pip takes it by URL rather than by ``pyradiomics==3.1.0``.
PYRADIOMICS_SDIST = ("https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece"
                     "35448ab6b4578f2/pyradiomics-3.1.0.tar.gz")
PYRADIOMICS_SDIST_SHA256 = "24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4"
#: what the tests read of it, relative to its data/ folder
DATA_FILES = tuple(f"{case}_{kind}.nrrd" for case in CASES for kind in ("image", "label")) + tuple(
    f"baseline/baseline_{cls}.csv"
    for cls in ("firstorder", "glcm", "gldm", "glrlm", "glszm", "ngtdm", "shape", "shape2D"))


def cache_dir() -> Path:
    """Where fetched reference data is kept: $RADIOMICS_RESPONSE_CACHE or ~/.cache/radiomics-response."""
    return Path(os.environ.get("RADIOMICS_RESPONSE_CACHE") or Path.home() / ".cache" / "radiomics-response")


def has_data(folder: Path) -> bool:
    return all((folder / name).is_file() for name in DATA_FILES)


def fetch_pyradiomics_data(cache: Path | None = None) -> Path:
    """pyradiomics' sample cases and baselines in the cache (downloaded once with pip); the folder.

    Raises RuntimeError naming what failed (no network, pip error, a file missing from the package).
    """
    target = (cache or cache_dir()) / "pyradiomics-3.1.0" / "data"
    if has_data(target):
        return target
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "--retries", "1",
                   "--timeout", "20", "--dest", tmp, f"{PYRADIOMICS_SDIST}#sha256={PYRADIOMICS_SDIST_SHA256}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
        packages = list(Path(tmp).glob("pyradiomics-*.tar.gz"))
        if done.returncode != 0 or not packages:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"pip could not download pyradiomics' source package: {last}")
        _unpack(packages[0], target)
    return target


def _unpack(package: Path, target: Path) -> None:
    """Copy DATA_FILES out of the sdist into ``target``: written into a folder beside it, then renamed
    into place, so an interrupted fetch never leaves a half-filled ``target``."""
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix="fetching-", dir=target.parent))
    with tarfile.open(package) as archive:
        members = {m.name.split("/data/", 1)[1]: m for m in archive.getmembers() if "/data/" in m.name}
        missing = [name for name in DATA_FILES if name not in members]
        if missing:
            raise RuntimeError(f"{package.name} lacks {', '.join(missing)}")
        for name in DATA_FILES:
            out = staging / name
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(archive.extractfile(members[name]).read())
    if target.exists():  # an older, incomplete copy of ours
        shutil.rmtree(target)
    staging.rename(target)


def load_cases(folder: Path) -> dict:
    """{case: (image, label map)} of the real cases in ``folder``."""
    return {case: (sitk.ReadImage(str(folder / f"{case}_image.nrrd")), sitk.ReadImage(str(folder / f"{case}_label.nrrd")))
            for case in CASES}


def pyradiomics_features(image, mask, params) -> dict:
    """pyradiomics' segment-based features (additionalInfo off, no diagnostics) as floats."""
    from radiomics import featureextractor

    p = {k: dict(v) if isinstance(v, dict) else v for k, v in params.items()}
    p["setting"] = dict(p.get("setting", {}), additionalInfo=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scikit-image on float images, SciPy deprecations
        out = featureextractor.RadiomicsFeatureExtractor(p).execute(image, mask)
    return {k: float(v) for k, v in out.items() if not k.startswith("diagnostics_")}


def assert_parity(ref: dict, ours: dict, n_features: int | None = None) -> dict[str, float]:
    """Same names, relative difference <= TOL (or absolute <= 1e-12); worst relative difference per image.

    ``n_features``: also assert how many features were compared.
    """
    assert set(ref) == set(ours), (sorted(set(ref) - set(ours))[:5], sorted(set(ours) - set(ref))[:5])
    if n_features is not None:
        assert len(ref) == n_features
    worst: dict[str, float] = {}
    bad = []
    for name, a in ref.items():
        b = ours[name]
        if np.isnan(a) and np.isnan(b):
            continue
        rel = abs(a - b) / max(abs(a), 1e-12) if abs(a - b) > 1e-12 else 0.0
        if not rel <= TOL:
            bad.append((name, a, b, rel))
        image = name.split("_")[0]
        worst[image] = max(worst.get(image, 0.0), rel)
    assert not bad, bad[:10]
    return worst


def bbox_crop(image, mask, margin_vox):
    """Image and mask cropped to the ROI (label 1) box + ``margin_vox`` (k, j, i or one number)."""
    lo, hi = preprocess.roi_bbox(sitk.GetArrayViewFromImage(mask) == 1, "test")
    m = np.asarray(margin_vox)
    return preprocess.crop_image(image, lo - m, hi + m), preprocess.crop_image(mask, lo - m, hi + m)
