"""DICOM foundations shared by the SEG, RT Structure Set and SR modules.

- ``read_dataset``: a DICOM file as a pydicom Dataset (``imageio.read_segments`` reads a DICOM SEG
  or an RT Structure Set with it);
- ``source_series``: the DICOM datasets of the CT series an image was read from (its folder or its
  files), one per slice in the image's slice order (what a SEG and an SR must reference);
- ``tracking_uid``: the Tracking UID of a lesion, the same at every time point;
- the lesion locations of the lesion table as SNOMED CT codes and back.

pydicom and highdicom are optional (``pip install radiomics-response[dicom]``): they are imported
when a DICOM object is read or written, and their absence is reported as an ``InputError`` that
says what to install.
"""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .errors import InputError

logger = logging.getLogger(__name__)

#: Root of the UIDs we derive from names (ISO/IEC 9834-8 UUID-derived UIDs, no registration needed).
UUID_ROOT = "2.25."
#: What we write into Manufacturer / Software Versions of our objects (and recognise when reading).
MANUFACTURER = "RadiomicsResponse"
#: Modalities that hold segmentations or results, not the images they describe.
NON_IMAGE_MODALITIES = {"SEG", "RTSTRUCT", "SR", "KO", "PR", "RTPLAN", "RTDOSE", "REG"}
#: lesion-table location -> (SNOMED CT code value, meaning); other locations are written as text.
LOCATION_CODES = {
    "liver": ("10200004", "Liver"),
    "lung": ("39607008", "Lung"),
    "node": ("59441001", "Lymph node"),
    "bone": ("272673000", "Bone structure"),
    "adrenal": ("23451007", "Adrenal gland"),
    "kidney": ("64033007", "Kidney"),
    "peritoneum": ("15425007", "Peritoneum"),
    "brain": ("12738006", "Brain"),
    "spleen": ("78961009", "Spleen"),
    "pancreas": ("15776009", "Pancreas"),
}


def require_dicom():
    """(pydicom, highdicom) modules; InputError naming the extra to install when they are absent."""
    try:
        import highdicom
        import pydicom
    except ImportError as exc:
        raise InputError("DICOM SEG / RT Structure Set / SR support needs pydicom and highdicom: "
                         "pip install 'radiomics-response[dicom]'.") from exc
    return pydicom, highdicom


def is_dicom_file(path) -> bool:
    """True if ``path`` is a file in the DICOM file format (128-byte preamble then 'DICM')."""
    path = Path(path)
    if not path.is_file():
        return False
    with path.open("rb") as stream:
        head = stream.read(132)
    return len(head) == 132 and head[128:132] == b"DICM"


def read_dataset(path, stop_before_pixels: bool = False):
    """A pydicom Dataset; InputError naming the file when it is not readable DICOM."""
    pydicom, _ = require_dicom()
    try:
        return pydicom.dcmread(str(path), stop_before_pixels=stop_before_pixels)
    except Exception as exc:  # noqa: BLE001 - pydicom raises many kinds; the user needs the file name
        raise InputError(f"'{path}' is not a readable DICOM file: {exc}") from exc


# ----------------------------------------------------------------------------- source series

def image_files(folder) -> list[Path]:
    """Every DICOM file under ``folder`` (recursively), sorted by path."""
    return sorted(p for p in Path(folder).rglob("*") if is_dicom_file(p))


def source_series(source, image) -> list:
    """The datasets (no pixel data) of the image series ``image`` was read from, one per slice in the
    order of the image's k index.

    ``source``: the series' DICOM folder (searched recursively), or the list of its files (e.g. the
    files Slicer's DICOM database holds for a volume's instances). ``image``: the SimpleITK image of
    that series (``imageio.read_image`` of the folder, or a volume node converted by mrml_bridge).
    The series is the one whose instances sit exactly on the image's slices (SEG, RTSTRUCT and SR
    objects beside it are skipped). InputError when no series matches the image.
    """
    if isinstance(source, (str, Path)):
        folder = Path(source)
        if not folder.is_dir():
            raise InputError(f"'{folder}' is not a DICOM folder: DICOM SEG and SR output need the source images as a "
                             "DICOM series (see docs/dicom.md).")
        files, where = image_files(folder), f"'{folder}'"
    else:
        files, where = [Path(path) for path in source], f"the {len(source)} files given"
    by_series: dict[str, list] = {}
    for path in files:
        dataset = read_dataset(path, stop_before_pixels=True)
        if str(dataset.get("Modality", "")) in NON_IMAGE_MODALITIES or "ImagePositionPatient" not in dataset:
            continue
        by_series.setdefault(str(dataset.SeriesInstanceUID), []).append(dataset)
    for datasets in by_series.values():
        ordered = _on_image_slices(datasets, image)
        if ordered is not None:
            return ordered
    raise InputError(f"No DICOM series in {where} matches the image read from it ({image.GetSize()[2]} slices); "
                     "expected one single-frame image series.")


def _on_image_slices(datasets, image):
    """Datasets sorted by the image slice they sit on, or None unless they are exactly its slices."""
    depth = image.GetSize()[2]
    if len(datasets) != depth:
        return None
    slot: dict[int, object] = {}
    for dataset in datasets:
        index = image.TransformPhysicalPointToContinuousIndex([float(v) for v in dataset.ImagePositionPatient])
        k = int(round(index[2]))
        if not np.allclose(index, (0, 0, k), atol=1e-2) or not 0 <= k < depth or k in slot:
            return None
        slot[k] = dataset
    return [slot[k] for k in range(depth)]


# ------------------------------------------------------------------------------------ UIDs, codes

def derived_uid(*parts: str) -> str:
    """A UID derived deterministically from text (the same parts always give the same UID)."""
    pydicom, _ = require_dicom()
    return pydicom.uid.generate_uid(prefix=UUID_ROOT, entropy_srcs=["RadiomicsResponse", *map(str, parts)])


def tracking_uid(patient_id: str, lesion_id: str, frame_of_reference: str = "") -> str:
    """The Tracking UID of one lesion of one patient: the same at baseline and every follow-up."""
    return derived_uid("lesion", patient_id, lesion_id, frame_of_reference)


def location_code(location: str):
    """SNOMED CT code (pydicom Code) of a lesion-table location, or None when it has none."""
    from pydicom.sr.coding import Code

    found = LOCATION_CODES.get(str(location).strip().lower())
    return Code(found[0], "SCT", found[1]) if found else None


def location_from_code(value: str, meaning: str = "") -> str:
    """The lesion-table location of a SNOMED CT code value (else the meaning, lower case)."""
    for location, (code, _) in LOCATION_CODES.items():
        if code == str(value):
            return location
    text = str(meaning).strip().lower()
    return "node" if "lymph" in text else (text or "other")


# ------------------------------------------------------------------------------- writing images

CT_IMAGE_STORAGE = "1.2.840.10008.5.1.4.1.1.2"


def write_image_series(image, folder, *, patient_id: str, study_uid: str, study_date: str,
                       patient_name: str = "", series_description: str = "CT", series_number: int = 1,
                       frame_of_reference_uid: str | None = None, study_description: str = "") -> list[Path]:
    """Write a 3-D int16 SimpleITK image (HU) as a CT Image Storage series, one file per slice.

    For synthetic or converted images that must travel as DICOM (e.g. ``sample-data --dicom``):
    the pixel values are stored as they are (rescale slope 1, intercept 0), the geometry is the
    image's (LPS), the UIDs below the study are derived from ``study_uid`` so that writing the
    same image twice gives the same objects. Returns the file paths in slice order.
    """
    pydicom, _ = require_dicom()
    from pydicom.dataset import FileMetaDataset

    import SimpleITK as sitk

    if image.GetDimension() != 3 or image.GetPixelID() != sitk.sitkInt16:
        raise InputError("write_image_series takes a 3-D int16 image (HU).")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = derived_uid("series", study_uid, series_number)
    frame_uid = frame_of_reference_uid or derived_uid("frame", study_uid)
    values = sitk.GetArrayViewFromImage(image)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    spacing = image.GetSpacing()
    paths = []
    for k in range(values.shape[0]):
        ds = pydicom.Dataset()
        ds.file_meta = FileMetaDataset()
        ds.file_meta.MediaStorageSOPClassUID = CT_IMAGE_STORAGE
        ds.file_meta.MediaStorageSOPInstanceUID = derived_uid("instance", series_uid, k)
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
        ds.SpecificCharacterSet = "ISO_IR 100"
        ds.SOPClassUID, ds.SOPInstanceUID = CT_IMAGE_STORAGE, ds.file_meta.MediaStorageSOPInstanceUID
        ds.PatientName, ds.PatientID, ds.PatientBirthDate, ds.PatientSex = patient_name or f"{patient_id}^", patient_id, "", "O"
        ds.StudyInstanceUID, ds.StudyDate, ds.StudyTime, ds.StudyID = study_uid, study_date, "090000", "1"
        ds.AccessionNumber, ds.ReferringPhysicianName, ds.StudyDescription = "", "", study_description
        ds.Modality, ds.SeriesInstanceUID, ds.SeriesNumber = "CT", series_uid, series_number
        ds.SeriesDescription, ds.SeriesDate, ds.SeriesTime = series_description, study_date, "090000"
        ds.FrameOfReferenceUID, ds.PositionReferenceIndicator = frame_uid, ""
        ds.Manufacturer = MANUFACTURER
        ds.InstanceNumber, ds.ImageType = k + 1, ["DERIVED", "SECONDARY", "AXIAL"]
        ds.ContentDate, ds.ContentTime, ds.AcquisitionNumber = study_date, "090000", 1
        position = image.TransformIndexToPhysicalPoint((0, 0, k))
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.ImageOrientationPatient = [f"{v:.8f}" for v in (*direction[:, 0], *direction[:, 1])]
        ds.PixelSpacing = [f"{spacing[1]:.6f}", f"{spacing[0]:.6f}"]
        ds.SliceThickness = f"{spacing[2]:.6f}"
        ds.SliceLocation = f"{float(np.dot(position, direction[:, 2])):.6f}"
        ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
        ds.Rows, ds.Columns = values.shape[1], values.shape[2]
        ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
        ds.RescaleIntercept, ds.RescaleSlope, ds.RescaleType = "0", "1", "HU"
        ds.KVP = ""
        ds.PixelData = np.ascontiguousarray(values[k], "<i2").tobytes()
        path = folder / f"CT{k + 1:04d}.dcm"
        save_dataset(ds, path)
        paths.append(path)
    return paths


def save_dataset(dataset, path: Path) -> None:
    """Write a dataset in the DICOM file format (explicit VR little endian) across pydicom 2 and 3."""
    try:
        dataset.save_as(str(path), enforce_file_format=True)
    except TypeError:  # pydicom < 3
        dataset.is_little_endian, dataset.is_implicit_VR = True, False
        dataset.save_as(str(path), write_like_original=False)
