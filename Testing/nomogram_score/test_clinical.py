"""NomogramScoreLib.clinical: unit conversions, implausible or missing values refused with one clear
message, values outside the training range warned about."""
from __future__ import annotations

from pathlib import Path

import pytest

from NomogramScoreLib import clinical, nomogram as nm
from NomogramScoreLib.demo import PREDICTORS
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.models.modelfile import load_model

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"


# --------------------------------------------------------------------------------------------
# clinical validation
# --------------------------------------------------------------------------------------------

DEMO_LIKE = {"model": {"predictors": [dict(p, **({"coefficient": 0.1} if p.get("type") != "categorical" else
                                                 {"coefficients": [0.1, 0.2]}), type=p.get("type", "continuous"))
                                      for p in PREDICTORS]}}
GOOD = {"signature_score": 0.5, "albumin": 35, "lymphocytes": 1.2, "cea": 4.0, "stage": "III"}


def test_unit_conversions():
    assert clinical.convert(3.5, "g/dL", "g/L") == pytest.approx(35.0)
    assert clinical.convert(35, "g/L", "g/dL") == pytest.approx(3.5)
    assert clinical.convert(1200, "/µL", "x10^9/L") == pytest.approx(1.2)
    assert clinical.convert(1.2, "10^3/uL", "×10^9/L") == pytest.approx(1.2)
    assert clinical.convert(1.2, "x10^9/L", "cells/mm3") == pytest.approx(1200)
    assert clinical.convert(5.0, "µg/L", "ng/mL") == pytest.approx(5.0)
    clean = clinical.validate_clinical_values(DEMO_LIKE, {**GOOD, "albumin": "3.5 g/dL", "lymphocytes": (1200, "cells/uL"),
                                                          "cea": {"value": 4, "unit": "ug/L"}, "stage": "iii"})
    assert clean["albumin"] == pytest.approx(35.0) and clean["lymphocytes"] == pytest.approx(1.2)
    assert clean["cea"] == pytest.approx(4.0) and clean["stage"] == "III"


@pytest.mark.parametrize("field, value, message", [
    ("albumin", 350, "albumin = 350 g/L is outside the plausible range 10–60 g/L"),
    ("albumin", "35 g/dL", "albumin = 35 g/dL (= 350 g/L) is outside the plausible range 10–60 g/L"),
    ("albumin", 3.5, 'If 3.5 was measured in g/dL, give the unit: "3.5 g/dL"'),
    ("lymphocytes", 1200, "lymphocytes = 1200 x10^9/L is outside the plausible range 0.05–50 x10^9/L"),
    ("cea", -3, "cea = -3 ng/mL is outside the plausible range 0–100000 ng/mL"),
    ("albumin", None, "albumin is missing: the nomogram needs Albumin in g/L (plausible range 10–60 g/L)"),
    ("albumin", float("nan"), "albumin is missing"),
    ("albumin", "n/a", "albumin = 'n/a' is not a number"),
    ("albumin", "35 stones", "unknown unit 'stones'"),
    ("stage", "V", "stage = 'V' is not one of the expected levels: II, III, IV"),
    ("signature_score", 1.7, "signature_score = 1.7 is outside the plausible range 0–1"),
])
def test_implausible_or_missing_values_are_refused(field, value, message):
    values = dict(GOOD)
    values[field] = value
    with pytest.raises(InputError) as caught:
        clinical.validate_clinical_values(DEMO_LIKE, values)
    assert message in str(caught.value)


def test_extrapolation_warning_and_score_refuses_bad_values():
    model = load_model(DEMO_MODEL)
    result = nm.score_patient(model, {**GOOD, "albumin": 20})
    assert any("albumin = 20 g/L lies outside the range the model was built on (25–50 g/L)" in w for w in result["warnings"])
    with pytest.raises(InputError, match="albumin = 350 g/L"):
        nm.score_patient(model, {**GOOD, "albumin": 350})
