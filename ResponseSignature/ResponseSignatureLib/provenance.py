"""Provenance: what produced a result (versions, settings, model hash), stored with every table."""
from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping


def package_version(name: str) -> str:
    """Installed version of a distribution, or 'not installed'."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover - Python < 3.8
        return "unknown"
    try:
        return version(name)
    except PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    """Versions of this extension and of the libraries that change the numbers."""
    from . import __version__

    return {
        "radiomics-response": __version__,
        "python": platform.python_version(),
        "numpy": package_version("numpy"),
        "SimpleITK": package_version("SimpleITK"),
        "pyradiomics": _pyradiomics_version(),
    }


def _pyradiomics_version() -> str:
    for name in ("pyradiomics-bhklab", "pyradiomics"):
        found = package_version(name)
        if found != "not installed":
            return f"{found} ({name})"
    return "not installed"


def settings_hash(settings: Any) -> str:
    """SHA-256 of the canonical JSON of a settings object (sorted keys, no spaces)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes (read in 1 MiB blocks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_sha256(path: str | Path) -> str:
    """SHA-256 of an input: a file's bytes, or for a folder (a DICOM series) the SHA-256 of the
    lines ``<file SHA-256>  <path relative to the folder>`` of every file under it, sorted by path."""
    path = Path(path)
    if not path.is_dir():
        return file_sha256(path)
    files = sorted((p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix())
    lines = "".join(f"{file_sha256(p)}  {p.relative_to(path).as_posix()}\n" for p in files)
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def make_provenance(**extra: Any) -> dict[str, Any]:
    """A provenance record: versions, UTC time, plus whatever the caller adds (settings, model)."""
    record: dict[str, Any] = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    record.update(extra)
    return record


def find_recorded(provenance: Any, key: str) -> Any:
    """The first value of ``key`` in a nested provenance record (the upstream stages' records nest)."""
    if isinstance(provenance, Mapping):
        if provenance.get(key) is not None:
            return provenance[key]
        values = provenance.values()
    elif isinstance(provenance, list):
        values = provenance
    else:
        return None
    return next((found for found in (find_recorded(v, key) for v in values) if found is not None), None)
