"""Images + segmentations at baseline and follow-up -> lesion table + patient RECIST.

This is the one function the CLI, the Slicer Logic, the batch runner and the tests call:
measure and extract every segment at every time point, match lesions across time points, select
RECIST targets, build the lesion table and assess the response. A problem with one lesion is
recorded in its ``error`` column and in ``errors``; the other lesions are still computed.

Lesions on private crops, in parallel (``workers``)
---------------------------------------------------
The segments are measured and extracted in a pool of ``workers`` threads (numpy and SimpleITK's
filters release the GIL, but ITK already spreads each filter over all cores, and Python code on
small arrays holds the GIL, so lesions overlap only partly). SimpleITK images
must never be used by two threads at once (``GetArrayViewFromImage`` runs ``Image.MakeUnique``, and
filters change their input's pipeline state), so only the calling thread touches the caller's
images: for each lesion it cuts a private crop of image and mask (the lesion's box plus
``FeatureExtractor.input_margin``, the margin the extractor reads; a private copy of the whole scan
when the features depend on the whole scan) and hands it to a worker, which touches nothing else.
The crop holds every voxel the extractor would read from the whole scan, and the measures are
computed in the scan's index space and frame (``measure_lesion(offset=, frame=)``), so the results
are bit-identical to measuring each lesion on the whole scan, for any ``workers`` - and, even with
one worker, several times faster (a lesion no longer scans the whole CT). Progress and cancellation
run in the calling thread; outcomes are gathered in segment order.
"""
from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, NamedTuple, Sequence

import numpy as np
import pandas as pd
import SimpleITK as sitk
from threadpoolctl import threadpool_limits

from . import imageio, lesion_table, matching, measure, recist
from .engine.preprocess import roi_bbox
from .errors import InputError, LesionError
from .extraction import DEFAULT_ENGINE, FeatureExtractor, load_params
from .progress import CancelCallback, ProgressCallback, check_cancel, report
from .provenance import make_provenance, settings_hash


@dataclass
class LesionTableResult:
    """What compute_lesion_table returns: the lesion table, patient RECIST, per-lesion errors, provenance,
    and warnings about inputs that were accepted but changed (a segmentation resampled to its image)."""

    table: pd.DataFrame
    recist: dict
    errors: list = field(default_factory=list)
    provenance: dict = field(default_factory=dict)
    warnings: list = field(default_factory=list)


def compute_lesion_table(
    timepoints: Mapping[str, tuple[Any, Sequence[imageio.Segment]]] | imageio.CaseReading,
    params: Any = None,
    patient_id: str = "patient",
    locations: Mapping[str, str] | str | Path | None = None,
    pairs: Sequence[tuple[str, str]] | None = None,
    tolerance_mm: float = 15.0,
    engine: str = DEFAULT_ENGINE,
    progress: ProgressCallback = None,
    should_cancel: CancelCallback = None,
    workers: int | None = None,
) -> LesionTableResult:
    """Measure, extract, match and assess one patient.

    ``timepoints`` maps 'baseline' and 'followup' to (SimpleITK image, segments on its grid; their
    masks cover the whole grid or a box of it, see imageio.Segment), or is an imageio.CaseReading
    still reading them (the settings are checked and the engine loaded meanwhile).
    ``params``: preset name, pyradiomics YAML path or dict. ``locations``: lesion name -> organ
    (or a CSV with columns lesion_id,location); a lesion not listed takes its segment's location
    tag (``imageio.LOCATION_TAG`` in a .seg.nrrd), else the organ its name starts with (liver_1),
    else 'other' (unknown: its own organ for RECIST).
    ``workers``: threads measuring lesions side by side (None: ``default_workers()``); the result
    does not depend on it.
    """
    workers = _check_workers(workers)
    settings = load_params(params)
    extractor = FeatureExtractor(settings, engine=engine)
    if isinstance(timepoints, imageio.CaseReading):
        timepoints = timepoints.timepoints()
    _check_timepoints(timepoints)
    location_of = _location_lookup(locations, _tagged_locations(timepoints))
    values, centroids, errors = _measure_all(timepoints, extractor, progress, should_cancel, workers)
    matches = matching.match_lesions(centroids["baseline"], centroids["followup"], tolerance_mm=tolerance_mm, pairs=pairs)
    rows = _lesion_rows(matches, location_of, errors)
    targets = _select_targets(rows, values["baseline"])
    for row in rows:
        row["target"] = row["lesion_id"] in targets
    table = lesion_table.build_lesion_table(patient_id, rows, values)
    report(progress, 1.0, "Lesion table ready")
    provenance = make_provenance(
        patient_id=patient_id,
        engine=engine,
        extraction_settings=extractor.settings,
        extraction_settings_sha256=settings_hash(extractor.settings),
        matching={"tolerance_mm": tolerance_mm, "pairs": [list(pair) for pair in pairs or []]},
    )
    resampled = _resampled_segmentations(timepoints)
    if resampled:
        provenance["resampled_segmentations"] = resampled
    warnings = [f"{name} segmentation is on another grid than its image: {text}" for name, text in resampled.items()]
    return LesionTableResult(table, lesion_table.recist_from_lesion_table(table), errors, provenance, warnings)


def _resampled_segmentations(timepoints) -> dict[str, str]:
    """{time point: "resampled from ... to ..."} for the time points whose segments were resampled."""
    return {name: next(s.resampled for s in segments if s.resampled)
            for name, (_, segments) in timepoints.items() if any(s.resampled for s in segments)}


def run_case_files(
    baseline_image: str | Path,
    baseline_seg: str | Path,
    followup_image: str | Path,
    followup_seg: str | Path,
    patient_id: str | None = None,
    reading: imageio.CaseReading | None = None,
    **kwargs: Any,
) -> LesionTableResult:
    """compute_lesion_table on files (NRRD/NIfTI/MHA/DICOM folder images; .seg.nrrd or label maps).

    ``kwargs`` go to compute_lesion_table (params, locations, pairs, tolerance_mm, engine,
    progress, should_cancel, workers). The provenance's ``inputs`` name each file with the SHA-256
    of what was read (``provenance.input_sha256``: a DICOM folder's files together). ``reading``:
    these four files already being read (``imageio.CaseReading(..., cropped=True)``, started by a
    caller with other work to do meanwhile); by default they are read here.
    """
    files = (baseline_image, baseline_seg, followup_image, followup_seg)
    if reading is None:
        reading = imageio.CaseReading(*files, cropped=True)
    elif tuple(reading.files.values()) != files:
        raise ValueError(f"reading is of {tuple(reading.files.values())}, not of {files}")
    result = compute_lesion_table(reading, patient_id=patient_id or Path(str(baseline_image)).stem, **kwargs)
    hashes = reading.hashes()
    result.provenance["inputs"] = {key: {"path": str(path), "sha256": hashes[key]} for key, path in reading.files.items()}
    return result


def read_timepoints(baseline_image, baseline_seg, followup_image, followup_seg, cropped: bool = False) -> dict:
    """{'baseline' / 'followup': (image, segments on its grid)} read from files, as compute_lesion_table takes.

    ``cropped``: each segment's mask covers only its lesion's box (``imageio.read_segments``), so
    memory grows with the lesions, not the scan; the results are the same (run_case_files reads so).
    The two time points are read side by side (``imageio.CaseReading``).
    """
    return imageio.CaseReading(baseline_image, baseline_seg, followup_image, followup_seg, cropped=cropped).timepoints()


def _check_timepoints(timepoints: Mapping[str, Any]) -> None:
    if set(timepoints) != set(lesion_table.TIMEPOINTS):
        raise InputError(f"Expected the time points {lesion_table.TIMEPOINTS}, got {tuple(timepoints)}.")
    for name, (_, segments) in timepoints.items():
        names = [segment.name for segment in segments]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InputError(f"Segment names must be unique within a time point; at {name} repeated: {', '.join(duplicates)}.")


def default_workers() -> int:
    """Lesion threads when ``workers`` is None: 2, or 1 on a one-core machine.

    Two because the per-lesion work is partly Python (GIL-bound) and the built-in engine already
    runs a lesion's filters in 2 threads: more would mostly add memory (see
    Testing/benchmarks/bench_lesions_parallel.py).
    """
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(2, cores))


def _check_workers(workers: int | None) -> int:
    """``workers`` as a positive int (None: default_workers()); InputError otherwise."""
    if workers is None:
        return default_workers()
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise InputError(f"workers must be a whole number of at least 1, got {workers!r}.")
    return int(workers)


class _Job(NamedTuple):
    """One segment at one time point, on the caller's (shared) image."""

    timepoint: str
    image: Any
    segment: imageio.Segment


def _measure_all(timepoints, extractor, progress, should_cancel, workers: int = 1):
    """Measures + features per time point per segment; centroids for matching; per-lesion errors.

    One worker when each lesion would need its own copy of a scan that pyradiomics then processes
    whole (see _parallel_ok). Outcomes are gathered in segment order: nothing depends on timing.
    """
    jobs = [_Job(name, image, segment) for name, (image, segments) in timepoints.items() for segment in segments]
    workers = max(1, min(workers, len(jobs))) if _parallel_ok(extractor) else 1
    outcomes = _LesionPool(jobs, extractor, workers, progress, should_cancel).run()
    return _gather(timepoints, jobs, outcomes)


def _gather(timepoints, jobs, outcomes):
    """values, centroids and errors from the per-job outcomes, in job order."""
    values: dict[str, dict[str, dict[str, float]]] = {name: {} for name in timepoints}
    centroids: dict[str, dict[str, tuple[float, float, float]]] = {name: {} for name in timepoints}
    errors: list[dict[str, str]] = []
    for (name, _, segment), (measures, features, error) in zip(jobs, outcomes):
        if measures is not None:
            centroids[name][segment.name] = tuple(measures[f"centroid_{axis}_mm"] for axis in "xyz")
        if error:
            errors.append({"lesion_id": segment.name, "timepoint": name, "message": error})
        values[name][segment.name] = {**{k: v for k, v in (measures or {}).items() if k in lesion_table.MEASURES}, **features}
    return values, centroids, errors


def _measure_segment(image, segment, extractor, timepoint, **place):
    """(measures or None, features, error message or '') for one segment at one time point.

    ``place`` (offset, frame) is passed to measure_lesion when ``image`` is a crop of the scan.
    """
    problem = segment.note or _non_finite_voxels(image, segment.mask, extractor)
    if problem:  # an error, not a measurement; the centroid still lets the lesion be matched
        return measure.lesion_centroid(segment.mask, **place), {}, str(LesionError(segment.name, problem, timepoint))
    try:
        measures = measure.measure_lesion(image, segment.mask, segment.name, **place)
    except LesionError as error:
        return None, {}, _with_timepoint(error, segment.name, timepoint)
    try:
        features = extractor.extract(image, segment.mask, lesion_id=segment.name, timepoint=timepoint)
    except LesionError as error:
        return measures, {}, _with_timepoint(error, segment.name, timepoint)
    return measures, features, ""


def _non_finite_voxels(image, mask, extractor) -> str:
    """'' if every image voxel the lesion's measures and features read is a finite number, else why not.

    Those voxels are the lesion and its filter margin (``extractor.input_margin``; the whole scan
    when the settings read it whole). NaN or infinite values there would make every feature NaN or
    fail deep inside the filters, so the lesion is an error naming the count instead.
    """
    values = sitk.GetArrayViewFromImage(image)
    lesion = sitk.GetArrayViewFromImage(mask)
    if values.dtype.kind not in "fc" or values.shape[:3] != lesion.shape:
        return ""                          # integer voxels are always finite; another grid fails later
    inside = lesion != 0
    if not inside.any():
        return ""                          # an empty segment is reported as such by measure_lesion
    margin = extractor.input_margin(image.GetSpacing())
    if margin is None:
        region: tuple = (slice(None),) * 3
        where = "the rest of the scan, which these settings read whole"
    else:
        lower, upper = roi_bbox(lesion, "mask")
        margin = np.asarray(margin)[::-1]
        region = tuple(slice(max(lo - m, 0), hi + m + 1) for lo, hi, m in zip(lower, upper, margin))
        where = "its filter margin"
    bad = ~np.isfinite(values[region])
    count = int(np.count_nonzero(bad))
    if not count:
        return ""
    in_lesion = int(np.count_nonzero(bad & inside[region]))
    voxels = f"{count} voxels of the image are" if count > 1 else "1 voxel of the image is"
    return (f"{voxels} NaN or infinite ({in_lesion} inside the lesion, {count - in_lesion} in "
            f"{where}); features cannot be computed from them. Check the image (NaN often marks voxels outside "
            "the reconstructed field of view).")


# ---------------------------------------------------------------------------- lesions in parallel
#: seconds the calling thread waits for a lesion to finish before it asks should_cancel again
POLL_SECONDS = 0.2


def _parallel_ok(extractor) -> bool:
    """False when each lesion would need a private whole scan that is also big to process.

    pyradiomics with whole-scan settings (normalize, resampling, Square...) filters or normalises
    the whole scan per lesion (GBs, see DESIGN.md Performance): two at once could exhaust memory.
    The built-in engine reads only a crop even then, so a private copy of the scan per lesion is
    affordable (at most ``workers`` of them exist at a time).
    """
    return extractor.engine == "builtin" or not extractor.reads_whole_scan


@dataclass
class _LesionInput:
    """What one worker thread may touch: private copies of a lesion's image and mask region.

    ``offset`` is the (x, y, z) index of the copy's first voxel in the scan, ``frame`` a one-voxel
    image with the scan's origin, spacing and direction (both for measure_lesion).
    """

    image: sitk.Image
    segment: imageio.Segment
    offset: tuple
    frame: sitk.Image


#: crop voxels of the lesions computed at once: a lesion is started beside running ones only while
#: their crops together stay within this (one lesion always runs, whatever its size). With the full
#: setting (14 filtered images per crop) it keeps the 5-lesion benchmark patient under 1 GB with
#: two workers (Testing/benchmarks/bench_patient.py); lighter settings are hardly affected.
CONCURRENT_CROP_VOXELS = 4_000_000


class _LesionPool:
    """Runs the jobs in ``workers`` threads; only the calling thread touches the caller's images.

    ``run`` starts the lesions largest crop first (the big lesions do not end up alone at the end)
    and starts one beside the running ones only while their crops together stay within
    CONCURRENT_CROP_VOXELS, so memory stays bounded whatever the number and size of the lesions.
    Each lesion's _LesionInput is cut here just before it starts. Lesions that cannot be cut (a
    note, an empty mask, a mask not exactly on the image grid) run here first (_measure_here): they
    fail fast or need the tolerant geometry checks. Progress is reported as lesions finish,
    cancellation is checked before each lesion starts and while waiting; on cancel, lesions not
    started are dropped, running ones finish, and OperationCancelled is raised. A LesionError is
    the lesion's outcome (its error column); any other error stops starting lesions, and once the
    running lesions have finished the error of the first failed job in segment order is raised.
    Outcomes are kept in segment order: nothing depends on the order they ran in.

    BLAS (OpenBLAS under numpy and scipy) runs one thread while the lesions run: a lesion's
    matrices are small, and idle BLAS threads busy-wait after each call, taking the cores the
    lesion threads and ITK's filters need (signature preset on the benchmark patient: -19 % CPU,
    -8 % wall; results unchanged). The previous limit is restored afterwards.
    """

    def __init__(self, jobs, extractor, workers, progress, should_cancel):
        self.jobs, self.extractor, self.workers = jobs, extractor, workers
        self.progress, self.should_cancel = progress, should_cancel
        self.outcomes: list = [None] * len(jobs)
        self.failures: dict[int, BaseException] = {}
        self.running: dict = {}      # future -> job index
        self.finished = 0
        self.regions = [_lesion_region(job.image, job.segment, extractor) for job in jobs]
        # voxels of each job's crop; 0 for a lesion that runs in the calling thread
        self.voxels = [0 if region is None else int(np.prod(region[2] - region[1] + 1)) for region in self.regions]

    def run(self) -> list:
        """(measures, features, error) per job, in job order."""
        report(self.progress, 0.0, "Measuring lesions")
        pending = sorted(range(len(self.jobs)), key=lambda index: (self.voxels[index] > 0, -self.voxels[index], index))
        with threadpool_limits(limits=1, user_api="blas"), \
                ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="lesion") as pool:
            try:
                while pending and not self.failures:
                    check_cancel(self.should_cancel)
                    index = self._next_fitting(pending)
                    if index is None:
                        self._wait()
                        continue
                    pending.remove(index)
                    self._start(pool, index)
                while self.running:
                    self._wait()
            finally:
                for future in self.running:
                    future.cancel()  # after a cancel or an error: drop lesions not started
        if self.failures:
            raise self.failures[min(self.failures)]
        return self.outcomes

    def _next_fitting(self, pending: list) -> int | None:
        """The first pending job (largest first) that may start now, or None to wait for a running one."""
        if len(self.running) >= self.workers:
            return None
        busy = sum(self.voxels[index] for index in self.running.values())
        for index in pending:
            if not self.running or busy + self.voxels[index] <= CONCURRENT_CROP_VOXELS:
                return index
        return None

    def _start(self, pool, index: int) -> None:
        """Cut the job's private input and submit it, or run it here if it cannot be cut."""
        job, region = self.jobs[index], self.regions[index]
        if region is None:
            try:
                self._done(index, _measure_here(job, self.extractor))
            except Exception as error:  # noqa: BLE001 - raised by run() in job order
                self._done(index, failure=error)
            return
        lesion = _cut_lesion(job.image, job.segment, region)
        future = pool.submit(_measure_segment, lesion.image, lesion.segment, self.extractor, job.timepoint,
                             offset=lesion.offset, frame=lesion.frame)
        self.running[future] = index

    def _wait(self) -> None:
        """Wait for running lesions to finish (checking for cancellation meanwhile); record them."""
        finished, _ = wait(self.running, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
        for future in sorted(finished, key=self.running.get):
            index = self.running.pop(future)
            error = future.exception()
            self._done(index, None if error else future.result(), failure=error)
        check_cancel(self.should_cancel)

    def _done(self, index: int, outcome=None, failure: BaseException | None = None) -> None:
        """Record one finished job and report progress (calling thread only)."""
        if failure is not None:
            self.failures[index] = failure
        self.outcomes[index] = outcome
        self.finished += 1
        job = self.jobs[index]
        report(self.progress, self.finished / len(self.jobs), f"{job.timepoint}: {job.segment.name}")


def _lesion_region(image, segment, extractor):
    """(place, lower, upper): where the segment's mask lies in the scan and the inclusive (x, y, z)
    index box of the scan one lesion's measures and features read (its box plus
    ``extractor.input_margin``, clipped to the scan; the whole scan when that is None). None when the
    lesion must run in the calling thread (see _LesionPool). Calling thread only.
    """
    if segment.note:
        return None
    place = _mask_place(image, segment.mask)
    if place is None:
        return None
    box = _nonzero_box(segment.mask)
    if box is None:
        return None
    size = np.array(image.GetSize())
    margin = extractor.input_margin(image.GetSpacing())
    if margin is None:
        return place, np.zeros(3, int), size - 1
    return place, np.maximum(place + box[0] - margin, 0), np.minimum(place + box[1] + margin, size - 1)


def _cut_lesion(image, segment, region) -> _LesionInput:
    """Private copies of the image and mask region (_lesion_region) one lesion's measures and features read.

    Calling thread only. The segment's mask may cover the whole grid or a box of it
    (imageio.Segment); the copy is cut from the scan's index space either way.
    """
    place, lower, upper = region
    mask = _mask_region(segment.mask, place, lower, upper, image)
    return _LesionInput(_region(image, lower, upper), replace(segment, mask=mask), tuple(int(v) for v in lower),
                        _frame(image))


def _measure_here(job: _Job, extractor):
    """_measure_segment in the calling thread, for a lesion _cut_lesion did not cut (a note, an empty mask,
    a mask not exactly on the image grid): on the caller's image when the mask covers its whole grid
    or lies on another grid (the tolerant checks decide), else on the scan's box under the mask."""
    image, mask = job.image, job.segment.mask
    place = _mask_place(image, mask)
    if place is None or mask.GetSize() == image.GetSize():
        return _measure_segment(image, job.segment, extractor, job.timepoint)
    region = _region(image, place, place + np.array(mask.GetSize()) - 1)
    return _measure_segment(region, job.segment, extractor, job.timepoint, offset=tuple(int(v) for v in place),
                            frame=_frame(image))


def _mask_place(image, mask) -> np.ndarray | None:
    """The (x, y, z) index in ``image`` of ``mask``'s first voxel when the mask lies exactly (bit for
    bit) on the image's grid - the whole grid or a box of it inside the image -, else None.

    Then a crop cut from both at the same scan index has the same grid too, and the tolerance
    checks of measure and extraction pass or fail on it exactly as on the whole scan.
    """
    if not (image.GetDimension() == 3 and mask.GetDimension() == 3
            and image.GetNumberOfComponentsPerPixel() == 1 and mask.GetNumberOfComponentsPerPixel() == 1
            and image.GetSpacing() == mask.GetSpacing() and image.GetDirection() == mask.GetDirection()):
        return None
    place = np.zeros(3, int)
    if mask.GetOrigin() != image.GetOrigin():
        place = np.rint(image.TransformPhysicalPointToContinuousIndex(mask.GetOrigin())).astype(int)
        if image.TransformIndexToPhysicalPoint([int(v) for v in place]) != mask.GetOrigin():
            return None
    if np.any(place < 0) or np.any(place + mask.GetSize() > np.array(image.GetSize())):
        return None
    return place


def _nonzero_box(mask) -> tuple[np.ndarray, np.ndarray] | None:
    """Inclusive (lower, upper) (x, y, z) index bounds of the mask's non-zero voxels; None if empty.

    Non-zero, as measure_lesion and the extractors select the lesion (the built-in engine's
    ``== 1`` is a subset).
    """
    try:
        lower, upper = roi_bbox(sitk.GetArrayViewFromImage(mask), "mask")
    except LesionError:
        return None
    return lower[::-1], upper[::-1]


def _region(image, lower, upper):
    """A new image (own buffer) holding the inclusive (x, y, z) index box of ``image``.

    Cut from the numpy view: as ``sitk.RegionOfInterest`` (same voxels, spacing, direction and
    origin) without starting ITK's threads for each lesion.
    """
    box = tuple(slice(int(lo), int(hi) + 1) for lo, hi in zip(lower[::-1], upper[::-1]))
    return _on_box(sitk.GetImageFromArray(sitk.GetArrayViewFromImage(image)[box]), image, lower)


def _mask_region(mask, place, lower, upper, image):
    """A new mask image holding the inclusive (x, y, z) index box [lower, upper] of ``image``'s grid,
    from a mask whose first voxel is the grid's voxel ``place`` (0 where the mask does not reach)."""
    values = sitk.GetArrayViewFromImage(mask)
    start, low = np.asarray(place)[::-1], np.asarray(lower)[::-1]
    out = np.zeros(tuple(int(v) for v in (np.asarray(upper) - lower + 1)[::-1]), values.dtype)
    first = np.maximum(start, low)
    last = np.minimum(start + values.shape, low + out.shape)
    if np.all(last > first):
        out[tuple(slice(a - o, b - o) for a, b, o in zip(first, last, low))] = \
            values[tuple(slice(a - s, b - s) for a, b, s in zip(first, last, start))]
    return _on_box(sitk.GetImageFromArray(out), image, lower)


def _on_box(region, image, lower):
    """``region`` placed on ``image``'s grid with its first voxel at ``image``'s (x, y, z) index ``lower``."""
    region.SetSpacing(image.GetSpacing())
    region.SetDirection(image.GetDirection())
    region.SetOrigin(image.TransformIndexToPhysicalPoint([int(v) for v in lower]))
    return region


def _frame(image):
    """A one-voxel image with ``image``'s origin, spacing and direction (for measure_lesion)."""
    frame = sitk.Image([1, 1, 1], sitk.sitkUInt8)
    frame.SetOrigin(image.GetOrigin())
    frame.SetSpacing(image.GetSpacing())
    frame.SetDirection(image.GetDirection())
    return frame


def _with_timepoint(error: LesionError, lesion_id: str, timepoint: str) -> str:
    return str(error) if error.timepoint else str(LesionError(lesion_id, str(error).split(": ", 1)[-1], timepoint))


def _lesion_rows(matches, location_of, errors) -> list[dict[str, Any]]:
    """One row per matched/new/disappeared lesion with its id, location, match and errors."""
    messages: dict[tuple[str, str], list[str]] = {}
    for error in errors:
        messages.setdefault((error["timepoint"], error["lesion_id"]), []).append(error["message"])
    rows = []
    for match in matches:
        lesion_id = match.baseline_id or match.followup_id
        row_errors = messages.get(("baseline", match.baseline_id), []) + messages.get(("followup", match.followup_id), [])
        rows.append(
            {
                "lesion_id": lesion_id,
                "location": location_of(match.baseline_id, match.followup_id),
                "status": match.status,
                "baseline_segment": match.baseline_id,
                "followup_segment": match.followup_id,
                "match_method": match.method or "",
                "match_distance_mm": match.distance_mm,
                "error": "; ".join(row_errors),
            }
        )
    return rows


def _select_targets(rows, baseline_values) -> set[str]:
    """RECIST 1.1 target lesions among the baseline lesions that could be measured."""
    candidates = []
    for row in rows:
        measures = baseline_values.get(row["baseline_segment"] or "", {})
        if "longest_diameter_mm" in measures:
            candidates.append(
                {
                    "lesion_id": row["lesion_id"],
                    "location": row["location"],
                    "longest_diameter_mm": measures["longest_diameter_mm"],
                    "short_axis_mm": measures["short_axis_mm"],
                }
            )
    return set(recist.select_targets(candidates))


def _tagged_locations(timepoints) -> dict[str, str]:
    """Lesion name -> location from the segments' location tags (baseline first)."""
    tagged: dict[str, str] = {}
    for _, segments in timepoints.values():
        for segment in segments:
            if getattr(segment, "location", None):
                tagged.setdefault(segment.name, segment.location)
    return tagged


def _location_lookup(locations, tagged=None):
    """A function (baseline name, follow-up name) -> location: the mapping or CSV given, then the
    locations the segmentation files code (.seg.nrrd tag, DICOM SEG anatomic region), then the
    segment name."""
    if isinstance(locations, (str, Path)):
        locations = read_locations(locations)
    known = {**dict(tagged or {}), **dict(locations or {})}

    def location_of(baseline_name, followup_name):
        for name in (baseline_name, followup_name):
            if name and name in known:
                return known[name]
        return lesion_table.infer_location(baseline_name or followup_name)

    return location_of


def read_locations(path: str | Path) -> dict[str, str]:
    """Read a locations CSV (columns lesion_id,location) into a dict; InputError naming the file."""
    from .tableio import csv_rows, read_text

    path = Path(path)
    if not path.exists():
        raise InputError(f"Locations file not found: {path}")
    columns, rows = csv_rows(read_text(path, "locations file"), path, "locations file")
    if not {"lesion_id", "location"} <= set(columns):
        raise InputError(f"{path} must have the columns lesion_id,location; found {columns}.")
    return {row["lesion_id"]: row["location"] for row in rows if row["lesion_id"]}
