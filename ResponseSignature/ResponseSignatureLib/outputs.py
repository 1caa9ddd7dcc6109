"""Output paths: checked before any work starts, and files written whole or not at all.

A command names its outputs when it declares its arguments (``parser.set_defaults(func=...,
output_files=("out",), output_folders=())``: the ``dest`` names of the options); the dispatcher
calls ``check_outputs(args)`` before the handler runs, so an ``--out`` naming an existing folder
where a file is expected (or a file where a folder is expected) is a one-line InputError before
anything is computed or written. ``write_text_atomic`` writes through a temporary file and a
rename (readers never see half a file; a failed write leaves the previous file as it was).
See docs/data-promises.md.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from .errors import InputError


def _label(option: str | None, path: Path) -> str:
    return f"{option} '{path}'" if option else f"Output '{path}'"


def _file_in_the_way(path: Path) -> Path | None:
    """The first existing non-folder among the parents of ``path`` (it cannot hold anything), or None."""
    for parent in reversed(path.parents):
        if parent.exists() and not parent.is_dir():
            return parent
    return None


def check_output_file(path: str | os.PathLike, option: str | None = None) -> Path:
    """``path`` can be written as a file: not an existing folder, not under a file, folder writable.

    ``option`` (e.g. '--out') names the path in the message. Missing parent folders are fine
    (they are created when the file is written).
    """
    path = Path(path)
    label = _label(option, path)
    if path.is_dir():
        raise InputError(f"{label} is a folder; give a file name.")
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise InputError(f"{label}: '{blocking}' is a file, not a folder.")
    existing_parent = next(parent for parent in path.parents if parent.exists())
    if not os.access(existing_parent, os.W_OK | os.X_OK):
        raise InputError(f"{label}: no permission to write in '{existing_parent}'.")
    return path


def check_output_folder(path: str | os.PathLike, option: str | None = None) -> Path:
    """``path`` can be used as an output folder: not an existing file, not under a file."""
    path = Path(path)
    label = _label(option, path)
    if path.exists() and not path.is_dir():
        raise InputError(f"{label} is a file; give a folder.")
    blocking = _file_in_the_way(path)
    if blocking is not None:
        raise InputError(f"{label}: '{blocking}' is a file, not a folder.")
    return path


def check_outputs(args: Any) -> None:
    """Check the outputs a parsed command line declares (``output_files`` / ``output_folders``:
    argument names); options left unset are skipped."""
    for names, check in ((getattr(args, "output_files", ()), check_output_file),
                         (getattr(args, "output_folders", ()), check_output_folder)):
        for name in names:
            value = getattr(args, name, None)
            if value is not None and str(value) != "":
                check(value, "--" + name.replace("_", "-"))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file through a temporary file and a rename, so readers never see half a
    file and a failed write leaves the old file untouched. InputError if the path cannot be a file."""
    path = check_output_file(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise InputError(f"Cannot write '{path}': {error.strerror or error}.") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600; tables and model files are meant to be shared
        os.replace(temp_name, path)
    except BaseException as error:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise InputError(f"Cannot write '{path}': {error.strerror or error}.") from None
        raise
