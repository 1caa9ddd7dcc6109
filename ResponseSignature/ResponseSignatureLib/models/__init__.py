"""Signature models: JSON model files, numpy-only inference, training and evaluation."""
from __future__ import annotations

from .modelfile import FORMAT, SCHEMA_VERSION, content_hash, load_model, register_kind, require_columns, save_model

__all__ = ["FORMAT", "SCHEMA_VERSION", "content_hash", "load_model", "register_kind", "require_columns", "save_model"]
