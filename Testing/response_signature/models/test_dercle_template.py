"""The Dercle 2020 model template: train its four-feature random forest on a (synthetic) cohort."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ResponseSignatureLib.models import apply_model, load_model

TEMPLATE = Path(__file__).resolve().parents[3] / "ResponseSignature" / "Resources" / "Templates" / "dercle2020_signature_template.json"


def test_template_trains_a_four_input_forest(tmp_path):
    template = json.loads(TEMPLATE.read_text(encoding="utf-8"))
    rng = np.random.default_rng(3)
    n = 80
    table = pd.DataFrame({"patient_id": [f"P{i:03d}" for i in range(n)]})
    for column in template["inputs"]:
        table[column] = rng.normal(size=n)
    table["noise"] = rng.normal(size=n)
    signal = table[template["inputs"][0]] - table[template["inputs"][3]]
    table["no_benefit"] = (signal + rng.normal(scale=0.5, size=n) > 0).astype(int)
    table.to_csv(tmp_path / "patients.csv", index=False)
    # found by its name from any folder (here: the test's own temporary folder)
    command = [sys.executable, "-m", "ResponseSignatureLib", "train", "--template", "dercle2020_signature", "--method",
               "rf", "--table", "patients.csv", "--outcome", "no_benefit", "--n-trees", "20",
               "--outer-folds", "0", "--out", "model.json"]
    finished = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=300, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    model = load_model(tmp_path / "model.json")
    assert model["inputs"] == template["inputs"]  # the template fixes the inputs: all four, nothing else
    assert model["model_card"]["template"] == TEMPLATE.name
    assert model["threshold"]["value"] == 0.5
    assert "Dercle" in " ".join(model["model_card"]["references"])
    scored = apply_model(model, table)
    assert ((scored["score"] >= 0.5).astype(int) == scored["class"]).all()
    wrong = subprocess.run(command[:7] + ["elasticnet"] + command[8:], capture_output=True, text=True, encoding="utf-8",
                           timeout=300, cwd=tmp_path)
    assert wrong.returncode == 2 and "--method rf" in wrong.stderr

    # an input without a value for any patient (SI4 of convex lesions: reldelta 0/0) is an error, not a drop
    si4 = template["inputs"][0]
    table.assign(**{si4: np.nan}).to_csv(tmp_path / "patients.csv", index=False)
    empty = subprocess.run(command, capture_output=True, text=True, encoding="utf-8", timeout=300, cwd=tmp_path)
    assert empty.returncode == 2 and f"'{si4}' is empty" in empty.stderr and "Traceback" not in empty.stderr
