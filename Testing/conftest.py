"""Shared pytest fixtures: where the read-only reference data lives, temporary output folders."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
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
    path = REPO_ROOT / "Testing" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def sample_case(tmp_path_factory) -> dict:
    """The built-in synthetic case (seed 0) written once per run: file paths by key (read-only)."""
    from ResponseSignatureLib.sample_data import make_sample_case

    return make_sample_case(tmp_path_factory.mktemp("sample_case"), seed=0, patient_id="sample")


@pytest.fixture(scope="session")
def pyradiomics_cases(shared_data) -> dict:
    """{case: (image, label map)} of ../shared/data/pyradiomics (brain1, breast1, lung1), read once."""
    from engine_reference import load_cases

    folder = shared_data / "pyradiomics"
    if not folder.is_dir():
        pytest.skip(f"pyradiomics reference cases not found at {folder}")
    return load_cases(folder)
