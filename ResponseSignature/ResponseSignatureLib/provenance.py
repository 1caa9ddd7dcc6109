"""Provenance: what produced a result (versions, settings, model hash), stored with every table."""
from __future__ import annotations

import hashlib
import json
import platform
from datetime import datetime, timezone
from typing import Any


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


def make_provenance(**extra: Any) -> dict[str, Any]:
    """A provenance record: versions, UTC time, plus whatever the caller adds (settings, model)."""
    record: dict[str, Any] = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": versions(),
    }
    record.update(extra)
    return record
