"""NomogramScoreLib.nomogram_cli: ``nomogram train / score / evaluate / report`` and ``report`` as a
researcher runs them; units remembered, perfect separation refused in one message."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from NomogramScoreLib import nomogram as nm
from NomogramScoreLib.demo import demo_cohort
from ResponseSignatureLib.models.modelfile import load_model


# --------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------

def run_cli(*argv: str) -> int:
    import argparse

    from NomogramScoreLib import nomogram_cli
    from ResponseSignatureLib.cli_support import dispatch

    parser = argparse.ArgumentParser(prog="radiomics-response")
    nomogram_cli.add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser, list(argv))


def test_cli_train_score_evaluate_report(tmp_path, capsys):
    table = demo_cohort(n=300)
    table["recist_category"] = "SD"
    patients = tmp_path / "patients.csv"
    table.to_csv(patients, index=False)
    model_path = tmp_path / "nomogram.json"
    assert run_cli("nomogram", "train", "--table", str(patients), "--outcome", "no_benefit_6m", "--predictors",
                   "signature_score", "albumin", "lymphocytes", "cea", "stage", "--units", "albumin=g/L",
                   "lymphocytes=x10^9/L", "cea=ng/mL", "--categorical", "stage", "--log", "cea",
                   "--out", str(model_path)) == 0
    model = load_model(model_path)
    assert model["kind"] == "nomogram_logistic" and model["inputs"][0] == "signature_score"
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=3.4 g/dL", "lymphocytes=1.1", "cea=42", "stage=IV", "--out", str(tmp_path / "r.json"),
                   "--gauge", str(tmp_path / "g.svg"), "--chart", str(tmp_path / "c.svg")) == 0
    result = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    expected = nm.score_patient(model, {"signature_score": 0.6, "albumin": 34, "lymphocytes": 1.1, "cea": 42, "stage": "IV"})
    assert result["risk"] == pytest.approx(expected["risk"])
    assert (tmp_path / "g.svg").read_text(encoding="utf-8").startswith("<svg") and "nomogram-chart" in (tmp_path / "c.svg").read_text(encoding="utf-8")
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=34 g/dL", "lymphocytes=1.1", "cea=42", "stage=IV") == 2
    assert "albumin = 34 g/dL (= 340 g/L) is outside the plausible range 10–60 g/L" in capsys.readouterr().err
    assert run_cli("nomogram", "evaluate", "--model", str(model_path), "--table", str(patients), "--outcome",
                   "no_benefit_6m", "--out", str(tmp_path / "m.json")) == 0
    assert json.loads((tmp_path / "m.json").read_text(encoding="utf-8"))["auc"] > 0.6
    report = tmp_path / "report.html"
    assert run_cli("report", "--patient", "SYN0007", "--patients", str(patients), "--nomogram-model", str(model_path),
                   "--clinical", "albumin=3.0 g/dL", "--out", str(report)) == 0
    html = report.read_text(encoding="utf-8")
    assert "SYN0007" in html and 'id="recist-category" class="big">SD<' in html and "30 g/L" in html
    assert run_cli("nomogram", "report", "--patient", "nobody", "--patients", str(patients), "--out", str(report)) == 2


# --------------------------------------------------------------------------------------------
# units remembered, separation refused (the researcher workflow)
# --------------------------------------------------------------------------------------------

def test_standard_units_are_remembered_and_values_converted_or_read_as_given(tmp_path, capsys):
    table = demo_cohort(n=200)
    patients = tmp_path / "patients.csv"
    table.to_csv(patients, index=False)
    model_path = tmp_path / "nomogram.json"
    assert run_cli("nomogram", "train", "--table", str(patients), "--outcome", "no_benefit_6m", "--predictors",
                   "signature_score", "albumin", "lymphocytes", "--out", str(model_path)) == 0  # no --units
    model = load_model(model_path)
    units = {p["name"]: p["unit"] for p in model["model"]["predictors"]}
    assert units == {"signature_score": "", "albumin": "g/L", "lymphocytes": "x10^9/L"}
    capsys.readouterr()
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=3.4 g/dL", "lymphocytes=1100 /uL") == 0
    printed = capsys.readouterr().out
    assert "3.4 g/dL = 34 g/L" in printed and "1100 /uL = 1.1 x10^9/L" in printed
    assert run_cli("nomogram", "score", "--model", str(model_path), "--clinical", "signature_score=0.6",
                   "albumin=34", "lymphocytes=1.1") == 0
    assert "34 g/L (no unit given: read in the model's unit)" in capsys.readouterr().out
    expected = nm.score_patient(model, {"signature_score": 0.6, "albumin": 34.0, "lymphocytes": 1.1})
    assert expected["values"]["albumin"] == 34.0

    # a training column in g/dL read as g/L would be implausible: refused, naming the unit that fits
    table.assign(albumin=table["albumin"] / 10).to_csv(tmp_path / "gdl.csv", index=False)
    assert run_cli("nomogram", "train", "--table", str(tmp_path / "gdl.csv"), "--outcome", "no_benefit_6m",
                   "--predictors", "signature_score", "albumin", "--out", str(tmp_path / "x.json")) == 2
    assert "--units albumin=g/dL" in capsys.readouterr().err
    assert run_cli("nomogram", "train", "--table", str(tmp_path / "gdl.csv"), "--outcome", "no_benefit_6m",
                   "--predictors", "signature_score", "albumin", "--units", "albumin=g/dL",
                   "--out", str(tmp_path / "x.json")) == 0


def test_perfect_separation_is_one_message_and_refused_unless_allowed(tmp_path, capsys, recwarn):
    rng = np.random.default_rng(5)
    score = rng.uniform(0, 1, 60)
    table = pd.DataFrame({"patient_id": [f"P{i}" for i in range(60)], "signature_score": score,
                          "albumin": rng.normal(38, 4, 60), "no_benefit": (score > 0.5).astype(int)})
    table.to_csv(tmp_path / "separated.csv", index=False)
    command = ["nomogram", "train", "--table", str(tmp_path / "separated.csv"), "--outcome", "no_benefit",
               "--predictors", "signature_score", "albumin", "--out", str(tmp_path / "n.json")]
    assert run_cli(*command) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "perfectly separated (signature_score alone splits it)" in error
    assert "--allow-separation" in error and not (tmp_path / "n.json").exists()
    assert not [w for w in recwarn if "statsmodels" in str(w.filename)]  # no flood of raw warnings
    assert run_cli(*command, "--allow-separation") == 0
    assert "warning: fitted on perfectly separated data" in capsys.readouterr().out
    model = load_model(tmp_path / "n.json")
    with np.errstate(all="raise"):  # scoring such a model must not overflow
        result = nm.score_patient(model, {"signature_score": 0.99, "albumin": 38})
    assert 0.0 <= result["ci_low"] <= result["risk"] <= result["ci_high"] <= 1.0
