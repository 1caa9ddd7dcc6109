"""ResponseSignatureLib: what the images say, GUI-free.

Baseline and follow-up images + segmentations -> per-lesion measurements (RECIST diameters,
volume, mean HU), radiomic features per time point, their change, lesion matching across time
points and the patient's RECIST 1.1 response. Imports numpy/SimpleITK/pandas (and MRML classes
only in ``mrml_bridge``); never qt, ctk or slicer.app.
"""
from __future__ import annotations

__version__ = "0.1.0"
