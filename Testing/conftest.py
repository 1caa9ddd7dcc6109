"""Shared pytest fixtures: where the read-only reference data lives, temporary output folders.

The test files live in sub-folders that mirror the source layout (Testing/README.md) and are
imported with ``--import-mode=importlib`` (pyproject.toml), so equal file names in two folders do
not clash. The shared helpers next to this file (engine_reference, dicom_helpers, ...) are imported
by name: this folder goes on ``sys.path`` here, before any test file is imported.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

TESTING = Path(__file__).resolve().parent
REPO_ROOT = TESTING.parent
if str(TESTING) not in sys.path:
    sys.path.insert(0, str(TESTING))
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repo; tests that need it skip with a clear message if absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (the read-only shared/ folder)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Testing/artifacts: screenshots and reports kept after the run for a person to look at."""
    path = TESTING / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def sample_case(tmp_path_factory) -> dict:
    """The built-in synthetic case (seed 0) written once per run: file paths by key (read-only)."""
    from ResponseSignatureLib.sample_data import make_sample_case

    return make_sample_case(tmp_path_factory.mktemp("sample_case"), seed=0, patient_id="sample")


@pytest.fixture(scope="session")
def pyradiomics_data() -> Path:
    """Folder with pyradiomics' sample cases (brain1, breast1, lung1 image + label) and its baselines
    (``baseline/baseline_<class>.csv``): ../shared/data/pyradiomics when present, else the copy
    fetched once from pyradiomics' source package on PyPI into the cache (engine_reference); skips
    with the reason when neither is there and the fetch fails (offline)."""
    from engine_reference import cache_dir, fetch_pyradiomics_data, has_data

    local = SHARED_DATA / "pyradiomics"
    if has_data(local):
        return local
    try:
        return fetch_pyradiomics_data()
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"pyradiomics' sample cases: not in {local}, and fetching them from PyPI into "
                    f"{cache_dir()} failed ({error})")


@pytest.fixture(scope="session")
def pyradiomics_cases(pyradiomics_data) -> dict:
    """{case: (image, label map)} of pyradiomics' sample cases (brain1, breast1, lung1), read once."""
    from engine_reference import load_cases

    return load_cases(pyradiomics_data)
