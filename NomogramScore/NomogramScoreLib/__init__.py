"""NomogramScoreLib: patient + clinical variables -> risk with CI, points, gauge, report. GUI-free.

Also home of the ``radiomics-response`` command, which gathers every stage's sub-commands (this is
the most downstream library, so it may import the other two).
"""
from __future__ import annotations

# Register the nomogram model kinds with the model-file loader as soon as this package is used.
from . import nomogram  # noqa: E402,F401
