"""Files shipped with the libraries: models, model templates (source tree or installed wheel).

In the source tree (and in Slicer) a Lib's data sits in its module's ``Resources/<Kind>/``; in the
wheel the same files are the package data ``<Lib>.<package folder>`` (see pyproject.toml). One
lookup for both, used for the demo models and the model templates.
"""
from __future__ import annotations

import importlib
from pathlib import Path

from .errors import InputError

#: resource folder in the source tree -> package folder in the wheel
PACKAGE_FOLDERS = {"Models": "models_data", "Templates": "templates"}


def shipped_folder(library: str, kind: str) -> Path:
    """The folder of ``kind`` ('Models', 'Templates') shipped with the library package ``library``."""
    root = Path(importlib.import_module(library).__file__).resolve().parent
    candidates = (root.parent / "Resources" / kind, root / PACKAGE_FOLDERS[kind])
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise InputError(f"{library} ships no {kind.lower()} folder (looked in {', '.join(map(str, candidates))}); "
                     "reinstall radiomics-response.")


def shipped_file(library: str, kind: str, name: str) -> Path:
    """A file shipped with a library (InputError naming it when it is absent: a broken install)."""
    path = shipped_folder(library, kind) / name
    if not path.is_file():
        raise InputError(f"{name} is not in {path.parent}; reinstall radiomics-response.")
    return path
