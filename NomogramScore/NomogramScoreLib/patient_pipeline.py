"""The patient pipeline: lesion result -> patient row -> signature -> nomogram -> report.

One home for the chain that the command line (``report``; ``pacs run`` and the DICOM SR's patient
results, ``dicom_report``), the whole-pipeline demo (``radiomics-response demo``), the web
workstation and the Slicer modules (Lesion Aggregate, Nomogram Score) run, so that the same patient
gives the same result whichever front end computed it:

1. **patient row** — the lesion table aggregated into one row (``LesionAggregateLib.aggregate``,
   volume-weighted by default) with the patient's RECIST 1.1 result;
2. **signature** — a signature model file scores the row (or the lesions, for a lesion-level
   model: mean of the lesion scores); the row gets ``signature_score`` and ``signature_class``
   (``ResponseSignatureLib.models.inference.with_signature_scores``);
3. **clinical values** — added to the row as given (units are kept as typed, e.g. "3.4 g/dL");
4. **nomogram** — a nomogram model file turns the row's values into a risk with its CI and the
   points per predictor (``nomogram.score_patient``, which checks and converts units);
5. **report** — one HTML page (``report.write_report``).

Every step returns a new ``PatientResult``; provenance names each model by name, version and
SHA-256. ``from_lesion_result`` starts from a freshly computed lesion table, ``from_lesion_table``
from one patient's lesion table rows (a file, a DICOM SR read back), ``each_patient`` from a
lesion table of several patients (Slicer's Lesion Aggregate module; ``patient_rows`` joins their
rows into a patient table), ``from_tables`` from the files earlier commands wrote (patient table,
lesion table).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.models.inference import SIGNATURE_CLASS, SIGNATURE_SCORE, model_identity
from ResponseSignatureLib.provenance import find_recorded

#: aggregation of the patient row unless told otherwise (Dercle 2020's volume-weighted mean)
AGGREGATION = "volume_weighted"
#: RECIST / volumetric / Choi keys of a patient row (ResponseSignatureLib.recist.patient_recist_summary)
RECIST_KEYS = ("recist_category", "recist_reason", "recist_targets", "baseline_sum_mm", "followup_sum_mm", "nadir_mm",
               "percent_change_from_baseline", "percent_change_from_nadir", "volumetric_change_percent",
               "volumetric_category", "choi_category")


@dataclass
class PatientResult:
    """One patient through the pipeline (fields are filled as the steps run)."""

    patient: pd.DataFrame                       # one-row patient table: aggregates, RECIST, signature, clinical
    lesions: pd.DataFrame | None = None         # the patient's lesion table rows
    recist: dict | None = None                  # RECIST 1.1 / volumetric / Choi result
    signature: dict | None = None               # score, class, threshold, name, version, sha256
    risk: dict | None = None                    # nomogram.score_patient's result
    nomogram: dict | None = None                # the nomogram model document
    provenance: dict = field(default_factory=dict)
    details: dict = field(default_factory=dict)  # extra facts for the report header (e.g. diagnosis)

    @property
    def patient_id(self) -> str:
        return str(self.patient["patient_id"].iloc[0])

    @property
    def row(self) -> dict:
        """The patient row as plain Python values (NaN as None)."""
        return _first_row(self.patient)


# --------------------------------------------------------------------------------------------
# the steps
# --------------------------------------------------------------------------------------------
def from_lesion_result(lesion_result, signature_model: Mapping | None = None, nomogram_model: Mapping | None = None,
                       clinical: Mapping[str, Any] | None = None, method: str = AGGREGATION) -> PatientResult:
    """Run the chain on one patient's lesion result (``pipeline.LesionTableResult``): aggregate,
    then the signature, the clinical values and the nomogram when given."""
    result = from_lesion_table(lesion_result.table, method=method)
    result = replace(result, recist=dict(lesion_result.recist),
                     provenance={"lesion_stage": lesion_result.provenance, **result.provenance})
    return _later_steps(result, signature_model, nomogram_model, clinical)


def from_lesion_table(lesions: pd.DataFrame, signature_model: Mapping | None = None,
                      nomogram_model: Mapping | None = None, clinical: Mapping[str, Any] | None = None,
                      method: str = AGGREGATION, columns=None, location: str | None = None) -> PatientResult:
    """``from_lesion_result`` from one patient's lesion table rows alone (RECIST from the rows)."""
    results = each_patient(lesions, method=method, columns=columns, location=location)
    if len(results) != 1:
        raise InputError(f"The patient pipeline takes one patient; the lesion table holds {len(results)}.")
    return _later_steps(results[0], signature_model, nomogram_model, clinical)


def each_patient(lesions: pd.DataFrame, signature_model: Mapping | None = None, method: str = AGGREGATION,
                 columns=None, location: str | None = None) -> list[PatientResult]:
    """One result per patient of a lesion table (patients sorted by id): the patient row aggregated
    with ``method`` over ``columns`` (None: every numeric lesion column) of the lesions at
    ``location`` (None: all; ``LesionAggregateLib.aggregate.patient_table``), scored by the
    signature when given."""
    from LesionAggregateLib.aggregate import patient_table

    patients = patient_table(lesions, method=method, columns=columns, location=location)
    ids = lesions["patient_id"].astype(str)
    results = []
    for index in range(len(patients)):
        row = patients.iloc[[index]].reset_index(drop=True)
        row.attrs = dict(patients.attrs)
        values = _first_row(row)
        own = lesions[ids == str(values["patient_id"])].reset_index(drop=True)
        result = PatientResult(patient=row, lesions=own, recist=_recist_of(values),
                               provenance={"aggregation": patients.attrs.get("provenance")})
        results.append(add_signature(result, signature_model) if signature_model is not None else result)
    return results


def patient_rows(results: list[PatientResult]) -> pd.DataFrame:
    """The patient rows of several results as one patient table (column metadata kept; provenance
    of the first result, since ``each_patient`` ran every patient with the same settings)."""
    from LesionAggregateLib.aggregate import ColumnMetadata

    if not results:
        raise InputError("No patient to put in the patient table.")
    table = pd.concat([result.patient for result in results], ignore_index=True, sort=False)
    table.attrs = {"columns": ColumnMetadata(table.columns), "provenance": provenance(results[0])}
    return table


def from_tables(patients: pd.DataFrame, patient_id: str, lesions: pd.DataFrame | None = None,
                signature_model: Mapping | None = None, nomogram_model: Mapping | None = None,
                clinical: Mapping[str, Any] | None = None) -> PatientResult:
    """Start from files earlier steps wrote: the patient's row of a patient table (with its
    RECIST, ``signature_score`` and clinical columns when present) and its lesion table rows."""
    if "patient_id" not in patients.columns:
        raise InputError("The patient table has no 'patient_id' column.")
    row = patients[patients["patient_id"].astype(str) == str(patient_id)].reset_index(drop=True)
    if row.empty:
        raise InputError(f"Patient '{patient_id}' is not in the patient table ({len(patients)} patients).")
    upstream = dict(patients.attrs.get("provenance") or {})
    row.attrs = {}
    if lesions is not None and "patient_id" in lesions.columns:
        lesions = lesions[lesions["patient_id"].astype(str) == str(patient_id)].reset_index(drop=True)
    values = _first_row(row)
    result = PatientResult(patient=row, lesions=lesions, recist=_recist_of(values),
                           provenance={"patient_table": patients.attrs.get("source_file", "given"),
                                       "extraction_settings_sha256": find_recorded(upstream, "extraction_settings_sha256")
                                       or "not recorded"})
    if signature_model is None and values.get(SIGNATURE_SCORE) is not None:
        identity = upstream.get("signature_model")
        result = replace(result, signature=_signature_from_row(values, identity),
                         provenance={**result.provenance, "signature_model": identity or "not recorded"})
    return _later_steps(result, signature_model, nomogram_model, clinical)


def _later_steps(result: PatientResult, signature_model, nomogram_model, clinical) -> PatientResult:
    if signature_model is not None:
        result = add_signature(result, signature_model)
    if clinical:
        result = add_clinical(result, clinical)
    if nomogram_model is not None:
        result = add_nomogram(result, nomogram_model)
    return result


def add_signature(result: PatientResult, model: Mapping) -> PatientResult:
    """Score the patient with a signature model; keeps a ``signature_score`` the row already has
    (e.g. from ``apply --table-out``) and then only records the model's identity and threshold."""
    from ResponseSignatureLib.models.inference import with_signature_scores

    row = result.row
    if row.get(SIGNATURE_SCORE) is None:
        lesions = result.lesions if model["level"] == "lesion" else None
        patient = with_signature_scores(model, result.patient, lesions)
        row = _first_row(patient)
    else:
        patient = result.patient
    signature = {**_signature_from_row(row, model_identity(model)), "threshold": float(model["threshold"]["value"]),
                 "outcome": model.get("outcome")}
    if model["level"] == "patient" and result.lesions is not None:
        signature["aggregation"] = f"{AGGREGATION.replace('_', '-')} mean of the lesion columns"
    return replace(result, patient=patient, signature=signature,
                   provenance={**result.provenance, "signature_model": model_identity(model)})


def add_clinical(result: PatientResult, values: Mapping[str, Any]) -> PatientResult:
    """The patient row with clinical values added (or replaced), as given (units as typed)."""
    patient = result.patient.copy()
    for name, value in values.items():
        patient[name] = [value]
    return replace(result, patient=patient)


def add_nomogram(result: PatientResult, model: Mapping, values: Mapping[str, Any] | None = None) -> PatientResult:
    """Risk with CI and points from the row's values (``values`` override or add some)."""
    from .nomogram import score_patient

    inputs = {**result.row, **dict(values or {})}
    risk = score_patient(model, inputs)
    return replace(result, risk=risk, nomogram=dict(model),
                   provenance={**result.provenance, "nomogram_model": model_identity(model)})


def _recist_of(row: Mapping[str, Any]) -> dict | None:
    """The RECIST 1.1 / volumetric / Choi values of a patient row (None if it has none)."""
    return {key: row[key] for key in RECIST_KEYS if row.get(key) is not None} or None


def _signature_from_row(row: Mapping[str, Any], identity: Mapping | None) -> dict:
    """The signature as the report shows it: score and class from the row, the model's identity."""
    signature = {**dict(identity or {}), "score": float(row[SIGNATURE_SCORE])}
    if row.get(SIGNATURE_CLASS) is not None:
        signature["class"] = int(row[SIGNATURE_CLASS])
    return signature


# --------------------------------------------------------------------------------------------
# outputs
# --------------------------------------------------------------------------------------------
def summary_lines(signature: Mapping | None, risk: Mapping | None) -> list[str]:
    """The signature's and the nomogram's results for a terminal, each with its reading against the
    cut-off in the words of the model's outcome (the same reading as the report and the gauge)."""
    from ResponseSignatureLib.formatting import number, score, with_ci
    from ResponseSignatureLib.models.outcome import outcome_terms, read_against_cutoff

    lines = []
    if signature:
        reading = read_against_cutoff(signature["score"], signature["threshold"], terms=outcome_terms(signature),
                                      show=score)
        lines.append(f"Signature ({signature['name']}): score {score(signature['score'])}, {reading.text}")
    if risk:
        lines.append(f"Nomogram: {risk['outcome']['label']} {with_ci(risk['risk'], risk['ci_low'], risk['ci_high'])}, "
                     f"{risk['reading']['text']}; {number(risk['total_points'], 0)} points")
    return lines


def provenance(result: PatientResult, **extra: Any) -> dict:
    """The result's provenance with the software versions (``make_provenance``)."""
    from ResponseSignatureLib.provenance import make_provenance

    return make_provenance(stage="patient pipeline", **result.provenance, **extra)


def write_patient_table(result: PatientResult, path: str | Path) -> Path:
    """The one-row patient table (CSV + provenance sidecar)."""
    from ResponseSignatureLib.tableio import write_table

    return write_table(result.patient, path, provenance(result))


def write_report(result: PatientResult, path: str | Path) -> Path:
    """The HTML report of the patient (``report.write_report``)."""
    from .report import write_report as write

    patient = {"patient_id": result.patient_id, **result.details}
    if result.row.get("n_lesions") is not None:
        patient["n_lesions"] = int(result.row["n_lesions"])
    return write(patient, result.lesions, result.recist, result.signature, result.risk, result.nomogram,
                 provenance(result), path=path)


def _first_row(table: pd.DataFrame) -> dict:
    """A one-row table's values as plain Python scalars; NaN -> None."""
    from ResponseSignatureLib.formatting import plain

    values = {key: plain(value) for key, value in table.iloc[0].to_dict().items()}
    return {key: None if isinstance(value, float) and math.isnan(value) else value for key, value in values.items()}
