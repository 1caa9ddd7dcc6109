"""RadiomicsResponse web workstation: the radiologist's workflow in a browser.

Slicer's MRML scene, slice views and segment editor effects run in the browser through Kitware's
trame-slicer; the response panels call the RadiomicsResponse libraries and compute nothing of
their own. Installed with the optional extra ``web``; started with
``radiomics-response workstation [--demo] [--port N]``. Not part of the Slicer extension.
"""
from __future__ import annotations

__all__ = ["add_subcommand"]


def add_subcommand(subparsers) -> None:
    """Add the ``workstation`` sub-command (see cli.py); importing this package pulls in no trame."""
    from .cli import add_subcommand as add

    add(subparsers)
