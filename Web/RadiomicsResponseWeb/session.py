"""The case being read in the workstation: one MRML scene, a volume and a segmentation per time point.

No trame and no views here: this module only moves data between MRML nodes and the libraries.
Files are read with ``ResponseSignatureLib.imageio``, turned into nodes and back with
``ResponseSignatureLib.mrml_bridge``, and the computation is
``ResponseSignatureLib.pipeline.compute_lesion_table``: nothing is computed twice.

A lesion's location is kept on its MRML segment as the tag ``LOCATION_TAG`` so that it follows
the segment through renames, undo and saving as ``.seg.nrrd``; so is the Tracking UID a DICOM SEG
gave the lesion (``TRACKING_UID_TAG``), which the DICOM SEG + SR export (``export_dicom``) keeps.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from ResponseSignatureLib import imageio, lesion_table, mrml_bridge, pipeline
from ResponseSignatureLib.errors import InputError

TIMEPOINTS = lesion_table.TIMEPOINTS
TIMEPOINT_TITLES = {"baseline": "Baseline", "followup": "Follow-up"}
LOCATION_TAG = "RadiomicsResponse.Location"
TRACKING_UID_TAG = "RadiomicsResponse.TrackingUID"
LOCATIONS = ("liver", "lung", "node", "bone", "adrenal", "kidney", "peritoneum", "brain", "spleen",
             "pancreas", "other")


@dataclass
class TimepointNodes:
    """The MRML nodes of one time point."""

    volume: Any
    segmentation: Any


@dataclass
class PipelineInputs:
    """What ``compute_lesion_table`` needs, taken from the scene in the thread that owns it."""

    timepoints: dict
    locations: dict
    patient_id: str
    dicom_series: dict = field(default_factory=dict)  # timepoint -> the DICOM series folder its image came from


class Session:
    """Volume and segmentation nodes per time point in one MRML scene, and the lesion locations."""

    def __init__(self, scene, patient_id: str = "patient"):
        self.scene = scene
        self.patient_id = patient_id
        self.nodes: dict[str, TimepointNodes] = {}
        self.dicom_series: dict[str, Path] = {}  # timepoint -> DICOM series folder, for time points read from one
        #: time point -> "resampled from <grid> to <grid> ..." when its segmentation file was on another grid
        self.resampled: dict[str, str] = {}

    @property
    def load_warnings(self) -> list[str]:
        """What loading accepted but changed, one sentence per time point (a segmentation resampled
        to its image's grid: its diameters and volumes are measured on the new grid)."""
        return [f"The {_words(timepoint)} segmentation is on another grid than its image: {text}."
                for timepoint, text in self.resampled.items()]

    # ----------------------------------------------------------------------------- loading
    def load_timepoint(self, timepoint: str, image_path, segmentation_path=None,
                       locations: Mapping[str, str] | None = None) -> TimepointNodes:
        """Read an image (and optionally its segmentation) for a time point, replacing what was there."""
        _check_timepoint(timepoint)
        image, segments = _read(image_path, segmentation_path)
        return self._replace(timepoint, image, segments, locations or {}, image_path)

    def load_case(self, paths: Mapping[str, Any], patient_id: str | None = None) -> None:
        """Load both time points from a dict with the keys of ``sample_data.make_sample_case``.

        Every file is read before anything in the scene changes: a bad file leaves the case as it was.
        """
        locations = pipeline.read_locations(paths["locations"]) if paths.get("locations") else {}
        read = {t: _read(paths[f"{t}_image"], paths.get(f"{t}_seg")) for t in TIMEPOINTS}
        for timepoint, (image, segments) in read.items():
            self._replace(timepoint, image, segments, locations, paths[f"{timepoint}_image"])
        if patient_id:
            self.patient_id = patient_id

    def _replace(self, timepoint: str, image, segments, locations: Mapping[str, str], image_path) -> TimepointNodes:
        """Put a time point's image and segments into new nodes (removing the old ones)."""
        self.remove_timepoint(timepoint)
        resampled = next((segment.resampled for segment in segments if segment.resampled), None)
        if resampled:
            self.resampled[timepoint] = resampled
        title = TIMEPOINT_TITLES[timepoint]
        volume = mrml_bridge.volume_node_from_sitk(self.scene, image, f"{title} image")
        segmentation = mrml_bridge.segmentation_node_from_segments(self.scene, segments, volume, f"{title} lesions")
        self.nodes[timepoint] = TimepointNodes(volume, segmentation)
        tracking_uids = {segment.name: segment.tracking_uid for segment in segments if segment.tracking_uid}
        for segment_id in self.segment_ids(timepoint):
            segment = self.segment(timepoint, segment_id)
            name = segment.GetName()
            self.set_location(timepoint, segment_id, locations.get(name) or lesion_table.infer_location(name))
            if name in tracking_uids:
                segment.SetTag(TRACKING_UID_TAG, tracking_uids[name])
        self.dicom_series.pop(timepoint, None)
        if Path(str(image_path)).expanduser().is_dir():
            self.dicom_series[timepoint] = Path(str(image_path)).expanduser()
        return self.nodes[timepoint]

    def remove_timepoint(self, timepoint: str) -> None:
        """Remove a time point's nodes from the scene (if it was loaded)."""
        nodes = self.nodes.pop(timepoint, None)
        self.resampled.pop(timepoint, None)
        if nodes is None:
            return
        for node in (nodes.segmentation, nodes.volume):
            for index in reversed(range(node.GetNumberOfDisplayNodes())):
                display = node.GetNthDisplayNode(index)
                if display is not None:
                    self.scene.RemoveNode(display)
            self.scene.RemoveNode(node)

    def is_loaded(self, timepoint: str | None = None) -> bool:
        """True if the time point (or, without one, every time point) is loaded."""
        wanted = [timepoint] if timepoint else list(TIMEPOINTS)
        return all(name in self.nodes for name in wanted)

    # ----------------------------------------------------------------------------- lesions
    def segment_ids(self, timepoint: str) -> list[str]:
        """Segment IDs of a time point's segmentation, in order."""
        if timepoint not in self.nodes:
            return []
        segmentation = self.nodes[timepoint].segmentation.GetSegmentation()
        return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]

    def segment(self, timepoint: str, segment_id: str):
        """The vtkSegment, or InputError if the time point or segment does not exist."""
        if timepoint not in self.nodes:
            raise InputError(f"No {_words(timepoint)} image is loaded.")
        segment = self.nodes[timepoint].segmentation.GetSegmentation().GetSegment(segment_id)
        if segment is None:
            raise InputError(f"The {_words(timepoint)} segmentation has no segment '{segment_id}'.")
        return segment

    def lesions(self, timepoint: str) -> list[dict]:
        """One dict per segment: segment_id, name, location, color (#rrggbb), empty (no voxel yet)."""
        rows = []
        segmentation = self.nodes[timepoint].segmentation if timepoint in self.nodes else None
        for segment_id in self.segment_ids(timepoint):
            segment = self.segment(timepoint, segment_id)
            rows.append({
                "segment_id": segment_id,
                "name": segment.GetName(),
                "location": self.location(timepoint, segment_id),
                "color": "#" + "".join(f"{int(round(255 * c)):02x}" for c in segment.GetColor()),
                "empty": not mrml_bridge.has_voxels(segmentation, segment_id),
            })
        return rows

    def location(self, timepoint: str, segment_id: str) -> str:
        """The lesion's location (tag on the segment; inferred from its name if unset)."""
        segment = self.segment(timepoint, segment_id)
        value = _segment_tag(segment, LOCATION_TAG)
        return value or lesion_table.infer_location(segment.GetName())

    def tracking_uids(self, timepoint: str) -> dict[str, str]:
        """Lesion name -> the Tracking UID its DICOM SEG gave it (lesions without one left out)."""
        found = {}
        for segment_id in self.segment_ids(timepoint):
            segment = self.segment(timepoint, segment_id)
            uid = _segment_tag(segment, TRACKING_UID_TAG)
            if uid:
                found[segment.GetName()] = uid
        return found

    def set_location(self, timepoint: str, segment_id: str, location: str) -> None:
        """Set the lesion's location (a short organ name such as liver, lung, node)."""
        location = str(location or "").strip().lower()
        if not location:
            raise InputError("A lesion location cannot be empty (use 'other').")
        self.segment(timepoint, segment_id).SetTag(LOCATION_TAG, location)

    def rename(self, timepoint: str, segment_id: str, name: str) -> None:
        """Rename a lesion; names must be unique within a time point."""
        name = str(name or "").strip()
        if not name:
            raise InputError("A lesion name cannot be empty.")
        others = [self.segment(timepoint, other).GetName() for other in self.segment_ids(timepoint) if other != segment_id]
        if name in others:
            raise InputError(f"Another {_words(timepoint)} lesion is already called '{name}'.")
        self.segment(timepoint, segment_id).SetName(name)

    # ------------------------------------------------------------------------- computation
    def pipeline_inputs(self) -> PipelineInputs:
        """Images and segments of both time points as SimpleITK, and locations by lesion name.

        Reads the MRML scene: call it in the thread that owns the scene (the server's), then hand
        the result to ``compute`` in a worker thread.
        """
        missing = [_words(t) for t in TIMEPOINTS if t not in self.nodes]
        if missing:
            raise InputError(f"Load the {' and '.join(missing)} image before computing.")
        timepoints, locations = {}, {}
        for timepoint in TIMEPOINTS:
            nodes = self.nodes[timepoint]
            image = mrml_bridge.sitk_from_volume_node(nodes.volume)
            segments = mrml_bridge.segments_from_segmentation_node(nodes.segmentation, nodes.volume)
            if not segments:
                raise InputError(f"The {_words(timepoint)} image has no lesion segment yet: "
                                 f"add a segment and paint the lesion.")
            tracking_uids = self.tracking_uids(timepoint)
            for segment in segments:  # resampled: the pipeline reports it (warning + provenance), as for files
                segment.tracking_uid = tracking_uids.get(segment.name)
                segment.resampled = self.resampled.get(timepoint)
            timepoints[timepoint] = (image, segments)
            for lesion in self.lesions(timepoint):
                locations.setdefault(lesion["name"], lesion["location"])
        return PipelineInputs(timepoints, locations, self.patient_id, dict(self.dicom_series))


def compute(inputs: PipelineInputs, params: Any = None, progress: Callable | None = None,
            should_cancel: Callable | None = None) -> pipeline.LesionTableResult:
    """The lesion table, RECIST and provenance of the case (safe to run in a worker thread)."""
    return pipeline.compute_lesion_table(
        inputs.timepoints, params=params, patient_id=inputs.patient_id, locations=inputs.locations,
        progress=progress, should_cancel=should_cancel,
    )


def write_result(result: pipeline.LesionTableResult, out_dir, inputs: PipelineInputs | None = None) -> list[Path]:
    """Write the work into the work folder; returns the paths written.

    ``<patient>_lesions.csv`` (+ provenance with RECIST and errors) and, with ``inputs``, the
    segmentations as painted (``<patient>_<timepoint>.seg.nrrd``) and ``<patient>_locations.csv``,
    so that the case can be loaded again with its lesions.
    """
    from ResponseSignatureLib.tableio import write_table

    out = Path(out_dir)
    patient = str(result.provenance.get("patient_id") or "patient")
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(result.table, out / f"{patient}_lesions.csv",
                           {**result.provenance, "recist": result.recist, "errors": result.errors})]
    if inputs is not None:
        for timepoint, (image, segments) in inputs.timepoints.items():
            path = out / f"{patient}_{timepoint}.seg.nrrd"
            imageio.write_segments(segments, image, path)
            written.append(path)
        written.append(_write_locations(inputs.locations, out / f"{patient}_locations.csv"))
    return written


def dicom_export_problem(inputs: PipelineInputs | None) -> str | None:
    """Why the computed case cannot be written as DICOM SEG + SR, in a sentence; None when it can."""
    if inputs is None:
        return "Compute the lesion table first."
    missing = [_words(timepoint) for timepoint in TIMEPOINTS if timepoint not in inputs.dicom_series]
    if missing:
        return (f"DICOM SEG + SR need the {' and '.join(missing)} image loaded from a DICOM series folder: they "
                "reference the CT images of the PACS.")
    return None


def export_dicom(result: pipeline.LesionTableResult, inputs: PipelineInputs, out_dir, patient=None) -> dict:
    """Write the case as a DICOM SEG per time point and the follow-up's TID 1500 SR into ``out_dir``
    (``ResponseSignatureLib.dicom_export.export_sources``: the images and lesions the lesion table
    was computed from, the DICOM series they were loaded from); with ``patient`` (a
    ``patient_pipeline.PatientResult``) the SR also holds its signature and nomogram results.
    Returns {'baseline_seg', 'followup_seg', 'sr'} -> path. InputError when it cannot (see
    ``dicom_export_problem``)."""
    from NomogramScoreLib.dicom_report import patient_groups
    from ResponseSignatureLib import dicom_export

    problem = dicom_export_problem(inputs)
    if problem:
        raise InputError(problem)
    sources = {timepoint: dicom_export.TimepointSource(image, segments, inputs.dicom_series[timepoint])
               for timepoint, (image, segments) in inputs.timepoints.items()}
    groups = patient_groups(inputs.patient_id, patient.signature, patient.risk) if patient is not None else None
    return dicom_export.export_sources(result, sources, out_dir, patient_groups=groups)


def _write_locations(locations: Mapping[str, str], path: Path) -> Path:
    """lesion_id,location CSV (the format pipeline.read_locations reads)."""
    import csv
    import io

    from ResponseSignatureLib.models.modelfile import write_text_atomic

    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["lesion_id", "location"])
    writer.writerows(sorted(locations.items()))
    write_text_atomic(path, text.getvalue())
    return path


def _segment_tag(segment, tag: str) -> str:
    """A segment tag's value ('' if unset); vtkSegment.GetTag fills a string out-parameter."""
    import vtk

    value = vtk.reference("")
    return str(value) if segment.GetTag(tag, value) else ""


def _read(image_path, segmentation_path=None):
    """(SimpleITK image, segments on its grid) read with ResponseSignatureLib.imageio."""
    image = imageio.read_image(_existing(image_path, "image"))
    segments = imageio.read_segments(_existing(segmentation_path, "segmentation"), image) if segmentation_path else []
    return image, segments


def _words(timepoint: str) -> str:
    """A time point as it reads in a sentence: 'baseline', 'follow-up'."""
    return TIMEPOINT_TITLES.get(timepoint, timepoint).lower()


def _check_timepoint(timepoint: str) -> None:
    if timepoint not in TIMEPOINTS:
        raise InputError(f"Unknown time point '{timepoint}'; expected one of {', '.join(TIMEPOINTS)}.")


def _existing(path, what: str) -> Path:
    path = Path(str(path)).expanduser()
    if not path.exists():
        raise InputError(f"The {what} file was not found: {path}")
    return path
