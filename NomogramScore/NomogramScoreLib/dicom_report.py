"""Patient-level results in the follow-up's DICOM SR: signature score and nomogram risk.

ResponseSignatureLib.dicom_sr writes the lesion groups and the RECIST 1.1 group of the TID 1500
report; this module adds, for the same patient:

- "Radiomics signature" (TID 1501): ``signature_score`` (99RADRESP, no unit), the threshold, and the
  class as a qualitative evaluation (SCT High risk / Low risk); algorithm = model name, version,
  SHA-256;
- "Nomogram" (TID 1501): ``risk`` (probability 0-1 of the model's outcome, meaning = the outcome's
  label), ``risk_ci_low`` / ``risk_ci_high`` (its confidence interval), ``total_points``, and the
  risk band (``risk_band``: low / high / indeterminate when the CI spans the cut-off).

``dicom_sr.read_sr`` returns these values by the same keys.
"""
from __future__ import annotations

from typing import Any

from ResponseSignatureLib.dicom_io import require_dicom
from ResponseSignatureLib.dicom_sr import add_texts, code, patient_tracking, private_code, unit

HIGH_RISK = ("15508007", "SCT", "High risk")
LOW_RISK = ("75976002", "SCT", "Low risk")


def patient_results(lesion_table, signature_model: dict | None, nomogram_model: dict | None,
                    clinical: dict | None) -> tuple[dict | None, dict | None]:
    """(signature, risk) of one patient through ``patient_pipeline.from_lesion_table``: the signature
    on the volume-weighted patient row, the nomogram on that row with the clinical values (None
    when not asked)."""
    from .patient_pipeline import from_lesion_table

    if signature_model is None:
        return None, None
    result = from_lesion_table(lesion_table, signature_model, nomogram_model, clinical)
    return result.signature, result.risk


def patient_groups(patient_id: str, signature: dict | None, risk: dict | None) -> list:
    """The SR measurement groups of the signature and the nomogram (none for what is None)."""
    groups = []
    if signature is not None:
        groups.append(_signature_group(patient_id, signature))
    if risk is not None:
        groups.append(_nomogram_group(patient_id, risk))
    return groups


def _algorithm(name: Any, version: Any, sha256: Any):
    _, hd = require_dicom()
    return hd.sr.AlgorithmIdentification(name=str(name)[:64], version=str(version)[:64],
                                         parameters=[f"sha256 {sha256}"] if sha256 else None)


def _signature_group(patient_id: str, signature: dict):
    _, hd = require_dicom()
    high = bool(signature["class"])
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=patient_tracking(patient_id, "signature", "Radiomics signature"),
        algorithm_id=_algorithm(signature["name"], signature["version"], signature.get("sha256")),
        measurements=[
            hd.sr.Measurement(name=private_code("signature_score", "Radiomics signature score"),
                              value=float(signature["score"]), unit=unit("1")),
            hd.sr.Measurement(name=private_code("signature_cut", "Signature threshold (high risk above)"),
                              value=float(signature["threshold"]), unit=unit("1"))],
        qualitative_evaluations=[hd.sr.QualitativeEvaluation(
            name=private_code("signature_class", "Radiomics signature class"),
            value=code(*(HIGH_RISK if high else LOW_RISK)))])


def _nomogram_group(patient_id: str, risk: dict):
    _, hd = require_dicom()
    outcome = str((risk.get("outcome") or {}).get("label") or "Predicted probability of the outcome")
    level = float(risk.get("ci_level") or 0.95)
    numbers = {"risk": (outcome, risk["risk"]),
               "risk_ci_low": (f"Lower limit of the {level:.0%} confidence interval of the risk", risk.get("ci_low")),
               "risk_ci_high": (f"Upper limit of the {level:.0%} confidence interval of the risk", risk.get("ci_high")),
               "total_points": ("Nomogram total points", risk.get("total_points"))}
    measurements = [hd.sr.Measurement(name=private_code(key, meaning), value=float(value), unit=unit("1"))
                    for key, (meaning, value) in numbers.items() if value is not None]
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=patient_tracking(patient_id, "nomogram", "Nomogram"),
        algorithm_id=_algorithm(risk.get("model_name"), risk.get("model_version"), risk.get("model_sha256")),
        measurements=measurements)
    add_texts(group, {"risk_band": ("Risk band (indeterminate when the CI spans the cut-off)", risk.get("band"))})
    return group
