"""The pip package ships what the source tree has: every Lib sub-package and data folder."""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")


def pyproject():
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_python_package_is_listed():
    setuptools = pyproject()["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    package_dirs = setuptools["package-dir"]
    for package in [p for p in listed if p in package_dirs and "." not in p]:
        root = REPO / package_dirs[package]
        for init in root.rglob("__init__.py"):
            relative = init.parent.relative_to(root).parts
            name = ".".join((package, *relative))
            assert name in listed, f"{name} ({init.parent}) is not in pyproject's packages: a wheel would miss it"


def test_data_folders_exist_and_hold_their_files():
    setuptools = pyproject()["tool"]["setuptools"]
    for package, patterns in setuptools["package-data"].items():
        folder = REPO / setuptools["package-dir"][package]
        for pattern in patterns:
            assert list(folder.glob(pattern)), f"{package}: no {pattern} in {folder}"


def test_core_install_needs_no_compiled_radiomics():
    dependencies = " ".join(pyproject()["project"]["dependencies"]).lower()
    assert "radiomics" not in dependencies  # the built-in engine is the default; pyradiomics is an extra
