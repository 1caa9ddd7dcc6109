"""LesionAggregateLib: lesion table -> patient table, and resumable parallel cohort runs. GUI-free."""
from __future__ import annotations
