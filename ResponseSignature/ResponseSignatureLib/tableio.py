"""Tables on disk: CSV (UTF-8, one header row) written atomically, with a provenance sidecar.

The sidecar also holds what each column means (``"columns"``: title, description, unit and IBSI
code per column, ``column_metadata``), as Slicer's table nodes hold it (mrml_bridge).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .errors import InputError
from .models.modelfile import write_text_atomic

# Identifier columns stay text when read back ("001" must not become 1).
ID_COLUMN_TYPES = {"patient_id": str, "lesion_id": str, "location": str, "status": str}


def provenance_path(table_path: str | Path) -> Path:
    """Where a table's provenance lives: ``<table>.provenance.json`` beside it."""
    table_path = Path(table_path)
    return table_path.with_name(table_path.name + ".provenance.json")


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (temp file + rename), indented with sorted keys; other types as text."""
    path = Path(path)
    write_text_atomic(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    return path


def column_metadata(table: pd.DataFrame) -> dict[str, dict]:
    """Column -> {title, description, unit, ibsi} (empty entries left out) for the table's documented
    columns: lesion-table, RECIST and feature columns (``lesion_table.column_info``), then what the
    table's producer adds or overrides in ``table.attrs['columns']`` (same shape)."""
    from .lesion_table import columns_info

    out = {name: info.as_dict() for name, info in columns_info(table.columns).items()}
    for name, extra in (table.attrs.get("columns") or {}).items():
        if name in table.columns:
            out[str(name)] = {**out.get(str(name), {}), **dict(extra)}
    return out


def write_table(table: pd.DataFrame, path: str | Path, provenance: Mapping[str, Any] | None = None) -> Path:
    """Write a table as CSV (temp file + rename) and, as JSON beside it, its provenance (argument or
    ``table.attrs['provenance']``) with the meaning of its columns (``column_metadata``)."""
    path = Path(path)
    write_text_atomic(path, table.to_csv(index=False))
    provenance = provenance if provenance is not None else table.attrs.get("provenance")
    columns = column_metadata(table)
    if provenance is not None or columns:
        sidecar = dict(provenance) if isinstance(provenance, Mapping) else (
            {} if provenance is None else {"provenance": provenance})
        write_json(provenance_path(path), {**sidecar, "columns": columns} if columns else sidecar)
    return path


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table (ID columns as text) with its provenance in ``attrs['provenance']``.

    InputError naming the file if it is missing or not a readable CSV.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Table not found: {path}")
    try:
        table = pd.read_csv(path, dtype=ID_COLUMN_TYPES, keep_default_na=True)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as error:
        raise InputError(f"{path} is not a readable CSV table: {error}") from None
    if provenance_path(path).is_file():
        table.attrs["provenance"] = read_provenance(path)
    table.attrs["source_file"] = str(path)
    return table


def read_provenance(path: str | Path) -> dict:
    """The provenance sidecar of a table, or an empty dict if there is none."""
    sidecar = provenance_path(path)
    return json.loads(sidecar.read_text(encoding="utf-8")) if sidecar.is_file() else {}
