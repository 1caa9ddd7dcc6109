"""Clinical wording follows the model's declared outcome: models trained with a favourable outcome
never say "risk" (command line, gauge, report, model file); older model files without the outcome
block still load and are reported as "direction unspecified"; one number formatting; and the
ROC / calibration plots keep their text off the data."""
from __future__ import annotations

import argparse
import copy
import html as html_lib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from NomogramScoreLib import nomogram as nm
from NomogramScoreLib import nomogram_cli
from NomogramScoreLib.demo import demo_cohort
from NomogramScoreLib.report import build_report
from ResponseSignatureLib import formatting
from ResponseSignatureLib.cli_support import dispatch
from ResponseSignatureLib.errors import ModelFileError
from ResponseSignatureLib.models import cli as signature_cli
from ResponseSignatureLib.models import plots
from ResponseSignatureLib.models.modelfile import content_hash, load_model
from ResponseSignatureLib.models.outcome import declare_outcome, outcome_terms, read_against_cutoff

REPO = Path(__file__).resolve().parents[3]
DEMO_NOMOGRAM = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"
DEMO_SIGNATURE = REPO / "ResponseSignature" / "Resources" / "Models" / "demo_signature.json"
RISK = re.compile(r"\brisk", re.IGNORECASE)
PATIENT = ["signature_score=0.8", "albumin=44", "lymphocytes=2.0", "cea=3", "stage=II"]


def run(add_subcommands, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="radiomics-response")
    add_subcommands(parser.add_subparsers(dest="command", required=True))
    return dispatch(parser, list(argv))


def svg_text(svg: str) -> str:
    root = ET.fromstring(svg)
    return " ".join(" ".join(e.itertext()) for e in root.iter() if e.tag.split("}")[-1] in ("text", "title", "desc"))


def page_text(page: str) -> str:
    page = re.sub(r"<(style|details).*?</\1>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def json_values(data) -> list[str]:
    """Every text value of a JSON document (keys such as 'risk_bands' are names, not wording)."""
    if isinstance(data, dict):
        return [text for value in data.values() for text in json_values(value)]
    if isinstance(data, list):
        return [text for value in data for text in json_values(value)]
    return [data] if isinstance(data, str) else []


@pytest.fixture(scope="module")
def response_cohort(tmp_path_factory) -> Path:
    """The demo cohort with the favourable outcome 'response' = 1 - no clinical benefit."""
    table = demo_cohort(n=300)
    table["response"] = 1 - table["no_benefit_6m"]
    path = tmp_path_factory.mktemp("cohort") / "patients.csv"
    table.to_csv(path, index=False)
    return path


def test_nomogram_trained_with_a_favourable_outcome_never_says_risk(response_cohort, tmp_path, capsys):
    model_path = tmp_path / "response.json"
    assert run(nomogram_cli.add_subcommands, "nomogram", "train", "--table", str(response_cohort), "--outcome",
               "response", "--outcome-favourable", "--outcome-label", "clinical benefit at 6 months", "--predictors",
               "signature_score", "albumin", "lymphocytes", "cea", "stage", "--units", "albumin=g/L", "cea=ng/mL",
               "--categorical", "stage", "--log", "cea", "--name", "benefit nomogram", "--out", str(model_path)) == 0
    model = load_model(model_path)
    assert model["outcome"] == {"name": "response", "positive_means": "clinical benefit at 6 months", "unfavourable": False,
                                "label": "Probability of clinical benefit at 6 months",
                                "above_cutoff": "higher probability of clinical benefit at 6 months",
                                "below_cutoff": "lower probability of clinical benefit at 6 months"}
    assert not [text for text in json_values(model) if RISK.search(text)]
    capsys.readouterr()
    gauge, chart = tmp_path / "gauge.svg", tmp_path / "chart.svg"
    assert run(nomogram_cli.add_subcommands, "nomogram", "score", "--model", str(model_path), "--clinical", *PATIENT,
               "--gauge", str(gauge), "--chart", str(chart)) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("Probability of clinical benefit at 6 months: ")
    result = nm.score_patient(model, dict(item.split("=") for item in PATIENT))
    assert result["reading"]["text"] in printed and result["risk"] > result["threshold"]  # a good prognosis
    for text in (printed, svg_text(gauge.read_text(encoding="utf-8")), svg_text(chart.read_text(encoding="utf-8"))):
        assert not RISK.search(text), text
    report = tmp_path / "report.html"
    assert run(nomogram_cli.add_subcommands, "report", "--patient", "SYN0003", "--patients", str(response_cohort),
               "--nomogram-model", str(model_path), "--out", str(report)) == 0
    page = report.read_text(encoding="utf-8")
    words = page_text(page)
    assert "Probability of clinical benefit at 6 months" in words and "favourable, as declared" in words
    assert not RISK.search(words), RISK.findall(words)


def test_signature_trained_with_a_favourable_outcome_never_says_risk(response_cohort, tmp_path, capsys):
    model_path = tmp_path / "signature.json"
    assert run(signature_cli.add_subcommands, "train", "--table", str(response_cohort), "--outcome", "response",
               "--method", "rf", "--features", "signature_score,albumin,lymphocytes,cea", "--n-trees", "20",
               "--outer-folds", "0", "--outcome-favourable", "--outcome-label", "response", "--out", str(model_path)) == 0
    model = load_model(model_path)
    assert model["outcome"]["unfavourable"] is False and model["outcome"]["label"] == "Probability of response"
    assert not [text for text in json_values(model) if RISK.search(text)]
    signature = {"name": model["name"], "version": model["version"], "sha256": model["sha256"], "score": 0.71,
                 "threshold": model["threshold"]["value"], "outcome": model["outcome"]}
    words = page_text(build_report({"patient_id": "P1"}, signature=signature))
    reading = read_against_cutoff(0.71, model["threshold"]["value"], terms=outcome_terms(model), show=formatting.score)
    assert reading.text in words and "probability of response" in words
    assert not RISK.search(words), RISK.findall(words)


def test_risk_words_are_refused_for_an_outcome_not_declared_unfavourable():
    with pytest.raises(ModelFileError, match="says 'risk'"):
        declare_outcome("response", "response", False, label="Risk of response")
    doc = load_model(DEMO_NOMOGRAM)
    doc["outcome"] = {**doc["outcome"], "unfavourable": None}  # 'high risk' words left behind
    with pytest.raises(ModelFileError, match="not declared unfavourable"):
        load_model({**doc, "sha256": content_hash(doc)})
    assert declare_outcome("pd", "Risk of progression", True)["positive_means"] == "progression"


def test_older_model_files_without_the_outcome_block_load_with_the_direction_unspecified():
    doc = copy.deepcopy(load_model(DEMO_NOMOGRAM))
    del doc["outcome"]
    doc["model"]["outcome"] = {"name": "no_benefit_6m", "label": "Risk of no clinical benefit at 6 months"}  # old layout
    old = load_model({**doc, "sha256": content_hash(doc)})
    terms = outcome_terms(old)
    assert (terms.unfavourable, terms.stated, terms.positive_means) == (None, False, "no clinical benefit at 6 months")
    result = nm.score_patient(old, {"signature_score": 0.64, "albumin": 34, "lymphocytes": 1.1, "cea": 42, "stage": "IV"})
    assert result["outcome"]["label"] == "Probability of no clinical benefit at 6 months"
    words = " ".join(page_text(build_report({"patient_id": "P"}, nomogram_result=result, model=old)).split())
    assert "direction unspecified" in words
    assert not re.search(r"\b(high|low) risk\b", words, re.IGNORECASE)  # no judgement without a direction
    signature_doc = copy.deepcopy(load_model(DEMO_SIGNATURE))
    del signature_doc["outcome"]
    old_signature = load_model({**signature_doc, "sha256": content_hash(signature_doc)})
    assert outcome_terms(old_signature).positive_means == "outcome = 1"


def test_shipped_demo_models_declare_their_outcome_and_verify():
    nomogram, signature = load_model(DEMO_NOMOGRAM), load_model(DEMO_SIGNATURE)  # hashes checked on load
    assert nomogram["outcome"]["unfavourable"] is True and signature["outcome"]["unfavourable"] is True
    assert nomogram["outcome"]["label"] == "Risk of no clinical benefit at 6 months"
    assert [b["name"] for b in nomogram["model"]["risk_bands"]] == ["Low risk", "High risk"]
    assert nomogram["model"]["risk_bands"][0]["upper"] == nomogram["threshold"]["value"]


@pytest.mark.parametrize("value, low, high, cut, kind", [
    (0.48, 0.32, 0.65, 0.49, "indeterminate"), (0.48, 0.32, 0.65, 0.32, "above"), (0.48, 0.32, 0.65, 0.66, "below"),
    (0.48, 0.32, 0.65, 0.65, "indeterminate"), (0.48, None, None, 0.49, "below"), (0.48, None, None, 0.48, "above"),
])
def test_three_way_reading_rule(value, low, high, cut, kind):
    assert read_against_cutoff(value, cut, low, high).kind == kind


def test_one_number_formatting():
    assert [formatting.percent(p) for p in (0.0004, 0.042, 0.4849, 0.935, 0.9996)] == ["<0.1 %", "4.2 %", "48 %",
                                                                                      "93.5 %", ">99.9 %"]
    assert formatting.ci_text(0.65, 0.32) == "95 % CI 32 to 65 %"
    assert formatting.with_ci(0.48, 0.32, 0.65) == "48 % (95 % CI 32 to 65 %)"
    assert [formatting.change_percent(c) for c in (0.287, -100.0, 0.0, float("nan"))] == ["+0.3 %", "-100.0 %",
                                                                                        "0.0 %", "–"]
    assert [formatting.number(v) for v in (None, float("nan"), "", True, 3, -0.04, 61.94)] == ["–", "–", "–", "yes", "3",
                                                                                               "-0.04", "61.9"]
    assert formatting.number(-0.0001, 1) == "-0.0001" and formatting.number(-0.04, 0) == "-0.04"
    assert formatting.quantity(61.94, "mm") == "61.9 mm" and formatting.quantity(None, "mm") == "–"


# --------------------------------------------------------------------------------------------
# ROC and calibration plots: text never crossed by data, AUC 1 visible
# --------------------------------------------------------------------------------------------

def _inside_plot(x: float, y: float) -> bool:
    return plots.LEFT < x < plots.LEFT + plots.SIZE and plots.TOP < y < plots.TOP + plots.SIZE


def _check_layout(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    for text in root.iter(f"{ns}text"):
        x, y = float(text.get("x")), float(text.get("y"))
        assert not _inside_plot(x, y - 4), f"text {''.join(text.itertext())!r} lies in the data area"
        assert float(text.get("font-size") or root.get("font-size")) >= 13
    return root


def test_plots_keep_text_off_the_data_and_show_an_roc_curve_at_auc_1():
    y = np.array([0] * 20 + [1] * 20)
    perfect = np.r_[np.linspace(0.05, 0.4, 20), np.linspace(0.6, 0.95, 20)]
    root = _check_layout(plots.roc_svg(y, perfect, "ROC"))
    assert "AUC 1.000" in " ".join(root.itertext())
    curve = root.find(".//{http://www.w3.org/2000/svg}polyline[@class='data']")
    coords = [tuple(map(float, pair.split(","))) for pair in curve.get("points").split()]
    # every point strictly inside the frame (not on it): visible even along sensitivity 1 / 1 - specificity 0
    for x, y_ in coords:
        assert plots.LEFT + 3 <= x <= plots.LEFT + plots.SIZE - 3 and plots.TOP + 3 <= y_ <= plots.TOP + plots.SIZE - 3
    assert float(curve.get("stroke-width")) >= 2.5
    rng = np.random.default_rng(3)
    outcome = (rng.random(300) < np.linspace(0.02, 0.98, 300)).astype(int)
    _check_layout(plots.calibration_svg(outcome, np.linspace(0.02, 0.98, 300), "Calibration"))
