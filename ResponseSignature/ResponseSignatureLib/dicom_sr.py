"""The lesion table as a DICOM Comprehensive 3D SR "Imaging Measurement Report" (TID 1500), and back.

One SR per follow-up, in the follow-up study. Its Imaging Measurements hold, per lesion:

- a group per time point the lesion is seen at (TID 1411, Volumetric ROI), referencing the lesion's
  segment in that time point's DICOM SEG, with Time Point Context (TID 1502) "baseline" or
  "followup", finding type SCT Lesion, finding site = location, and the measures and features of
  that time point;
- a group of changes (TID 1501, measurement method ``99RADRESP followup_minus_baseline``) with
  every finite ``delta:`` value (follow-up minus baseline; absent lesions count 0 mm / 0 ml as in
  the lesion table);

all with the same Tracking Identifier (the lesion id) and Tracking UID (the same UID in every SEG
and SR of that lesion, at every time point). Qualitative evaluations carry the lesion status
(matched / new / disappeared) and its RECIST 1.1 role (DCM "Target / Non-Target Lesion at
Baseline"). A patient-level group (method DCM "RECIST 1.1") carries the sums of diameters, their
change, the RECIST 1.1 category (DCM "Current Response") with its reason, and the volumetric and
Choi categories; downstream stages (NomogramScoreLib) add their own patient-level groups through
``patient_groups``.

Codes (docs/dicom.md lists them all): SCT Long axis / Short axis / Volume, DCM Attenuation
Coefficient with derivation SCT Mean for the mean HU, UCUM units; radiomic features of the
original image that IBSI defines identically use IBSI identifiers (private scheme ``99IBSI``; the
code is the one the engine's registry gives the feature, ``FeatureInfo.ibsi``, the same the lesion
table's column metadata shows; ``ibsi_code``); every other value uses our private scheme
``99RADRESP``: a feature's code value is
'F' + 15 hex digits of the SHA-256 of its lesion-table name and its meaning is the name (e.g.
``log-sigma-2-0-mm-3D_firstorder_Entropy``); other keys are short code values (PRIVATE_VALUES).
Code values never exceed 16 characters (no Long Code Value). Numbers are stored with
their full double precision (Floating Point Value beside the decimal string), so ``read_sr``
gives back exactly the lesion table's numbers.
"""
from __future__ import annotations

import fnmatch
import functools
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import lesion_table
from .dicom_io import MANUFACTURER, derived_uid, location_code, location_from_code, read_dataset, require_dicom
from .errors import InputError

PRIVATE_SCHEME = "99RADRESP"
IBSI_SCHEME = "99IBSI"
SR_SERIES_NUMBER = 902
CHANGE_METHOD = ("followup_minus_baseline", "Change from baseline: follow-up minus baseline")
STATUS_MEANINGS = {"matched": "Seen at baseline and follow-up", "new": "New at follow-up",
                   "disappeared": "Seen at baseline only"}
CATEGORY_MEANINGS = {"CR": "Complete response", "PR": "Partial response", "SD": "Stable disease",
                     "PD": "Progressive disease", "NE": "Not evaluable"}
#: patient-level RECIST numbers of lesion_table.recist_from_lesion_table: key -> (meaning, UCUM unit)
RECIST_NUMBERS = {
    "baseline_sum_mm": ("Sum of target lesion diameters at baseline", "mm"),
    "followup_sum_mm": ("Sum of target lesion diameters at follow-up", "mm"),
    "nadir_mm": ("Smallest sum of target lesion diameters so far (nadir)", "mm"),
    "percent_change_from_baseline": ("Change of the sum of diameters from baseline", "%"),
    "percent_change_from_nadir": ("Change of the sum of diameters from the nadir", "%"),
    "volumetric_change_percent": ("Change of the total lesion volume from baseline", "%"),
}
RECIST_CATEGORIES = {"volumetric_category": "Volumetric response category",
                     "choi_category": "Choi response category"}
RECIST_TEXTS = {"recist_reason": "Reason for the RECIST 1.1 category", "recist_targets": "RECIST 1.1 target lesions"}
UNITS = {"mm": "millimeter", "ml": "milliliter", "%": "percent", "1": "no units", "[hnsf'U]": "Hounsfield unit",
         "{voxels}": "voxels"}


def code(value: str, scheme: str, meaning: str):
    """A highdicom CodedConcept (code meaning cut to DICOM's 64 characters)."""
    _, hd = require_dicom()
    return hd.sr.CodedConcept(value=value, scheme_designator=scheme, meaning=meaning[:64])


#: our keys longer than a DICOM Code Value (16 characters) -> their code value in 99RADRESP
PRIVATE_VALUES = {
    "n_voxels": "N_VOXELS", "followup_minus_baseline": "CHANGE", "baseline_sum_mm": "SUMDIAM_BASE",
    "followup_sum_mm": "SUMDIAM_FU", "nadir_mm": "SUMDIAM_NADIR", "percent_change_from_baseline": "PCTCHG_BASE",
    "percent_change_from_nadir": "PCTCHG_NADIR", "volumetric_change_percent": "PCTCHG_VOLUME",
    "volumetric_category": "CAT_VOLUMETRIC", "choi_category": "CAT_CHOI", "recist_reason": "RECIST_REASON",
    "recist_targets": "RECIST_TARGETS",
}
_KEYS = {value: key for key, value in PRIVATE_VALUES.items()}
#: first character of the code value of a radiomic feature without IBSI code (then 15 hex digits)
FEATURE_PREFIX = "F"


def private_code(key: str, meaning: str):
    """The 99RADRESP code of one of our keys (code value = the key, or PRIVATE_VALUES' short form).

    Code values stay within DICOM's 16 characters (no Long Code Value): many readers, highdicom's
    referenced-segment lookup among them, know only Code Value.
    """
    value = PRIVATE_VALUES.get(key, key)
    if len(value) > 16:
        raise ValueError(f"private code value {value!r} is longer than 16 characters")
    return code(value, PRIVATE_SCHEME, meaning)


def key_of(value: str) -> str:
    """Our key of a 99RADRESP code value (inverse of private_code)."""
    return _KEYS.get(value, value)


def feature_code(name: str):
    """99RADRESP code of a feature without IBSI code: value 'F' + 15 hex digits of the SHA-256 of its
    name, meaning = the name (names longer than 64 characters are cut and cannot be read back)."""
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:15]
    return code(FEATURE_PREFIX + digest, PRIVATE_SCHEME, name)


def ibsi_code(name: str) -> tuple[str, str] | None:
    """(IBSI identifier, meaning) of a feature of the original image such as 'original_glcm_Contrast', or
    None: a filtered image's feature, a feature without IBSI code, or one whose code another feature
    has too. The identifier is the first the registry lists for the feature (``FeatureInfo.ibsi``),
    the meaning its description; only classes pyradiomics has too (the ``ibsi`` class's IBSI-only
    features, several of which share a parameterised code, keep their names in 99RADRESP)."""
    image, _, key = name.partition("_")
    return _ibsi_tables(_registry_state())[0].get(key) if image == "original" else None


def feature_of_ibsi(code_value: str) -> str | None:
    """The lesion-table feature name ('original_<class>_<feature>') of an IBSI identifier, or None.
    Any identifier the registry lists for the feature is read (an SR may carry another of its codes)."""
    key = _ibsi_tables(_registry_state())[1].get(code_value)
    return f"original_{key}" if key else None


def _registry_state() -> tuple:
    """What the IBSI tables depend on: the registered classes (a test may register one)."""
    from .engine import registry

    return registry.all_classes()


@functools.lru_cache(maxsize=4)
def _ibsi_tables(classes: tuple) -> tuple[dict, dict]:
    """('<class>_<feature>' -> (first code, meaning), code -> '<class>_<feature>') from the registry's
    FeatureInfo, for codes that name one feature only."""
    owners: dict[str, list[str]] = {}
    first: dict[str, tuple[str, str]] = {}
    for descriptor in classes:
        if not descriptor.pyradiomics:
            continue
        for feature, info in descriptor.info.items():
            codes = [value.strip() for value in info.ibsi.split(",") if value.strip()]
            key = f"{descriptor.name}_{feature}"
            for value in codes:
                owners.setdefault(value, []).append(key)
            if codes:
                first[key] = (codes[0], info.description)
    by_code = {value: keys[0] for value, keys in owners.items() if len(keys) == 1}
    return {key: found for key, found in first.items() if found[0] in by_code}, by_code


def unit(ucum: str):
    return code(ucum, "UCUM", UNITS.get(ucum, ucum))


def _measure_concepts() -> dict:
    """lesion-table measure -> (concept name, unit, derivation or None)."""
    return {
        "longest_diameter_mm": (code("103339001", "SCT", "Long Axis"), unit("mm"), None),
        "short_axis_mm": (code("103340004", "SCT", "Short Axis"), unit("mm"), None),
        "volume_ml": (code("118565006", "SCT", "Volume"), unit("ml"), None),
        "mean_hu": (code("112031", "DCM", "Attenuation Coefficient"), unit("[hnsf'U]"), code("373098007", "SCT", "Mean")),
        "n_voxels": (private_code("n_voxels", "Number of voxels in the lesion"), unit("{voxels}"), None),
    }


def concept_of(name: str) -> tuple:
    """(concept name, unit, derivation) of a lesion-table measure or feature name."""
    measures = _measure_concepts()
    if name in measures:
        return measures[name]
    found = ibsi_code(name)
    concept = code(found[0], IBSI_SCHEME, found[1]) if found else feature_code(name)
    return concept, unit("1"), None


def name_of(concept, derivation=None) -> str | None:
    """The lesion-table name of a measurement concept (inverse of concept_of); None if not ours."""
    scheme, value = concept.scheme_designator, concept.value
    if scheme == IBSI_SCHEME:
        return feature_of_ibsi(value)
    if scheme == PRIVATE_SCHEME:
        is_feature = value.startswith(FEATURE_PREFIX) and len(value) == 16 and value not in _KEYS
        return str(concept.meaning) if is_feature else key_of(value)
    for measure, (known, _, known_derivation) in _measure_concepts().items():
        if (known.scheme_designator, known.value) == (scheme, value):
            same = (derivation is None) == (known_derivation is None)
            if same and (derivation is None or derivation.value == known_derivation.value):
                return measure
    return None


# ------------------------------------------------------------------------------------ writing

@dataclass
class SegReference:
    """The DICOM SEG of one time point: its dataset, segment numbers by segment name, CT series UID."""

    seg: Any
    numbers: dict
    source_series_uid: str


@dataclass
class SrContext:
    """What the report refers to besides the lesion table."""

    patient_id: str
    segs: dict                       # timepoint -> SegReference
    tracking_uids: dict              # lesion_id -> Tracking UID
    features: list | None = None     # feature names to report (None: every feature of the table)
    algorithm_parameters: list = field(default_factory=list)


def write_sr(table: pd.DataFrame, recist: dict, context: SrContext, evidence: list, path,
             patient_groups: list | None = None, description: str = "Response assessment (RadiomicsResponse)"):
    """Write the TID 1500 SR of one follow-up; returns the dataset.

    ``evidence``: every dataset the report references (follow-up CT and SEG first: the SR joins
    the first dataset's study; then the baseline CT and SEG). ``patient_groups``: more
    patient-level measurement groups (e.g. signature and nomogram, NomogramScoreLib.dicom_report).
    """
    pydicom, hd = require_dicom()
    from . import __version__

    groups = [group for _, row in table.iterrows() for group in _lesion_groups(row, table.columns, context)]
    groups.append(recist_group(recist, context.patient_id, algorithm(context)))
    groups.extend(patient_groups or [])
    observer = hd.sr.ObserverContext(
        observer_type=code("121007", "DCM", "Device"),
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=derived_uid("device", MANUFACTURER), name=MANUFACTURER, manufacturer_name=MANUFACTURER,
            model_name="radiomics-response"))
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=code("25045-6", "LN", "CT unspecified body region"),
        imaging_measurements=groups)
    sr = hd.sr.Comprehensive3DSR(
        evidence=evidence, content=report[0], series_instance_uid=pydicom.uid.generate_uid(),
        series_number=SR_SERIES_NUMBER, sop_instance_uid=pydicom.uid.generate_uid(), instance_number=1,
        manufacturer=MANUFACTURER, is_complete=True, series_description=description[:64],
        software_versions=__version__)
    _declare_private_schemes(sr)
    sr.SpecificCharacterSet = "ISO_IR 192"  # UTF-8: lesion names, model names ("demo — ...") in any script
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    sr.save_as(str(temp))
    temp.replace(path)
    return sr


def algorithm(context: SrContext):
    """Algorithm Identification of our measurements (name, version, settings hash)."""
    _, hd = require_dicom()
    from . import __version__

    return hd.sr.AlgorithmIdentification(name=MANUFACTURER, version=__version__,
                                         parameters=[str(p) for p in context.algorithm_parameters] or None)


def _declare_private_schemes(sr) -> None:
    """Coding Scheme Identification of the private schemes the report uses."""
    import pydicom

    items = []
    for designator, name in ((PRIVATE_SCHEME, "RadiomicsResponse lesion-table names (docs/dicom.md)"),
                             (IBSI_SCHEME, "IBSI 1 feature identifiers (Zwanenburg et al., Radiology 2020)")):
        item = pydicom.Dataset()
        item.CodingSchemeDesignator = designator
        item.CodingSchemeName = name
        item.CodingSchemeResponsibleOrganization = "RadiomicsResponse" if designator == PRIVATE_SCHEME else "IBSI"
        items.append(item)
    sr.CodingSchemeIdentificationSequence = items


def _lesion_groups(row, columns, context: SrContext) -> list:
    """The groups of one lesion: one per time point it is seen at, and its changes."""
    _, hd = require_dicom()
    lesion_id = str(row["lesion_id"])
    uid = context.tracking_uids.get(lesion_id) or derived_uid("lesion", context.patient_id, lesion_id)
    tracking = hd.sr.TrackingIdentifier(uid=uid, identifier=lesion_id[:64])
    names = _value_names(columns, context.features)
    sites = [hd.sr.FindingSite(anatomic_location=_site(row["location"]))]
    evaluations = _evaluations(row)
    groups = []
    for order, timepoint in enumerate(lesion_table.TIMEPOINTS, start=1):
        segment = row.get(f"{timepoint}_segment")
        if not isinstance(segment, str) or not segment:
            continue
        common = dict(tracking_identifier=tracking, finding_type=code("52988006", "SCT", "Lesion"),
                      time_point_context=hd.sr.TimePointContext(time_point=timepoint, time_point_order=order),
                      finding_sites=sites, algorithm_id=algorithm(context),
                      measurements=_measurements(row, timepoint, names), qualitative_evaluations=evaluations)
        reference = _referenced_segment(context.segs.get(timepoint), segment)
        if reference is None:
            groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(**common))
        else:
            groups.append(hd.sr.VolumetricROIMeasurementsAndQualitativeEvaluations(referenced_segment=reference, **common))
    changes = _measurements(row, "delta", names)
    if changes:
        groups.append(hd.sr.MeasurementsAndQualitativeEvaluations(
            tracking_identifier=tracking, finding_type=code("52988006", "SCT", "Lesion"),
            time_point_context=hd.sr.TimePointContext(time_point="followup", time_point_order=2),
            method=private_code(*CHANGE_METHOD), finding_sites=sites, algorithm_id=algorithm(context),
            measurements=changes))
    return groups


def select_features(columns, patterns) -> list[str] | None:
    """Feature names of a lesion table matching any name or shell pattern (None: no selection, all)."""
    if not patterns:
        return None
    names = [column.split(":", 1)[1] for column in columns if column.startswith("baseline:")]
    return [name for name in names if any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)]


def _value_names(columns, features) -> list[str]:
    """Measures, then the reported features, in table order."""
    names = [c.split(":", 1)[1] for c in columns if c.startswith("baseline:")]
    chosen = set(lesion_table.MEASURES) | set(features if features is not None else names)
    return [name for name in names if name in chosen]


def _site(location):
    found = location_code(location)
    if found is not None:
        return code(found.value, found.scheme_designator, found.meaning)
    text = str(location or "other")
    return code(hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], PRIVATE_SCHEME, text)


def _evaluations(row) -> list:
    _, hd = require_dicom()
    status = str(row["status"])
    evaluations = [hd.sr.QualitativeEvaluation(
        name=private_code("status", "Lesion status across time points"),
        value=private_code(status, STATUS_MEANINGS.get(status, status)))]
    if status != "new":
        target = bool(row["target"]) if not pd.isna(row["target"]) else False
        value = code("112074", "DCM", "Target Lesion at Baseline") if target else code("112075", "DCM", "Non-Target Lesion at Baseline")
        evaluations.append(hd.sr.QualitativeEvaluation(name=code("112022", "DCM", "RECIST"), value=value))
    return evaluations


def _measurements(row, prefix: str, names: list[str]) -> list:
    """Measurements of the finite ``<prefix>:<name>`` values of a row."""
    _, hd = require_dicom()
    found = []
    for name in names:
        value = row.get(f"{prefix}:{name}")
        if value is None or pd.isna(value) or not np.isfinite(float(value)):
            continue
        concept, measurement_unit, derivation = concept_of(name)
        found.append(hd.sr.Measurement(name=concept, value=float(value), unit=measurement_unit, derivation=derivation))
    return found


def _referenced_segment(reference: SegReference | None, segment: str):
    if reference is None or segment not in reference.numbers:
        return None
    _, hd = require_dicom()
    return hd.sr.ReferencedSegment(
        sop_class_uid=reference.seg.SOPClassUID, sop_instance_uid=reference.seg.SOPInstanceUID,
        segment_number=reference.numbers[segment],
        source_series=hd.sr.SourceSeriesForSegmentation(reference.source_series_uid))


def recist_group(recist: dict, patient_id: str, algorithm_id=None):
    """The patient-level RECIST 1.1 group: sums, changes, categories and the reason."""
    _, hd = require_dicom()
    measurements = [hd.sr.Measurement(name=private_code(key, meaning), value=float(recist[key]), unit=unit(ucum))
                    for key, (meaning, ucum) in RECIST_NUMBERS.items() if _finite(recist.get(key))]
    evaluations = []
    if recist.get("recist_category"):
        evaluations.append(hd.sr.QualitativeEvaluation(name=code("112048", "DCM", "Current Response"),
                                                       value=category_code(recist["recist_category"])))
    for key, meaning in RECIST_CATEGORIES.items():
        if recist.get(key):
            evaluations.append(hd.sr.QualitativeEvaluation(name=private_code(key, meaning), value=category_code(recist[key])))
    group = hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=patient_tracking(patient_id, "recist", "Patient response (RECIST 1.1)"),
        method=code("126081", "DCM", "RECIST 1.1"), algorithm_id=algorithm_id,
        measurements=measurements or None, qualitative_evaluations=evaluations or None)
    add_texts(group, {key: (meaning, recist.get(key)) for key, meaning in RECIST_TEXTS.items()})
    return group


def patient_tracking(patient_id: str, what: str, label: str):
    """Tracking identifier of a patient-level group (its UID is stable for the patient)."""
    _, hd = require_dicom()
    return hd.sr.TrackingIdentifier(uid=derived_uid("patient", patient_id, what), identifier=label)


def category_code(category: str):
    text = str(category)
    return private_code(text, CATEGORY_MEANINGS.get(text, text))


def add_texts(group, texts: dict) -> None:
    """Append TEXT items (key -> (meaning, text)) to a measurement group (empty texts skipped)."""
    _, hd = require_dicom()
    container = group[0]
    for key, (meaning, text) in texts.items():
        if text is None or str(text) == "":
            continue
        container.ContentSequence.append(hd.sr.TextContentItem(
            name=private_code(key, meaning), value=str(text)[:1024],
            relationship_type=hd.sr.RelationshipTypeValues.CONTAINS))


def _finite(value) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------ reading

def read_sr(path) -> tuple[pd.DataFrame, dict]:
    """(lesion table, patient-level values) of an SR that ``write_sr`` wrote.

    The table has the lesion table's columns for what the SR holds: ids, location, status,
    target, ``baseline:`` / ``followup:`` values, ``delta:`` (as stored) and ``reldelta:``
    (recomputed); segment columns hold the lesion id where the lesion is seen (the segment labels
    are in the SEGs). Patient values: every patient-level number, category and text by key.
    """
    _, hd = require_dicom()
    dataset = read_dataset(path)
    if str(dataset.get("Modality", "")) != "SR":
        raise InputError(f"'{path}' is a {dataset.get('Modality', 'DICOM object')}, not a DICOM SR.")
    try:
        sr = hd.sr.Comprehensive3DSR.from_dataset(dataset)
        content = sr.content
        groups = list(content.get_volumetric_roi_measurement_groups()) + list(content.get_image_measurement_groups())
    except Exception as exc:  # noqa: BLE001 - highdicom raises many kinds on foreign content
        raise InputError(f"'{path}' is not a TID 1500 measurement report this tool can read: {exc}") from exc
    lesions: dict[str, dict] = {}
    patient: dict[str, Any] = {}
    for group in groups:
        if _is_patient_group(group):
            patient.update(_group_values(group))
            continue
        _read_lesion_group(group, lesions)
    return _lesion_frame(str(dataset.get("PatientID", "")), lesions), patient


def _is_patient_group(group) -> bool:
    """True for a group without a Finding (DCM 121071): lesion groups all have finding type Lesion."""
    return not any(_concept_value(item) == "121071" for item in group[0].ContentSequence)


def _concept_value(item) -> str:
    name = getattr(item, "ConceptNameCodeSequence", None)
    return _code_value(name[0]) if name else ""


def _code_value(coded) -> str:
    """The code value of a code item, whichever of Code Value / Long Code Value / URN holds it."""
    for keyword in ("CodeValue", "LongCodeValue", "URNCodeValue"):
        if keyword in coded:
            return str(coded[keyword].value)
    return ""


def _read_lesion_group(group, lesions: dict) -> None:
    uid = str(group.tracking_uid)
    lesion = lesions.setdefault(uid, {"lesion_id": str(group.tracking_identifier), "values": {}, "present": set()})
    method = group.method
    is_change = method is not None and key_of(method.value) == CHANGE_METHOD[0]
    prefix = "delta" if is_change else _time_point(group)
    if not is_change:
        lesion["present"].add(prefix)
    for site in group.finding_sites:
        concept = site.value
        private = concept.scheme_designator == PRIVATE_SCHEME
        lesion["location"] = str(concept.meaning) if private else location_from_code(concept.value, concept.meaning)
    for evaluation in group.get_qualitative_evaluations():
        if evaluation.name.value == "status":
            lesion["status"] = evaluation.value.value
        elif evaluation.name.value == "112022":
            lesion["target"] = evaluation.value.value == "112074"
    for measurement in group.get_measurements():
        name = name_of(measurement.name, measurement.derivation)
        if name is not None:
            lesion["values"][f"{prefix}:{name}"] = float(measurement.value)


def _time_point(group) -> str:
    """The Time Point text of a group's Time Point Context."""
    for item in _walk(group[0].ContentSequence):
        name = getattr(item, "ConceptNameCodeSequence", None)
        if name and str(name[0].CodeMeaning) == "Time Point" and "TextValue" in item:
            return str(item.TextValue)
    raise InputError("an SR measurement group has no Time Point (expected baseline or followup).")


def _walk(items):
    for item in items:
        yield item
        yield from _walk(item.get("ContentSequence", []))


#: concepts of a group's context (tracking, method, algorithm, time point): not patient values
CONTEXT_CONCEPTS = {"112039", "112040", "370129005", "111001", "111002", "111003", "C2348792", "126073"}
#: standard concepts of patient values -> the key read_sr gives them
PATIENT_KEYS = {"112048": "recist_category"}


def _group_values(group) -> dict:
    """Every number, coded value and text of a patient-level group, by our key (else code value)."""
    values: dict[str, Any] = {}
    for item in _walk(group[0].ContentSequence):
        key = _concept_value(item)
        if key in CONTEXT_CONCEPTS:
            continue
        key = PATIENT_KEYS.get(key, key_of(key))
        if "MeasuredValueSequence" in item:
            measured = item.MeasuredValueSequence[0]
            values[key] = float(measured.get("FloatingPointValue", measured.NumericValue))
        elif "ConceptCodeSequence" in item and item.get("ValueType") == "CODE":
            values[key] = key_of(_code_value(item.ConceptCodeSequence[0]))
        elif item.get("ValueType") == "TEXT":
            values[key] = str(item.TextValue)
    return values


def _lesion_frame(patient_id: str, lesions: dict) -> pd.DataFrame:
    """The lesion table of the lesions read from an SR (lesion_table.build_lesion_table columns)."""
    rows, values = [], {timepoint: {} for timepoint in lesion_table.TIMEPOINTS}
    for lesion in lesions.values():
        lesion_id = lesion["lesion_id"]
        row = {"lesion_id": lesion_id, "location": lesion.get("location", "other"),
               "status": lesion.get("status", ""), "target": lesion.get("target", False),
               "match_method": "", "match_distance_mm": math.nan, "error": ""}
        for timepoint in lesion_table.TIMEPOINTS:
            present = timepoint in lesion["present"]
            row[f"{timepoint}_segment"] = lesion_id if present else None
            if present:
                values[timepoint][lesion_id] = {key.split(":", 1)[1]: value for key, value in lesion["values"].items()
                                                if key.startswith(f"{timepoint}:")}
        rows.append(row)
    table = lesion_table.build_lesion_table(patient_id, rows, values)
    for lesion, (index, _) in zip(lesions.values(), table.iterrows()):
        for key, value in lesion["values"].items():
            if key.startswith("delta:") and key in table.columns:
                table.at[index, key] = value
    return table
