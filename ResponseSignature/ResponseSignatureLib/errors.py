"""Exceptions with messages a radiologist can act on.

Every error names the thing that is wrong (file, lesion, column) and what was expected, so the
Slicer widget can show it as is and the CLI can print it without a traceback.
"""
from __future__ import annotations

import sys


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


def dispatch(parser, argv=None) -> int:
    """Parse (an argparse parser), run the chosen handler, and turn our errors into a one-line message
    and exit code 2 (130 when cancelled or interrupted). Here, beside the errors, so that every
    command line (this Lib's ``cli`` and ``models.cli``, the other stages') shares it without
    importing one another."""
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OperationCancelled as error:
        print(f"cancelled: {error}", file=sys.stderr)
        return 130
    except RadiomicsResponseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted: what was finished is kept (batch runs resume when re-run)", file=sys.stderr)
        return 130
