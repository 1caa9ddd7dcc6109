"""A PACS over DICOMweb: find a patient's studies, fetch baseline and follow-up, run, store back.

``PacsConnection`` wraps dicomweb-client (QIDO-RS search, WADO-RS retrieve, STOW-RS store) with
what a hospital network needs: the server address and credentials from options or environment
(``RADIOMICS_RESPONSE_PACS_URL``, ``..._USER``, ``..._PASSWORD``, ``..._TIMEOUT``; nothing is
built in), a timeout on every request, no silent retries, and one-line errors that say whether the
PACS is unreachable, slow, refusing the credentials or answering with an HTTP error.

``run_patient`` is the whole pipeline on a patient of the PACS:

1. find the patient's studies; baseline = the earliest, follow-up = the latest (or the UIDs given);
2. in each, the segmentation (a DICOM SEG or RT Structure Set; one per study, or the series given;
   objects a previous run wrote, series description ending "(RadiomicsResponse)", are not input)
   and the image series it references are retrieved into ``work/<timepoint>/``;
3. lesion table + RECIST (ResponseSignatureLib), signature and nomogram when models are given;
4. a DICOM SEG per time point and the follow-up's TID 1500 SR (with the patient-level results)
   are written into ``work/dicom_out`` and stored: each SEG in its time point's study, the SR in
   the follow-up study.

Only DICOMweb is supported; DIMSE (C-FIND/C-MOVE with AE titles) is not (docs/dicom.md).
"""
from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ResponseSignatureLib.dicom_io import read_dataset, require_dicom
from ResponseSignatureLib.errors import InputError

logger = logging.getLogger(__name__)

ENV_PREFIX = "RADIOMICS_RESPONSE_PACS_"
DEFAULT_TIMEOUT = 30.0
#: series descriptions of what a run writes (never taken as input by a later run)
OUTPUT_SUFFIX = "(RadiomicsResponse)"
SEGMENTATION_MODALITIES = ("SEG", "RTSTRUCT")


class PacsError(InputError):
    """The PACS cannot be reached, refuses us, or does not hold what was asked for."""


@dataclass
class PacsSettings:
    """Where the PACS is and how to log in: options first, then the environment."""

    url: str
    user: str | None = None
    password: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    @classmethod
    def resolve(cls, url=None, user=None, password=None, timeout=None) -> "PacsSettings":
        url = url or os.environ.get(ENV_PREFIX + "URL")
        if not url:
            raise PacsError(f"No PACS address: give --url or set {ENV_PREFIX}URL (the DICOMweb root, e.g. "
                            "http://pacs.example:8042/dicom-web).")
        timeout = timeout if timeout is not None else os.environ.get(ENV_PREFIX + "TIMEOUT", DEFAULT_TIMEOUT)
        try:
            timeout = float(timeout)
        except ValueError:
            raise PacsError(f"PACS timeout must be a number of seconds, got {timeout!r}.") from None
        return cls(url.rstrip("/"), user or os.environ.get(ENV_PREFIX + "USER"),
                   password if password is not None else os.environ.get(ENV_PREFIX + "PASSWORD"), timeout)


class PacsConnection:
    """DICOMweb calls with timeouts and clear errors."""

    def __init__(self, settings: PacsSettings):
        require_dicom()
        import requests
        from dicomweb_client.api import DICOMwebClient

        self.settings = settings
        session = requests.Session()
        if settings.user:
            session.auth = (settings.user, settings.password or "")
        kwargs: dict[str, Any] = {"session": session}
        if "timeout" in inspect.signature(DICOMwebClient.__init__).parameters:
            kwargs["timeout"] = settings.timeout
        else:  # dicomweb-client < 0.61: the session carries the timeout
            session.request = _with_timeout(session.request, settings.timeout)
        self.client = DICOMwebClient(settings.url, **kwargs)
        self.client.set_http_retry_params(retry=False)

    def _call(self, what: str, function, *args, **kwargs):
        """Run one DICOMweb call; turn network and HTTP failures into PacsError naming the server."""
        import requests

        url = self.settings.url
        try:
            return function(*args, **kwargs)
        except requests.exceptions.Timeout:
            raise PacsError(f"PACS at {url} did not answer within {self.settings.timeout:g} s ({what}); "
                            "try again later or raise --timeout.") from None
        except requests.exceptions.ConnectionError as exc:
            raise PacsError(f"PACS at {url} is not reachable ({what}): {_reason(exc)}. Check --url / "
                            f"{ENV_PREFIX}URL and that the server runs.") from None
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else "?"
            if status in (401, 403):
                raise PacsError(f"PACS at {url} refused the credentials (HTTP {status}) ({what}); check --user and "
                                f"{ENV_PREFIX}PASSWORD.") from None
            raise PacsError(f"PACS at {url} answered HTTP {status} ({what}).") from None

    def find_studies(self, patient_id: str) -> list[dict]:
        """The patient's studies, oldest first: dicts with study_uid, date, time, description."""
        found = self._call(f"searching the studies of patient {patient_id}", self.client.search_for_studies,
                           search_filters={"PatientID": patient_id},
                           fields=["StudyDate", "StudyTime", "StudyDescription", "ModalitiesInStudy"])
        studies = [_study(item) for item in found or []]
        return sorted(studies, key=lambda s: (s["date"], s["time"], s["study_uid"]))

    def find_series(self, study_uid: str) -> list[dict]:
        """The series of a study: dicts with series_uid, modality, number, description."""
        found = self._call(f"searching the series of study {study_uid}", self.client.search_for_series,
                           study_instance_uid=study_uid, fields=["SeriesDescription", "SeriesNumber"])
        return [_series(item) for item in found or []]

    def retrieve_series(self, study_uid: str, series_uid: str, folder: Path) -> list[Path]:
        """Write every instance of a series into ``folder`` (<SOP Instance UID>.dcm)."""
        datasets = self._call(f"retrieving series {series_uid}", self.client.retrieve_series,
                              study_instance_uid=study_uid, series_instance_uid=series_uid)
        if not datasets:
            raise PacsError(f"PACS at {self.settings.url} returned no instance of series {series_uid}.")
        folder.mkdir(parents=True, exist_ok=True)
        paths = []
        for dataset in datasets:
            path = folder / f"{dataset.SOPInstanceUID}.dcm"
            dataset.save_as(str(path))
            paths.append(path)
        return paths

    def store(self, paths: list[Path]) -> None:
        """STOW-RS the files (each goes into the study its dataset names)."""
        datasets = [read_dataset(path) for path in paths]
        self._call(f"storing {len(datasets)} object(s)", self.client.store_instances, datasets=datasets)


def _with_timeout(request, timeout: float):
    def timed(method, url, **kwargs):
        kwargs.setdefault("timeout", timeout)
        return request(method, url, **kwargs)

    return timed


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known", "timed out", "No route to host"):
        if marker in text:
            return marker
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _value(item: dict, tag: str, default: Any = "") -> Any:
    values = (item.get(tag) or {}).get("Value") or [default]
    return values[0]


def _study(item: dict) -> dict:
    return {"study_uid": str(_value(item, "0020000D")), "date": str(_value(item, "00080020")),
            "time": str(_value(item, "00080030")), "description": str(_value(item, "00081030")),
            "modalities": ",".join(str(v) for v in (item.get("00080061") or {}).get("Value", []))}


def _series(item: dict) -> dict:
    number = _value(item, "00200011", None)
    return {"series_uid": str(_value(item, "0020000E")), "modality": str(_value(item, "00080060")),
            "number": int(number) if number not in (None, "") else 0, "description": str(_value(item, "0008103E"))}


# ----------------------------------------------------------------------------------- the run

def choose_studies(studies: list[dict], patient_id: str, baseline: str | None = None, followup: str | None = None):
    """(baseline, follow-up) study dicts: the UIDs given, else the earliest and the latest study."""
    by_uid = {study["study_uid"]: study for study in studies}
    for uid in (baseline, followup):
        if uid and uid not in by_uid:
            raise PacsError(f"Patient {patient_id} has no study {uid} in the PACS.")
    if len(studies) < 2 and not (baseline and followup):
        raise PacsError(f"Patient {patient_id} has {len(studies)} stud{'y' if len(studies) == 1 else 'ies'} in the PACS; "
                        "a response assessment needs a baseline and a follow-up study.")
    first, last = by_uid.get(baseline, studies[0] if studies else None), by_uid.get(followup, studies[-1] if studies else None)
    if first is None or last is None or first["study_uid"] == last["study_uid"]:
        raise PacsError(f"Baseline and follow-up of patient {patient_id} must be two different studies.")
    return first, last


def choose_segmentation(series: list[dict], study_uid: str, given: str | None = None) -> dict:
    """The segmentation series of a study that is input (not one of our outputs), or the one given."""
    candidates = [s for s in series if s["modality"] in SEGMENTATION_MODALITIES
                  and not s["description"].endswith(OUTPUT_SUFFIX)]
    if given:
        chosen = [s for s in series if s["series_uid"] == given]
        if not chosen:
            raise PacsError(f"Study {study_uid} has no series {given}.")
        return chosen[0]
    if not candidates:
        raise PacsError(f"Study {study_uid} holds no DICOM SEG or RT Structure Set to assess (expected the lesions "
                        "drawn at that time point).")
    if len(candidates) > 1:
        listed = "; ".join(f"{s['series_uid']} ({s['modality']}, '{s['description']}')" for s in candidates)
        raise PacsError(f"Study {study_uid} holds {len(candidates)} segmentations: {listed}. Choose one with "
                        "--baseline-seg-series / --followup-seg-series.")
    return candidates[0]


def referenced_series_uid(segmentation) -> str:
    """The image series a SEG or an RT Structure Set was drawn on."""
    if "ReferencedSeriesSequence" in segmentation:
        return str(segmentation.ReferencedSeriesSequence[0].SeriesInstanceUID)
    try:
        frame = segmentation.ReferencedFrameOfReferenceSequence[0]
        return str(frame.RTReferencedStudySequence[0].RTReferencedSeriesSequence[0].SeriesInstanceUID)
    except (AttributeError, IndexError):
        raise PacsError(f"Segmentation {segmentation.SOPInstanceUID} names no image series it was drawn on.") from None


def fetch_timepoint(pacs: PacsConnection, study: dict, folder: Path, seg_series: str | None = None) -> tuple[Path, Path]:
    """Retrieve a study's segmentation and its image series; returns (image folder, segmentation file)."""
    chosen = choose_segmentation(pacs.find_series(study["study_uid"]), study["study_uid"], seg_series)
    seg_files = pacs.retrieve_series(study["study_uid"], chosen["series_uid"], folder / "segmentation")
    if len(seg_files) != 1:
        raise PacsError(f"Segmentation series {chosen['series_uid']} holds {len(seg_files)} objects (expected one).")
    image_series = referenced_series_uid(read_dataset(seg_files[0], stop_before_pixels=True))
    image_folder = folder / "image"
    pacs.retrieve_series(study["study_uid"], image_series, image_folder)
    return image_folder, seg_files[0]


def run_patient(pacs: PacsConnection, patient_id: str, work_dir, *, baseline_study=None, followup_study=None,
                baseline_seg_series=None, followup_seg_series=None, params=None, engine="builtin",
                signature_model: dict | None = None, nomogram_model: dict | None = None, clinical: dict | None = None,
                features=None, store: bool = True, progress=None) -> dict:
    """Fetch, assess, write SEGs + SR and (``store``) send them to the PACS; returns a summary dict."""
    from ResponseSignatureLib.dicom_export import export_case
    from ResponseSignatureLib.pipeline import run_case_files
    from ResponseSignatureLib.tableio import write_table

    from .dicom_report import patient_groups, patient_results

    work = Path(work_dir)
    baseline, followup = choose_studies(pacs.find_studies(patient_id), patient_id, baseline_study, followup_study)
    images, segmentations = {}, {}
    for timepoint, study, seg_series in (("baseline", baseline, baseline_seg_series),
                                         ("followup", followup, followup_seg_series)):
        images[timepoint], segmentations[timepoint] = fetch_timepoint(pacs, study, work / timepoint, seg_series)
    result = run_case_files(images["baseline"], segmentations["baseline"], images["followup"], segmentations["followup"],
                            patient_id=patient_id, params=params, engine=engine, progress=progress)
    result.provenance["pacs"] = {"url": pacs.settings.url, "baseline_study": baseline["study_uid"],
                                 "followup_study": followup["study_uid"]}
    write_table(result.table, work / "lesions.csv", {**result.provenance, "recist": result.recist, "errors": result.errors})
    signature, risk = patient_results(result.table, signature_model, nomogram_model, clinical)
    paths = export_case(result, images, segmentations, work / "dicom_out", features=features,
                        patient_groups=patient_groups(patient_id, signature, risk))
    if store:
        pacs.store([paths["baseline_seg"], paths["followup_seg"], paths["sr"]])
    return {"baseline_study": baseline, "followup_study": followup, "lesions": work / "lesions.csv",
            "recist": result.recist, "signature": signature, "risk": risk, "errors": result.errors,
            "dicom": paths, "stored": store}
