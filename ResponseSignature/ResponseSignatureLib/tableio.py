"""Tables on disk: CSV (UTF-8, one header row) written atomically, with a provenance sidecar.

Every reader of a user's text file (tables, manifests, locations) goes through ``read_text``,
so a missing file, a folder, an empty file or a file that is not UTF-8 text each get their own
one-line InputError naming the file.

The sidecar also holds what each column means (``"columns"``: title, description, unit and IBSI
code per column, ``column_metadata``), as Slicer's table nodes hold it (mrml_bridge).
"""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .errors import InputError
from .outputs import write_text_atomic

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
    table's producer adds or overrides in ``table.attrs['columns']`` (same shape), which for a table
    read back with ``read_table`` are the columns its sidecar documented."""
    from .lesion_table import columns_info

    out = {name: info.as_dict() for name, info in columns_info(table.columns).items()}
    provenance = table.attrs.get("provenance")
    read_back = provenance.get("columns") if isinstance(provenance, dict) else None
    for name, extra in {**(read_back or {}), **(table.attrs.get("columns") or {})}.items():
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


def read_text(path: str | Path, what: str = "") -> str:
    """The text of a UTF-8 file (a byte-order mark is dropped), for readers of users' files.

    ``what`` (e.g. 'manifest') starts the messages. InputError naming the file if it is missing,
    a folder, empty, unreadable or not UTF-8 text.
    """
    path = Path(path)
    label = f"{what} {path}" if what else str(path)
    if path.is_dir():
        raise InputError(f"{label} is a folder, not a file.")
    if not path.is_file():
        raise InputError(f"{what.capitalize() or 'File'} not found: {path}")
    try:
        data = path.read_bytes()
    except OSError as error:
        raise InputError(f"{label} cannot be read: {error.strerror or error}.") from None
    if not data:
        raise InputError(f"{label} is an empty file (0 bytes).")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"{label} is not a UTF-8 text (CSV) file (byte {error.start} is 0x{data[error.start]:02x}); "
                         "save it as CSV UTF-8.") from None


def csv_rows(text: str, path: str | Path, what: str = "") -> tuple[list[str], list[dict[str, str]]]:
    """(column names, rows as dicts of stripped text) of CSV text; short rows give '' for the missing
    cells. InputError naming the file if the CSV itself is malformed."""
    try:
        reader = csv.reader(io.StringIO(text, newline=""))
        header = [cell.strip() for cell in next(reader, [])]
        rows = [dict(zip(header, [cell.strip() for cell in row] + [""] * (len(header) - len(row))))
                for row in reader]
    except csv.Error as error:
        raise InputError(f"{what + ' ' if what else ''}{path} is not a valid CSV file: {error}.") from None
    return header, rows


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV table (ID columns as text) with its provenance in ``attrs['provenance']``.

    Floats are parsed with Python's own conversion (``float_precision="round_trip"``): pandas'
    default parser can change the last digit (~1e-15), and a table written by ``write_table`` must
    read back exactly. InputError naming the file if it is missing or not a readable CSV.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"Table not found: {path}")
    text = read_text(path)
    try:
        table = pd.read_csv(io.StringIO(text), dtype=ID_COLUMN_TYPES, keep_default_na=True,
                            float_precision="round_trip")
    except (ValueError, pd.errors.ParserError, csv.Error) as error:
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise InputError(f"{path} is not a readable CSV table: {reason}") from None
    if provenance_path(path).is_file():
        table.attrs["provenance"] = read_provenance(path)
    table.attrs["source_file"] = str(path)
    return table


def read_provenance(path: str | Path) -> dict:
    """The provenance sidecar of a table, or an empty dict if there is none; InputError if it is damaged."""
    sidecar = provenance_path(path)
    if not sidecar.is_file():
        return {}
    text = read_text(sidecar)
    try:
        provenance = json.loads(text)
    except ValueError as error:
        raise InputError(f"{sidecar} (the provenance of {Path(path).name}) is not valid JSON: {error}") from None
    if not isinstance(provenance, dict):
        raise InputError(f"{sidecar} (the provenance of {Path(path).name}) does not hold a JSON object.")
    return provenance
