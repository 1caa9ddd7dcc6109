"""Exceptions with messages a radiologist can act on.

Every error names the thing that is wrong (file, lesion, column) and what was expected, so the
Slicer widget can show it as is and the CLI can print it without a traceback.
"""
from __future__ import annotations


class RadiomicsResponseError(Exception):
    """Base class of every error this project raises on purpose."""


class InputError(RadiomicsResponseError, ValueError):
    """Bad input: missing file, unreadable image, mismatched geometry, missing column..."""


class LesionError(InputError):
    """One lesion cannot be processed (empty, one voxel, outside the image). Others still can."""

    def __init__(self, lesion_id: str, message: str, timepoint: str | None = None):
        self.lesion_id = lesion_id
        self.timepoint = timepoint
        where = f"lesion '{lesion_id}'" + (f" at {timepoint}" if timepoint else "")
        super().__init__(f"{where}: {message}")


class ModelFileError(InputError):
    """A model file that is malformed, of an unknown version, tampered with, or mismatched."""


class OperationCancelled(RadiomicsResponseError):
    """The user asked to stop a long operation."""
