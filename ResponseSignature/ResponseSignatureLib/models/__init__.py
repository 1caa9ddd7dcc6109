"""Signature models: JSON model files, numpy-only inference, training and evaluation.

The package registers its model kinds 'logistic', 'random_forest' and 'cox' (numpy only) with the
model-file loader, so ``load_model`` knows them whichever module of the package is used first.
Training (scikit-learn) lives in ``training`` and is imported only when used.
"""
from __future__ import annotations

from .modelfile import FORMAT, SCHEMA_VERSION, content_hash, load_model, register_kind, require_columns, save_model
from .inference import VALIDATORS, apply_model, patient_scores, predict_scores

for _kind, _validator in VALIDATORS.items():
    register_kind(_kind, _validator)

__all__ = ["FORMAT", "SCHEMA_VERSION", "content_hash", "load_model", "register_kind", "require_columns", "save_model",
           "apply_model", "patient_scores", "predict_scores"]
