"""Output paths: checked before any work starts, and files written whole or not at all.

A command names its outputs when it declares its arguments (``parser.set_defaults(func=...,
output_files=("out",), output_folders=())``: the ``dest`` names of the arguments; files derived
from them, such as ``evaluate``'s ``<stem>_roc.svg`` beside ``--out``, by ``derived_outputs=f``
with ``f(args) -> [(path, label), ...]``); the dispatcher calls ``check_outputs(args, parser)``
before the handler runs, so an ``--out`` naming an existing folder where a file is expected (or a
file where a folder is expected) is a one-line InputError before anything is computed or written.
Messages name the argument as it is written on the command line: ``--out-dir`` for an option,
``OUTDIR`` (its metavar) for a positional argument.

``write_text_atomic`` writes through a temporary file and a rename (readers never see half a file;
a failed write leaves the previous file as it was); ``write_file_atomic`` does the same for any
writer (images: feature maps). See docs/data-promises.md.
"""
from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

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


def check_outputs(args: Any, parser: argparse.ArgumentParser | None = None) -> None:
    """Check the outputs a parsed command line declares (``output_files`` / ``output_folders``:
    argument names; ``derived_outputs``: files named after them); options left unset are skipped.
    ``parser`` (the one that parsed ``args``) gives the arguments' names as the user writes them
    (see ``argument_names``)."""
    written = argument_names(parser, getattr(args, "func", None)) if parser is not None else {}
    for names, check in ((getattr(args, "output_files", ()), check_output_file),
                         (getattr(args, "output_folders", ()), check_output_folder)):
        for name in names:
            value = getattr(args, name, None)
            if value is not None and str(value) != "":
                check(value, written.get(name) or "--" + name.replace("_", "-"))
    derived = getattr(args, "derived_outputs", None)
    for path, label in derived(args) if derived else ():
        check_output_file(path, label)


def argument_names(parser: argparse.ArgumentParser, func: Any) -> dict[str, str]:
    """``dest`` -> the argument as written on the command line, for the (sub-)command whose handler
    is ``func``: its long option (``--out-dir``) or, for a positional argument, its metavar
    (``OUTDIR``). Empty if no (sub-)parser has that handler."""
    for command in _all_parsers(parser):
        if func is not None and command.get_default("func") is func:
            return {action.dest: _written_name(action) for action in command._actions}
    return {}


def _all_parsers(parser: argparse.ArgumentParser):
    """The parser and, depth first, every sub-command parser under it (argparse keeps them only in
    its private ``_actions``; stable from Python 3.9 to 3.12)."""
    yield parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _all_parsers(sub)


def _written_name(action: argparse.Action) -> str:
    if action.option_strings:
        return next((s for s in action.option_strings if s.startswith("--")), action.option_strings[0])
    metavar = action.metavar if isinstance(action.metavar, str) else None
    return metavar or action.dest.upper()


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file through a temporary file and a rename, so readers never see half a
    file and a failed write leaves the old file untouched. InputError if the path cannot be a file."""
    def write(temp_name: str) -> None:
        with open(temp_name, "w", encoding="utf-8") as stream:
            stream.write(text)

    write_file_atomic(path, write)


def write_file_atomic(path: str | os.PathLike, write: Callable[[str], None], keep_suffix: bool = False) -> Path:
    """Write a file through a temporary file in the same folder and a rename: ``write(temp_name)``
    writes the content. ``keep_suffix``: the temporary name ends with the file's own suffixes
    (``.nrrd``, ``.nii.gz``) for writers that choose the format by extension, as SimpleITK does.
    A failure (of ``write`` too) removes the temporary file and leaves an existing file untouched;
    InputError if the path cannot be a file or the folder cannot be written."""
    path = check_output_file(path)
    suffix = ".tmp" + ("".join(path.suffixes) if keep_suffix else "")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=str(path.parent), prefix=f".{path.name}.", suffix=suffix)
        os.close(handle)
    except OSError as error:
        raise InputError(f"Cannot write '{path}': {error.strerror or error}.") from None
    try:
        write(temp_name)
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600; tables, models and maps are meant to be shared
        os.replace(temp_name, path)
    except BaseException as error:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise InputError(f"Cannot write '{path}': {error.strerror or error}.") from None
        raise
    return path
