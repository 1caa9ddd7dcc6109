"""``python -m LesionAggregateLib``: the ``aggregate`` and ``batch`` sub-commands."""
from __future__ import annotations

from ResponseSignatureLib.cli_support import exit_process

from .cli import main

if __name__ == "__main__":
    exit_process(main())
