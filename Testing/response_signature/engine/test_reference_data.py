"""The engine's reference data for anyone who clones the repository: pyradiomics' sample cases and
baselines, fetched from pyradiomics' source package on PyPI into a cache when ../shared/data is absent.

- the fetched copy is byte for byte the local reference (when both can be had);
- a fetch that cannot reach the package fails with a message naming pip's problem (the fixture turns
  it into a skip), and never leaves a half-filled cache folder.
"""
from __future__ import annotations

import filecmp

import pytest

import engine_reference
from conftest import SHARED_DATA


def test_fixture_prefers_the_local_copy(pyradiomics_data):
    local = SHARED_DATA / "pyradiomics"
    if engine_reference.has_data(local):
        assert pyradiomics_data == local
    assert engine_reference.has_data(pyradiomics_data)


def test_fetched_copy_equals_the_local_reference(tmp_path):
    local = SHARED_DATA / "pyradiomics"
    if not engine_reference.has_data(local):
        pytest.skip(f"no local reference at {local} to compare the fetched copy with")
    try:
        fetched = engine_reference.fetch_pyradiomics_data(tmp_path)
    except RuntimeError as error:
        pytest.skip(f"offline: {error}")
    assert fetched == tmp_path / "pyradiomics-3.1.0" / "data"
    for name in engine_reference.DATA_FILES:
        assert filecmp.cmp(fetched / name, local / name, shallow=False), name
    assert [p.name for p in tmp_path.iterdir()] == ["pyradiomics-3.1.0"]  # no staging folder left
    assert engine_reference.fetch_pyradiomics_data(tmp_path) == fetched  # second call: from the cache


def test_unreachable_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(engine_reference, "PYRADIOMICS_SDIST", "https://nowhere.invalid/pyradiomics-3.1.0.tar.gz")
    with pytest.raises(RuntimeError, match="pip could not download pyradiomics' source package"):
        engine_reference.fetch_pyradiomics_data(tmp_path)
    assert not (tmp_path / "pyradiomics-3.1.0" / "data").exists()
