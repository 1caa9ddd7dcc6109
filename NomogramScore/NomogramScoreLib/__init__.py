"""NomogramScoreLib: patient + clinical variables -> risk with CI, points, gauge, report. GUI-free.

Also home of the ``radiomics-response`` command, which gathers every stage's sub-commands, and of
the patient pipeline (``patient_pipeline``) that the command line, the demo, the workstation and the
Slicer modules share (this is the most downstream library, so it may import the other two).

The package registers its model kinds (``nomogram_logistic``, ``nomogram_cox``) with the
model-file loader; ``nomogram.load_nomogram(path)`` reads and checks a nomogram file.
"""
from __future__ import annotations

from ResponseSignatureLib.models.modelfile import register_kind

from .nomogram import KINDS, validate_nomogram

for _kind in KINDS:
    register_kind(_kind, validate_nomogram)
