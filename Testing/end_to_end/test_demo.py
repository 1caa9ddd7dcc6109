"""The README's main command: ``radiomics-response demo`` runs every stage on the sample case."""
from __future__ import annotations

import subprocess
import sys

import pandas as pd


def test_demo_runs_the_whole_pipeline(tmp_path):
    finished = subprocess.run([sys.executable, "-m", "NomogramScoreLib", "demo", "--out", str(tmp_path)],
                              capture_output=True, text=True, encoding="utf-8", timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert "RECIST 1.1: PD (new lesion(s): liver_4)" in finished.stdout  # the sample case has a new lesion
    lesions = pd.read_csv(tmp_path / "lesions.csv")
    assert sorted(lesions["status"]) == ["disappeared", "matched", "matched", "matched", "new"]
    for column in ("delta:zhao_shapeindex_SI4", "reldelta:zhao_logz-sigma-2-0-mm_Entropy", "followup:zhao_sigmoid_SlopeMean",
                   "delta:original_ngtdm_Contrast", "baseline:log-sigma-2-0-mm-3D_firstorder_Entropy"):
        assert column in lesions.columns, column  # every feature family reaches the lesion table
    patients = pd.read_csv(tmp_path / "patients.csv")
    assert len(patients) == 1 and patients.loc[0, "recist_category"] == "PD"
    assert 0.0 <= patients.loc[0, "signature_score"] <= 1.0
    report = (tmp_path / "report.html").read_text(encoding="utf-8")
    for element in ('id="recist-category"', "<svg", "Demo radiomics-clinical nomogram", "liver_4", "not for clinical use"):
        assert element in report
    assert (tmp_path / "patients.csv.provenance.json").is_file()
