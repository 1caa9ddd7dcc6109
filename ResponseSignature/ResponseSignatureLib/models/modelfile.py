"""Model files: versioned JSON documents with a SHA-256 of their canonical content.

A model shared between hospitals must not be able to run code on load, so models are plain JSON
(never pickles) and are checked before use: format name, schema version, required keys, the
kind-specific content (validators registered per kind) and the hash. The schema is documented in
``docs/model-file.md``.

The optional ``outcome`` block (what outcome 1 means and whether it is unfavourable) is checked by
``outcome.validate_outcome_block``; files without it load with the direction "not stated".

Canonical content = the document without its ``sha256`` key, serialised as JSON with sorted keys,
separators ``(",", ":")``, UTF-8, no NaN/Infinity. ``sha256`` = hex SHA-256 of those bytes.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from ..errors import InputError, ModelFileError
from .outcome import validate_outcome_block
from ..outputs import write_text_atomic  # noqa: F401 - re-exported: models and tables are written with it

FORMAT = "radiomics-response-model"
SCHEMA_VERSION = 1
LEVELS = ("lesion", "patient")
REQUIRED_KEYS = {
    "format": str,
    "schema_version": int,
    "name": str,
    "version": str,
    "kind": str,
    "level": str,
    "inputs": list,
    "model": dict,
    "threshold": dict,
    "model_card": dict,
}

_KIND_VALIDATORS: dict[str, Callable[[dict], None]] = {}


def register_kind(kind: str, validator: Callable[[dict], None]) -> None:
    """Declare a model kind and the function that checks its ``model`` content (raises ModelFileError)."""
    _KIND_VALIDATORS[kind] = validator


def known_kinds() -> list[str]:
    """Model kinds that can be loaded in this process."""
    return sorted(_KIND_VALIDATORS)


def canonical_json(doc: Mapping[str, Any]) -> str:
    """The canonical serialisation the hash is computed on (``sha256`` key excluded)."""
    content = {key: value for key, value in doc.items() if key != "sha256"}
    _reject_non_finite(content, "model")
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def content_hash(doc: Mapping[str, Any]) -> str:
    """Hex SHA-256 of the canonical JSON."""
    return hashlib.sha256(canonical_json(doc).encode("utf-8")).hexdigest()


def validate_model(doc: Mapping[str, Any], check_hash: bool = True) -> None:
    """Check format, version, required keys and types, kind content and (optionally) the hash."""
    if not isinstance(doc, Mapping):
        raise ModelFileError("A model file must hold a JSON object at the top level.")
    if doc.get("format") != FORMAT:
        raise ModelFileError(f"Not a RadiomicsResponse model file: 'format' is {doc.get('format')!r}, expected {FORMAT!r}.")
    for key, expected_type in REQUIRED_KEYS.items():
        if key not in doc:
            raise ModelFileError(f"Model file is missing the required key '{key}'.")
        if not isinstance(doc[key], expected_type) or isinstance(doc[key], bool):
            raise ModelFileError(f"Model key '{key}' must be of type {expected_type.__name__}, got {type(doc[key]).__name__}.")
    if doc["schema_version"] > SCHEMA_VERSION:
        raise ModelFileError(
            f"Model '{doc['name']}' uses schema version {doc['schema_version']}; this version of RadiomicsResponse "
            f"reads up to {SCHEMA_VERSION}. Update the extension."
        )
    if doc["level"] not in LEVELS:
        raise ModelFileError(f"Model level must be one of {LEVELS}, got {doc['level']!r}.")
    if not all(isinstance(column, str) for column in doc["inputs"]):
        raise ModelFileError("Model 'inputs' must be a list of column names (strings).")
    validator = _KIND_VALIDATORS.get(doc["kind"])
    if validator is None:
        raise ModelFileError(f"Unknown model kind {doc['kind']!r}; known kinds: {', '.join(known_kinds()) or 'none'}.")
    try:
        validator(dict(doc))
    except InputError:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, ArithmeticError) as error:
        # a validator reading a malformed structure (a list where a number belongs...): the file is malformed
        raise ModelFileError(f"Model '{doc['name']}' has malformed '{doc['kind']}' content "
                             f"({type(error).__name__}: {error}).") from None
    if "outcome" in doc:
        validate_outcome_block(doc["outcome"])
    if check_hash:
        _check_hash(doc)


def _check_hash(doc: Mapping[str, Any]) -> None:
    stored = doc.get("sha256")
    if not isinstance(stored, str):
        raise ModelFileError(f"Model '{doc.get('name')}' has no 'sha256'; it cannot be verified.")
    actual = content_hash(doc)
    if stored != actual:
        raise ModelFileError(
            f"Model '{doc.get('name')}' does not match its SHA-256 (stored {stored[:12]}..., content {actual[:12]}...): "
            "the file was modified after it was saved. Refusing to use it."
        )


def save_model(doc: dict, path: str | Path) -> dict:
    """Validate ``doc``, set its ``sha256`` and write it as indented JSON atomically. Returns the doc."""
    doc = dict(doc)
    doc.setdefault("format", FORMAT)
    doc.setdefault("schema_version", SCHEMA_VERSION)
    validate_model(doc, check_hash=False)
    doc["sha256"] = content_hash(doc)
    text = json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    write_text_atomic(Path(path), text + "\n")
    return doc


def load_model(source: str | Path | Mapping[str, Any]) -> dict:
    """Read and verify a model from a path or an already parsed dict; raises ModelFileError."""
    if isinstance(source, Mapping):
        doc = dict(source)
        where = "model"
    else:
        path = Path(source)
        where = str(path)
        if not path.is_file():
            raise ModelFileError(f"Model file not found: {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
        except (ValueError, UnicodeDecodeError) as error:
            raise ModelFileError(f"{path} is not valid JSON: {error}") from None
    try:
        validate_model(doc)
    except ModelFileError as error:
        raise ModelFileError(f"{where}: {error}") from None
    return doc


def require_columns(model: Mapping[str, Any], columns: Iterable[str]) -> None:
    """Raise InputError naming every model input missing from ``columns``."""
    available = set(columns)
    missing = [column for column in model["inputs"] if column not in available]
    if missing:
        raise InputError(
            f"Model '{model['name']}' needs {len(missing)} column(s) the table does not have: {', '.join(missing)}. "
            "Extract them with the model's extraction settings (see its 'extraction_settings')."
        )


def _refuse_constant(name: str) -> float:
    raise ModelFileError(f"Model files may not contain {name}; store missing values as null.")


def _reject_non_finite(value: Any, where: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ModelFileError(f"{where} holds a non-finite number ({value}); store missing values as null.")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _reject_non_finite(item, f"{where}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _reject_non_finite(item, f"{where}[{index}]")
