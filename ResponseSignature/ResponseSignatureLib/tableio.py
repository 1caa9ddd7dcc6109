"""Tables on disk: CSV (UTF-8, one header row) written atomically, with a provenance sidecar."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .errors import InputError
from .models.modelfile import write_text_atomic


def provenance_path(table_path: str | Path) -> Path:
    """Where a table's provenance lives: ``<table>.provenance.json`` beside it."""
    table_path = Path(table_path)
    return table_path.with_name(table_path.name + ".provenance.json")


def write_table(table: pd.DataFrame, path: str | Path, provenance: Mapping[str, Any] | None = None) -> Path:
    """Write a table as CSV (temp file + rename) and its provenance as JSON beside it."""
    path = Path(path)
    write_text_atomic(path, table.to_csv(index=False))
    if provenance is not None:
        write_text_atomic(provenance_path(path), json.dumps(provenance, indent=2, sort_keys=True, default=str) + "\n")
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table written by this project; InputError naming the file if it is missing or broken."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Table not found: {path}")
    try:
        return pd.read_csv(path, keep_default_na=True)
    except (ValueError, pd.errors.ParserError) as error:
        raise InputError(f"{path} is not a readable CSV table: {error}") from None


def read_provenance(path: str | Path) -> dict:
    """The provenance sidecar of a table, or an empty dict if there is none."""
    sidecar = provenance_path(path)
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
