"""Helpers of the DICOM tests: dciodvfy, the demo case as DICOM (written once per test session)."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def dciodvfy(path: Path) -> tuple[list[str], list[str]]:
    """(errors, warnings) dciodvfy (dicom3tools) reports for one file; skip the test if it is absent."""
    tool = shutil.which("dciodvfy")
    if tool is None:
        pytest.skip("dciodvfy not installed (Debian package dicom3tools; Testing/run_tests.sh installs it)")
    run = subprocess.run([tool, str(path)], capture_output=True, text=True, timeout=300)
    lines = (run.stdout + run.stderr).splitlines()
    return ([line for line in lines if line.startswith("Error")], [line for line in lines if line.startswith("Warning")])


#: the only warnings dciodvfy may give on our SR: the private coding schemes (documented in docs/dicom.md)
ALLOWED_SR_WARNINGS = ("Unrecognized defined term <99IBSI>", "Unrecognized defined term <99RADRESP>")


def unexpected_warnings(warnings: list[str], allowed=ALLOWED_SR_WARNINGS) -> list[str]:
    return [line for line in warnings if not any(text in line for text in allowed)]


def dicom_sample_case(folder: Path, patient_id: str = "sample") -> dict:
    """The synthetic demo case with its CT as DICOM series and its lesions as DICOM SEGs."""
    pytest.importorskip("highdicom")
    from ResponseSignatureLib.sample_data import make_sample_case

    return make_sample_case(folder, seed=0, patient_id=patient_id, dicom=True)
