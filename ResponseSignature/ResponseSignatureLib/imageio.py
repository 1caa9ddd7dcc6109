"""Images and segmentations on disk <-> SimpleITK.

Reads CT volumes (NRRD, NIfTI, MetaImage or a DICOM series folder) and lesion segmentations
(Slicer ``.seg.nrrd`` or a label map), and brings every lesion mask onto the grid of its image.
Writes segments back as a ``.seg.nrrd`` that 3D Slicer opens, or as a plain label map.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from .dicom_io import is_dicom_file, read_dataset
from .errors import InputError
from .provenance import input_sha256
from .segment import GEOMETRY_TOLERANCE, Segment, same_geometry  # noqa: F401 - part of this module's API

logger = logging.getLogger(__name__)

OUTSIDE_NOTE = "lies outside the image"
EMPTY_NOTE = "empty segment"
# Colours given to segments that have none (RGB 0..1), cycled.
DEFAULT_COLORS = (
    (0.90, 0.20, 0.20), (0.20, 0.70, 0.30), (0.20, 0.45, 0.90), (0.95, 0.75, 0.10),
    (0.70, 0.30, 0.80), (0.10, 0.75, 0.80), (0.95, 0.50, 0.20), (0.55, 0.55, 0.55),
)


# ------------------------------------------------------------------------------------ whole cases

class CaseReading:
    """A case's baseline and follow-up files being read in the background, one thread per time point.

    Each thread reads the image, then its segmentation onto it (``read_segments(cropped=)``), then the
    SHA-256 of both files. Decompressing a scan and hashing do not hold the GIL, so the caller can
    load the rest of its code meanwhile (this module needs only numpy and SimpleITK: ``extract``
    starts reading before it imports the pipeline). Each thread has its own SimpleITK objects.
    """

    def __init__(self, baseline_image, baseline_seg, followup_image, followup_seg, cropped: bool = False):
        self.files = {"baseline_image": baseline_image, "baseline_segmentation": baseline_seg,
                      "followup_image": followup_image, "followup_segmentation": followup_seg}
        pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="read")
        self._reading = {timepoint: pool.submit(self._read, self.files[f"{timepoint}_image"],
                                                self.files[f"{timepoint}_segmentation"], cropped)
                         for timepoint in ("baseline", "followup")}
        pool.shutdown(wait=False)  # the two threads end when their time point is read

    @staticmethod
    def _read(image_path, seg_path, cropped: bool):
        image = read_image(image_path)
        segments = read_segments(seg_path, image, cropped=cropped)
        return image, segments, (input_sha256(image_path), input_sha256(seg_path))

    def timepoints(self) -> dict:
        """{'baseline' / 'followup': (image, segments on its grid)}, once read; the baseline's error
        first, as reading one after the other would raise it."""
        return {timepoint: future.result()[:2] for timepoint, future in self._reading.items()}

    def hashes(self) -> dict[str, str]:
        """{file key of ``files``: SHA-256 of what was read} (a DICOM folder's files together)."""
        found = {}
        for timepoint, future in self._reading.items():
            found[f"{timepoint}_image"], found[f"{timepoint}_segmentation"] = future.result()[2]
        return found


# ---------------------------------------------------------------------------------------- images

def read_image(path) -> sitk.Image:
    """Read a 3D image from a NRRD/NIfTI/MHA/MHD file or a folder holding a DICOM series."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"Image '{path}' does not exist (expected an image file or a DICOM folder).")
    if path.is_dir():
        try:
            image = _read_dicom_folder(path)
        except RuntimeError as exc:
            raise InputError(f"Image '{path}' cannot be read: {_first_line(exc)}") from None
    else:
        image = read_image_file(path, "Image")
    return _as_3d(image, path)


def read_image_file(path: Path, what: str) -> sitk.Image:
    """Read one image file; an empty file, a file that is not an image and a truncated or damaged
    one each raise their own InputError (``what`` starts the message: 'Image', 'Segmentation')."""
    label = f"{what} '{path}'"
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError(f"{label} cannot be read: {exc.strerror or exc}.") from None
    if size == 0:
        raise InputError(f"{label} is an empty file (0 bytes); it was not saved or copied completely.")
    if not os.access(path, os.R_OK):
        raise InputError(f"{label} cannot be read: permission denied.")
    reader = sitk.ImageFileReader()
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError:
        raise InputError(f"{label} is not an image: no reader of NRRD, NIfTI, MetaImage or DICOM recognises it "
                         f"({_content_hint(path)}).") from None
    try:
        return reader.Execute()
    except RuntimeError as exc:
        voxels = int(np.prod(reader.GetSize())) * reader.GetNumberOfComponents()
        raise InputError(f"{label} is truncated or damaged: its header describes {voxels} voxels but they cannot "
                         f"all be read ({_first_line(exc)}); copy the file again.") from None


def _content_hint(path: Path) -> str:
    """How a file that is not an image begins, e.g. "it begins with text: 'patient notes'"."""
    with open(path, "rb") as stream:
        head = stream.read(40)
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return f"{path.stat().st_size} bytes of binary data"
    shown = " ".join(text.split())[:30]
    return f"it begins with text: '{shown}'" if shown else "it holds only blank text"


def _read_dicom_folder(folder: Path) -> sitk.Image:
    series_ids = sitk.ImageSeriesReader.GetGDCMSeriesIDs(str(folder))
    if not series_ids:
        raise InputError(f"Folder '{folder}' holds no DICOM series (expected one CT series).")
    files = {sid: sitk.ImageSeriesReader.GetGDCMSeriesFileNames(str(folder), sid) for sid in series_ids}
    chosen = max(series_ids, key=lambda sid: len(files[sid]))
    if len(series_ids) > 1:
        logger.warning("Folder '%s' holds %d DICOM series; reading %s (%d files), the largest.",
                       folder, len(series_ids), chosen, len(files[chosen]))
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(files[chosen])
    return reader.Execute()


def _as_3d(image: sitk.Image, path) -> sitk.Image:
    if image.GetDimension() == 4 and image.GetSize()[3] == 1:
        size = list(image.GetSize())
        size[3] = 0
        image = sitk.Extract(image, size, [0, 0, 0, 0])
    if image.GetDimension() != 3:
        raise InputError(f"Image '{path}' has {image.GetDimension()} dimensions (expected a 3D volume).")
    if image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"Image '{path}' has {image.GetNumberOfComponentsPerPixel()} components per "
                         "voxel (expected a single-channel, grey-level volume).")
    return image


def _first_line(exc: Exception) -> str:
    """The informative line of an ITK error (its last), without ITK's 'sitk::ERROR: ' prefix."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[-1].replace("sitk::ERROR: ", "") if lines else type(exc).__name__


# -------------------------------------------------------------------------------------- geometry

def resample_mask(mask: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """A 0/1 UInt8 mask on the reference grid: as is if the grid is the same, else nearest neighbour."""
    return _onto_grid(sitk.Cast(mask != 0, sitk.sitkUInt8), reference)


def _onto_grid(mask: sitk.Image, reference: sitk.Image) -> sitk.Image:
    """resample_mask for a mask that is already UInt8 0/1."""
    if same_geometry(mask, reference):
        mask.CopyInformation(reference)
        return mask
    offset = _voxel_offset(mask, reference)
    if offset is not None:
        return _shifted_copy(mask, reference, offset)
    return sitk.Resample(mask, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)


def _voxel_offset(mask: sitk.Image, reference: sitk.Image):
    """Index of the mask's first voxel in the reference grid if both grids line up (a crop), else None."""
    for a, b in ((mask.GetSpacing(), reference.GetSpacing()), (mask.GetDirection(), reference.GetDirection())):
        if not np.allclose(a, b, rtol=0.0, atol=GEOMETRY_TOLERANCE):
            return None
    index = np.array(reference.TransformPhysicalPointToContinuousIndex(mask.GetOrigin()))
    rounded = np.rint(index)
    return rounded.astype(int) if np.allclose(index, rounded, rtol=0.0, atol=1e-3) else None


def _shifted_copy(mask: sitk.Image, reference: sitk.Image, offset) -> sitk.Image:
    """Paste a mask whose grid is the reference grid shifted by whole voxels (clipped to the reference)."""
    source = sitk.GetArrayViewFromImage(mask)
    out = np.zeros(sitk.GetArrayViewFromImage(reference).shape[:3], np.uint8)
    start = offset[::-1]                                   # (i, j, k) -> (k, j, i)
    low = np.maximum(start, 0)
    high = np.minimum(start + np.array(source.shape), out.shape)
    if np.all(high > low):
        target = tuple(slice(a, b) for a, b in zip(low, high))
        origin = tuple(slice(a - s, b - s) for a, b, s in zip(low, high, start))
        out[target] = source[origin]
    image = sitk.GetImageFromArray(out)
    image.CopyInformation(reference)
    return image


# ------------------------------------------------------------------------------------ reading

def read_segments(path, reference: sitk.Image, cropped: bool = False) -> list[Segment]:
    """Read a Slicer .seg.nrrd, a label map, a DICOM SEG or an RT Structure Set; return its lesions on
    the reference image grid.

    Segments on another grid are resampled (nearest neighbour) and marked (``Segment.resampled``,
    and a warning); a segment partly or wholly outside the image gets a ``note`` (the pipeline
    reports it as that lesion's error, with the fraction outside); if every segment lies
    outside, InputError.

    ``cropped``: each mask covers only its lesion's box of the reference grid (see Segment), not
    the whole grid: memory then grows with the lesions, not with the scan (five whole-grid masks of
    a 512 x 512 x 120 CT take 157 MB; their boxes a few MB). The pipeline reads them so.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"Segmentation '{path}' is a folder (expected a .seg.nrrd or a label map file).")
    if not path.is_file():
        raise InputError(f"Segmentation '{path}' does not exist (expected a .seg.nrrd or a label map file).")
    if is_dicom_file(path):  # DICOM SEG or RT Structure Set
        raw = _read_dicom_segments(path, reference)
        grid = raw[0].mask if raw else reference
    else:
        image = read_image_file(path, "Segmentation")
        is_slicer = image.HasMetaDataKey("Segment0_ID")
        raw, grid = _slicer_segments(image, path) if is_slicer else _label_segments(image, path)
    if not raw:
        raise InputError(f"Segmentation '{path}' holds no segment (expected at least one lesion).")
    return _onto_reference(raw, reference, path, grid, cropped)


def _layer_arrays(image: sitk.Image) -> tuple[list[np.ndarray], sitk.Image]:
    """The 3D label arrays (k, j, i) of a segmentation file, and a 3D image carrying their geometry."""
    if image.GetDimension() == 4:
        size = list(image.GetSize())
        count, size[3] = size[3], 0
        layers = [sitk.Extract(image, size, [0, 0, 0, k]) for k in range(count)]
        return [sitk.GetArrayFromImage(layer) for layer in layers], layers[0]
    values = sitk.GetArrayViewFromImage(image)
    if image.GetNumberOfComponentsPerPixel() == 1:
        return [values], image
    return [values[..., k] for k in range(values.shape[-1])], image


def _slicer_segments(image: sitk.Image, path) -> tuple[list[Segment], sitk.Image]:
    """The segments of a Slicer .seg.nrrd, each mask cut to its box (see _label_masks), and the file's grid."""
    layers, grid = _layer_arrays(image)
    boxes: dict[int, dict] = {}
    segments = []
    index = 0
    while image.HasMetaDataKey(f"Segment{index}_ID"):
        meta = _segment_metadata(image, index)
        layer = int(meta.get("Layer", index))
        label = int(meta.get("LabelValue", 1))
        if layer >= len(layers):
            raise InputError(f"Segmentation '{path}': segment '{meta.get('Name')}' refers to layer {layer} "
                             f"but the file has {len(layers)} layer(s).")
        if layer not in boxes:
            boxes[layer] = _label_boxes(layers[layer])
        mask = _label_mask(layers[layer], label, boxes[layer].get(label), grid)
        name = meta.get("Name") or meta["ID"]
        location = segment_tags(meta.get("Tags")).get(LOCATION_TAG) or None
        segments.append(Segment(name, mask, label, _parse_color(meta.get("Color")), location=location))
        index += 1
    return segments, grid


def _segment_metadata(image: sitk.Image, index: int) -> dict:
    prefix = f"Segment{index}_"
    return {key[len(prefix):]: image.GetMetaData(key)
            for key in image.GetMetaDataKeys() if key.startswith(prefix)}


#: segment tag holding a lesion's organ in a .seg.nrrd (set by the web workstation, readable in Slicer)
LOCATION_TAG = "RadiomicsResponse.Location"


def segment_tags(text: str | None) -> dict[str, str]:
    """Slicer's 'key:value|key:value|' segment tags as a dict."""
    tags = {}
    for item in (text or "").split("|"):
        key, sep, value = item.partition(":")
        if sep and key.strip():
            tags[key.strip()] = value.strip()
    return tags


def _parse_color(text: str | None) -> tuple | None:
    try:
        values = tuple(float(v) for v in (text or "").split())
    except ValueError:
        return None
    return values if len(values) == 3 else None


def _label_segments(image: sitk.Image, path) -> tuple[list[Segment], sitk.Image]:
    """One segment per non-zero label of a label map (``lesion_<label>``, in label order), and its grid."""
    image = _as_3d(image, path)
    values = sitk.GetArrayViewFromImage(image)
    if values.dtype.kind not in "iub":
        if not np.all(np.equal(np.mod(values, 1), 0)):
            raise InputError(f"Label map '{path}' holds non-integer values (expected integer lesion labels).")
        values = values.astype(np.int64)
    boxes = _label_boxes(values)
    segments = [Segment(f"lesion_{label}", _label_mask(values, label, box, image), label)
                for label, box in sorted(boxes.items())]
    return segments, image


def _read_dicom_segments(path, reference):
    """Segments of a DICOM SEG or RT Structure Set file (``read_segments`` maps them onto the
    reference grid). A SEG gives masks on its own frame grid, an RTSTRUCT is rasterised on ``reference``."""
    dataset = read_dataset(path)
    modality = str(dataset.get("Modality", ""))
    if modality == "SEG":
        from .dicom_seg import segments_from_seg

        segments = segments_from_seg(dataset, path)
    elif modality == "RTSTRUCT":
        from .dicom_rtstruct import segments_from_rtstruct

        segments = segments_from_rtstruct(dataset, reference, path)
    else:
        raise InputError(f"DICOM file '{path}' is a {modality or 'DICOM object without modality'}, not a "
                         "segmentation (expected a DICOM SEG or an RT Structure Set).")
    if not segments:
        raise InputError(f"Segmentation '{path}' holds no segment (expected at least one lesion).")
    return segments


# Labels up to this value are boxed in one ndimage.find_objects pass (a list entry per value).
_MAX_FOUND_LABEL = 65535


def _label_boxes(values: np.ndarray) -> dict[int, tuple]:
    """{label: (k, j, i) slices of its bounding box} for every non-zero value of an integer array.

    Two reductions find the box holding all labelled voxels (lesions fill a small part of a scan),
    then ``ndimage.find_objects`` boxes every label inside it: about two passes over the scan for
    all labels together, where comparing the scan with each label costs a pass per label.
    """
    values = values.view(np.uint8) if values.dtype == bool else values
    if values.size == 0:
        return {}
    if (values.dtype.kind == "i" and values.min() < 0) or values.max() > _MAX_FOUND_LABEL:
        return {int(label): _content_box(values == label) for label in np.unique(values) if label != 0}
    outer = _content_box(values)
    if outer is None:
        return {}
    from scipy import ndimage  # here, not at the top: CaseReading starts before scipy is loaded

    corner = [axis.start for axis in outer]
    return {label: tuple(slice(axis.start + c, axis.stop + c) for axis, c in zip(box, corner))
            for label, box in enumerate(ndimage.find_objects(values[outer]), start=1) if box is not None}


def _content_box(values: np.ndarray) -> tuple | None:
    """(k, j, i) slices of the smallest box holding every non-zero voxel of ``values``; None if none."""
    if values.dtype.kind == "i" and values.min() < 0:
        values = values != 0
    nonzero_k = np.flatnonzero(values.reshape(len(values), -1).max(axis=1))
    if nonzero_k.size == 0:
        return None
    plane = values[nonzero_k[0]:nonzero_k[-1] + 1].max(axis=0)
    nonzero_j, nonzero_i = np.flatnonzero(plane.max(axis=1)), np.flatnonzero(plane.max(axis=0))
    return (slice(nonzero_k[0], nonzero_k[-1] + 1), slice(nonzero_j[0], nonzero_j[-1] + 1),
            slice(nonzero_i[0], nonzero_i[-1] + 1))


def _label_mask(values: np.ndarray, label: int, box: tuple | None, grid: sitk.Image) -> sitk.Image:
    """The 0/1 mask of ``label`` cut to its box (None: the label is absent) grown by one voxel, on ``grid``.

    The extra voxel keeps a nearest-neighbour resampling of the box identical to one of the whole
    file grid (see _onto_reference_grid).
    """
    if box is None:
        return _box_image(np.zeros((1, 1, 1), np.uint8), grid, (0, 0, 0))
    grown = tuple(slice(max(axis.start - 1, 0), min(axis.stop + 1, n)) for axis, n in zip(box, values.shape))
    return _box_image((values[grown] == label).astype(np.uint8), grid, [axis.start for axis in grown][::-1])


def _box_image(values: np.ndarray, grid: sitk.Image, index) -> sitk.Image:
    """A (k, j, i) array as the image of the box of ``grid`` whose first voxel is ``grid``'s (x, y, z) ``index``."""
    image = sitk.GetImageFromArray(values)
    image.SetSpacing(grid.GetSpacing())
    image.SetDirection(grid.GetDirection())
    image.SetOrigin(grid.TransformIndexToPhysicalPoint([int(v) for v in index]))
    return image


def _onto_reference(segments: list[Segment], reference: sitk.Image, path, grid: sitk.Image,
                    cropped: bool) -> list[Segment]:
    """Bring the segments (masks on the file's ``grid``, whole or boxes of it) onto the reference grid.

    Sets each segment's ``note`` (empty, outside, partly outside) and ``resampled``.
    """
    had_voxels = kept_voxels = False
    resampled = _resampling(grid, reference)
    if resampled:
        logger.warning("Segmentation '%s' is on another grid than its image: %s.", path, resampled)
    for segment in segments:
        segment.mask, total, outside = _onto_reference_grid(segment.mask, grid, reference, cropped)
        segment.resampled = resampled
        had_voxels = had_voxels or total > 0
        kept_voxels = kept_voxels or outside < total
        if total == 0:
            segment.note = EMPTY_NOTE
        elif outside == total:
            segment.note = OUTSIDE_NOTE
            logger.warning("Segment '%s' of '%s' lies outside the image.", segment.name, path)
        elif outside:
            segment.note = (f"{100.0 * outside / total:.3g} % of the segment ({outside} of {total} voxels) "
                            f"{OUTSIDE_NOTE}; check that this segmentation belongs to this image")
            logger.warning("Segment '%s' of '%s': %s.", segment.name, path, segment.note)
    if had_voxels and not kept_voxels:
        raise InputError(f"Segmentation '{path}' does not overlap its image (every segment lies outside "
                         "the image; check that the right image and segmentation were paired).")
    return segments


def _onto_reference_grid(mask: sitk.Image, grid: sitk.Image, reference: sitk.Image,
                         cropped: bool) -> tuple[sitk.Image, int, int]:
    """(mask on the reference grid, whole or cut to its box; its voxels; how many lie outside the reference).

    A mask whose grid lines up with the reference's (the same grid, or shifted by whole voxels) is
    clipped to the reference by index; any other is resampled as the whole file grid it came from
    (nearest neighbour), so the result does not depend on the box it was read into.
    """
    offset = _voxel_offset(mask, reference)
    if offset is None:
        whole = _onto_grid(mask, grid)
        total, outside = _voxels_outside(whole, reference)
        placed = sitk.Resample(whole, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0, sitk.sitkUInt8)
        return (_cut_to_content(sitk.GetArrayViewFromImage(placed), reference, (0, 0, 0)) if cropped else placed,
                total, outside)
    values = sitk.GetArrayViewFromImage(mask)
    total = int(np.count_nonzero(values))
    start = offset[::-1]                                      # (k, j, i) of the mask's first voxel
    low = np.maximum(start, 0)
    high = np.minimum(start + np.array(values.shape), sitk.GetArrayViewFromImage(reference).shape[:3])
    inside = values[tuple(slice(a - s, max(b, a) - s) for a, b, s in zip(low, high, start))]
    outside = total - int(np.count_nonzero(inside))
    if not cropped:
        return _onto_grid(mask, reference), total, outside
    return _cut_to_content(inside, reference, low[::-1]), total, outside


def _cut_to_content(values: np.ndarray, reference: sitk.Image, index) -> sitk.Image:
    """The box of ``values`` (a (k, j, i) block of the reference grid starting at its (x, y, z) ``index``)
    holding its non-zero voxels, as an image on the reference grid (see Segment for an empty one)."""
    box = _content_box(values) if values.size else None
    if box is None:
        return _box_image(np.zeros((1, 1, 1), np.uint8), reference, (0, 0, 0))
    corner = np.asarray(index) + [axis.start for axis in box][::-1]
    return _box_image((values[box] != 0).astype(np.uint8), reference, corner)


def _voxels_outside(mask: sitk.Image, reference: sitk.Image) -> tuple[int, int]:
    """(voxels of the mask, how many of them have their centre outside the reference image's extent)."""
    values = sitk.GetArrayViewFromImage(mask)
    total = int(np.count_nonzero(values))
    if total == 0 or same_geometry(mask, reference):
        return total, 0
    kji = np.argwhere(values != 0).astype(float)
    homogeneous = np.column_stack([kji[:, ::-1], np.ones(len(kji))]).T          # (i, j, k, 1) x N
    index = np.linalg.inv(_index_to_physical(reference)) @ (_index_to_physical(mask) @ homogeneous)
    size = np.array(reference.GetSize(), float)[:, None]
    inside = np.all((index[:3] >= -0.5 - GEOMETRY_TOLERANCE) & (index[:3] <= size - 0.5 + GEOMETRY_TOLERANCE), axis=0)
    return total, int(total - np.count_nonzero(inside))


def _index_to_physical(image: sitk.Image) -> np.ndarray:
    """The 4 x 4 matrix taking a continuous index (i, j, k, 1) to a physical point (x, y, z, 1)."""
    matrix = np.eye(4)
    matrix[:3, :3] = np.array(image.GetDirection()).reshape(3, 3) @ np.diag(image.GetSpacing())
    matrix[:3, 3] = image.GetOrigin()
    return matrix


def _resampling(grid: sitk.Image, reference: sitk.Image) -> str | None:
    """"resampled from <grid> to <grid>" if bringing masks on ``grid`` onto the reference grid resamples
    them (not the same grid, and not a whole-voxel crop of it), else None."""
    if same_geometry(grid, reference) or _voxel_offset(grid, reference) is not None:
        return None
    same_size = grid.GetSize() == reference.GetSize() and np.allclose(grid.GetSpacing(), reference.GetSpacing())
    oriented = not np.allclose(grid.GetDirection(), reference.GetDirection(), atol=GEOMETRY_TOLERANCE)
    return (f"resampled from {_grid_text(grid, same_size, oriented)} to {_grid_text(reference, same_size, oriented)} "
            "(nearest neighbour)")


def _grid_text(image: sitk.Image, with_origin: bool, with_direction: bool) -> str:
    """'30 x 28 x 16 voxels of 1 x 1 x 2 mm' (+ origin / direction when only those differ)."""
    text = (" x ".join(str(n) for n in image.GetSize()) + " voxels of "
            + " x ".join(f"{s:g}" for s in image.GetSpacing()) + " mm")
    if with_origin:
        text += " at origin (" + ", ".join(f"{o:g}" for o in image.GetOrigin()) + ") mm"
    if with_direction:
        text += " with direction (" + " ".join(f"{d:.3g}" for d in image.GetDirection()) + ")"
    return text


# ------------------------------------------------------------------------------------ writing

def write_segments(segments, reference: sitk.Image, path) -> None:
    """Write segments as a Slicer .seg.nrrd, or as a label map (label = index + 1) for other extensions."""
    path = Path(path)
    segments = list(segments)
    for segment in segments:
        if not same_geometry(segment.mask, reference):
            raise InputError(f"segment '{segment.name}' is not on the grid of the reference image "
                             f"(size {segment.mask.GetSize()} vs {reference.GetSize()}); cannot write '{path}'.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.name.lower().endswith(".seg.nrrd"):
        image = _segmentation_image(segments, reference)
    else:
        image = _label_map(segments, reference)
    _write_atomically(image, path)


def _write_atomically(image: sitk.Image, path: Path) -> None:
    """Write to a temporary file and rename it (formats whose header names a data file: directly)."""
    if path.suffix.lower() in (".mhd", ".hdr", ".img"):
        _write(image, path)
        return
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".gz") else path.suffix
    temp = path.with_name(f".{path.name}.tmp{suffix}")
    try:
        _write(image, temp, path)
        os.replace(temp, path)
    finally:
        if temp.exists():
            temp.unlink()


def _write(image: sitk.Image, file: Path, shown: Path | None = None) -> None:
    try:
        sitk.WriteImage(image, str(file), True)
    except RuntimeError as exc:
        raise InputError(f"Cannot write '{shown or file}': {_first_line(exc)}") from exc


def _label_map(segments: list[Segment], reference: sitk.Image) -> sitk.Image:
    dtype = np.uint8 if len(segments) < 256 else np.uint16
    labels = np.zeros(sitk.GetArrayViewFromImage(reference).shape[:3], dtype)
    for index, segment in enumerate(segments):
        voxels = sitk.GetArrayViewFromImage(segment.mask) != 0
        if np.any(labels[voxels]):
            logger.warning("Segment '%s' overlaps an earlier segment; a label map keeps one label per "
                           "voxel, the later segment wins.", segment.name)
        labels[voxels] = index + 1
    image = sitk.GetImageFromArray(labels)
    image.CopyInformation(reference)
    return image


def _assign_layers(masks: list[np.ndarray]) -> tuple[list[np.ndarray], list[tuple[int, int]]]:
    """Put each mask in the first layer it does not overlap; return layers and (layer, label) per mask."""
    layers: list[np.ndarray] = []
    counts: list[int] = []
    places = []
    for mask in masks:
        index = next((k for k, layer in enumerate(layers) if counts[k] < 255 and not np.any(layer[mask])), None)
        if index is None:
            layers.append(np.zeros(mask.shape, np.uint8))
            counts.append(0)
            index = len(layers) - 1
        counts[index] += 1
        layers[index][mask] = counts[index]
        places.append((index, counts[index]))
    return layers, places


def _segmentation_image(segments: list[Segment], reference: sitk.Image) -> sitk.Image:
    masks = [sitk.GetArrayFromImage(s.mask) != 0 for s in segments]
    if not masks:
        raise InputError("No segment to write (expected at least one lesion).")
    layers, places = _assign_layers(masks)
    if len(layers) == 1:
        image = sitk.GetImageFromArray(layers[0])
    else:
        image = sitk.GetImageFromArray(np.stack(layers, axis=-1), isVector=True)
    image.CopyInformation(reference)
    for key, value in _segmentation_metadata(segments, places, reference).items():
        image.SetMetaData(key, value)
    return image


def _segmentation_metadata(segments, places, reference: sitk.Image) -> dict[str, str]:
    size = reference.GetSize()
    extent = f"0 {size[0] - 1} 0 {size[1] - 1} 0 {size[2] - 1}"
    meta = {
        "Segmentation_MasterRepresentation": "Binary labelmap",
        "Segmentation_ContainedRepresentationNames": "Binary labelmap|",
        "Segmentation_ReferenceImageExtentOffset": "0 0 0",
        "Segmentation_ConversionParameters": _reference_geometry_parameter(reference),
    }
    ids = _unique_ids([s.name for s in segments])
    for index, (segment, (layer, label)) in enumerate(zip(segments, places)):
        color = segment.color or DEFAULT_COLORS[index % len(DEFAULT_COLORS)]
        prefix = f"Segment{index}_"
        meta.update({
            prefix + "ID": ids[index],
            prefix + "Name": segment.name,
            prefix + "NameAutoGenerated": "0",
            prefix + "Color": " ".join(f"{float(c):g}" for c in color[:3]),
            prefix + "ColorAutoGenerated": "0" if segment.color else "1",
            prefix + "LabelValue": str(label),
            prefix + "Layer": str(layer),
            prefix + "Extent": extent,
            prefix + "Tags": (f"RadiomicsResponse.Note:{segment.note}|" if segment.note else "")
                             + (f"{LOCATION_TAG}:{segment.location}|" if segment.location else ""),
        })
    return meta


def _unique_ids(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    ids = []
    for name in names:
        base = name.replace("|", "_").replace("&", "_") or "Segment"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}_{seen[base]}")
    return ids


def _reference_geometry_parameter(reference: sitk.Image) -> str:
    """Slicer's 'Reference image geometry' conversion parameter: IJK-to-RAS matrix then extent."""
    lps_to_ras = np.diag([-1.0, -1.0, 1.0])
    matrix = np.eye(4)
    direction = np.array(reference.GetDirection()).reshape(3, 3)
    matrix[:3, :3] = lps_to_ras @ direction @ np.diag(reference.GetSpacing())
    matrix[:3, 3] = lps_to_ras @ np.array(reference.GetOrigin())
    size = reference.GetSize()
    numbers = [f"{v:.17g}" for v in matrix.ravel()] + [str(v) for s in size for v in (0, s - 1)]
    return "Reference image geometry|" + ";".join(numbers) + ";|&"
