"""Signature models: JSON model files, numpy-only inference, training and evaluation.

Importing this package registers the model kinds 'logistic', 'random_forest' and 'cox' (numpy
only). Training (scikit-learn) lives in ``training`` and is imported only when used.
"""
from __future__ import annotations

from .modelfile import FORMAT, SCHEMA_VERSION, content_hash, load_model, register_kind, require_columns, save_model
from .inference import apply_model, patient_scores, predict_scores

__all__ = ["FORMAT", "SCHEMA_VERSION", "content_hash", "load_model", "register_kind", "require_columns", "save_model",
           "apply_model", "patient_scores", "predict_scores"]
