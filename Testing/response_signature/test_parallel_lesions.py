"""Lesions measured on private crops in a thread pool (pipeline ``workers``): exact and safe.

The pipeline gives each worker thread its own crop of image and mask, cut in the calling thread
(SimpleITK images are not thread-safe). These tests compare it, to the last bit, with measuring and
extracting every lesion directly on the whole scan (measure_lesion + FeatureExtractor.extract, the
pre-crop way) and across worker counts, on real images (the sample case and a synthetic case with
many small lesions and broken segments); run it many times to give a thread-safety bug a chance to
crash; and check progress, cancellation, error order, the crop itself and ``extract --jobs``.
"""
from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from ResponseSignatureLib import cli, imageio, measure, pipeline
from ResponseSignatureLib.errors import InputError, LesionError, OperationCancelled
from ResponseSignatureLib.extraction import FeatureExtractor
from ResponseSignatureLib.lesion_table import MEASURES

LIGHT_PARAMS = {"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean", "Entropy"], "shape": ["VoxelVolume"]},
                "setting": {"binWidth": 25}}
# LoG runs ITK filters inside the worker threads; its margin is the one a too-small crop would break
LOG_PARAMS = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0, 2.0]}},
              "featureClass": {"firstorder": ["Mean", "Entropy", "Maximum"], "glcm": ["Contrast"]}, "setting": {"binWidth": 25}}
# for the 20-run loop: still ITK filters (LoG) in the worker threads, but few features
LOOP_PARAMS = {"imageType": {"Original": {}, "LoG": {"sigma": [1.0]}}, "featureClass": {"firstorder": ["Mean", "Maximum"]},
               "setting": {"binWidth": 25}}
# normalisation uses whole-scan statistics: each worker gets a private copy of the whole scan
NORMALISED_PARAMS = {"imageType": {"Original": {}, "LoG": {"sigma": [2.0]}}, "featureClass": {"firstorder": ["Mean", "Maximum"]},
                     "setting": {"normalize": True, "binWidth": 0.25}}
# the Zhao sigmoid rays read 15 mm around the lesion: one voxel less of crop changes them
ZHAO_PARAMS = {"imageType": {"Original": {}}, "featureClass": {"zhao": ["Sigmoid"]}, "zhao": {"sigmoidMaxRays": 100},
               "setting": {"binWidth": 25}}
# Gradient reads the ROI box + 1 voxel: cut like LoG, not a whole-scan copy
GRADIENT_PARAMS = {"imageType": {"Original": {}, "Gradient": {}}, "featureClass": {"firstorder": ["Mean", "Maximum"]},
                   "setting": {"binWidth": 5}}
SPACING = (0.8, 0.8, 2.0)


def load_timepoints(paths):
    return pipeline.read_timepoints(*(paths[key] for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg")))


def same_result(first, second):
    """Every column and value (NaN-aware, exact), errors in order, RECIST: identical."""
    pd.testing.assert_frame_equal(first.table, second.table, check_exact=True)
    assert list(first.table.columns) == list(second.table.columns)
    assert first.errors == second.errors
    assert first.recist == second.recist


# ----------------------------------------------------------------------------- synthetic case
def _blob(shape, centre, radius_vox):
    """Boolean ellipsoid (radius in voxels per k, j, i axis)."""
    k, j, i = np.ogrid[:shape[0], :shape[1], :shape[2]]
    return sum(((axis - c) / r) ** 2 for axis, c, r in zip((k, j, i), centre, radius_vox)) <= 1


def _image(array, origin):
    image = sitk.GetImageFromArray(array)
    image.SetSpacing(SPACING)
    image.SetOrigin(origin)
    return image


def synthetic_timepoint(seed: int, scale: float):
    """A 40 x 96 x 96 int16 CT with 6 small textured lesions (one touching the scan border)."""
    rng = np.random.default_rng(seed)
    shape = (40, 96, 96)
    array = rng.normal(40, 12, shape).astype(np.int16)
    centres = [(10, 20, 20), (12, 70, 25), (20, 48, 48), (28, 22, 72), (30, 75, 75), (3, 48, 93)]
    radii = [(2, 5, 5), (3, 7, 6), (4, 9, 9), (2, 4, 6), (3, 6, 6), (3, 5, 5)]
    origin = (-38.4, -20.0, 100.0)
    masks = []
    for number, (centre, radius) in enumerate(zip(centres, radii)):
        inside = _blob(shape, centre, [max(1.0, r * scale) for r in radius])
        array[inside] = (100 + 20 * number + rng.normal(0, 25, int(inside.sum()))).astype(np.int16)
        masks.append(inside.astype(np.uint8))
    image = _image(array, origin)
    segments = [imageio.Segment(f"lesion_{n}", _image(m, origin)) for n, m in enumerate(masks)]
    return image, segments


def broken_segments(image):
    """Segments that fail (empty, one voxel, outside the image) or take the tolerant path."""
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(image)
    one_voxel = sitk.Image(empty)
    one_voxel[10, 10, 10] = 1
    nudged = sitk.GetImageFromArray(_blob((40, 96, 96), (15, 50, 30), (2, 4, 4)).astype(np.uint8))
    nudged.CopyInformation(image)
    nudged.SetOrigin([v + 1e-6 for v in image.GetOrigin()])  # within tolerance, not bit-identical
    return [imageio.Segment("empty_one", empty), imageio.Segment("tiny_one", one_voxel),
            imageio.Segment("far_away", empty, note=imageio.OUTSIDE_NOTE), imageio.Segment("nudged", nudged)]


def synthetic_timepoints(with_broken: bool = True):
    baseline = synthetic_timepoint(1, 1.0)
    followup = synthetic_timepoint(2, 0.8)
    if with_broken:
        baseline[1].extend(broken_segments(baseline[0]))
        baseline[1].append(imageio.Segment("twin_of_0", baseline[1][0].mask))  # one mask object, two segments
    return {"baseline": baseline, "followup": followup}


# ----------------------------------------------------------------------------- identical results
def whole_scan_values(timepoints, extractor):
    """Per time point and segment: measures + features computed directly on the whole scan."""
    values = {}
    for name, (image, segments) in timepoints.items():
        for segment in segments:
            if segment.note:
                continue
            try:
                measures = measure.measure_lesion(image, segment.mask, segment.name)
            except LesionError:
                continue
            try:
                features = extractor.extract(image, segment.mask, lesion_id=segment.name, timepoint=name)
            except LesionError:
                features = {}
            values[(name, segment.name)] = {**{k: v for k, v in measures.items() if k in MEASURES}, **features}
    return values


@pytest.mark.parametrize("params", [LIGHT_PARAMS, "dercle2020", NORMALISED_PARAMS, ZHAO_PARAMS, GRADIENT_PARAMS],
                         ids=["light", "dercle2020", "normalised", "zhao", "gradient"])
@pytest.mark.parametrize("workers", [1, 3])
def test_crops_give_the_whole_scan_values(sample_case, params, workers):
    """Every lesion's measures and features equal the direct whole-scan calls, bit for bit."""
    assert_whole_scan_values(load_timepoints(sample_case), FeatureExtractor(params), workers, n_lesions=8)


def test_crops_give_the_whole_scan_values_many_lesions_and_failures():
    assert_whole_scan_values(synthetic_timepoints(), FeatureExtractor(LOG_PARAMS), 4, n_lesions=15)


def assert_whole_scan_values(timepoints, extractor, workers, n_lesions):
    values, _, _ = pipeline._measure_all(timepoints, extractor, None, None, workers)
    expected = whole_scan_values(timepoints, extractor)
    got = {(name, lesion): v for name, per in values.items() for lesion, v in per.items() if v}
    assert got.keys() == expected.keys() and len(got) == n_lesions
    for key, features in expected.items():
        assert got[key].keys() == features.keys()
        for feature, value in features.items():
            assert got[key][feature] == value or (np.isnan(value) and np.isnan(got[key][feature])), (key, feature)


@pytest.mark.parametrize("params", [LIGHT_PARAMS, "dercle2020", "ligero2021", NORMALISED_PARAMS, ZHAO_PARAMS],
                         ids=["light", "dercle2020", "ligero2021", "normalised", "zhao"])
def test_sample_case_same_result_for_any_workers(sample_case, params):
    # ligero2021 resamples on the scan-anchored grid: each worker gets a private copy of the scan
    timepoints = load_timepoints(sample_case)
    sequential = pipeline.compute_lesion_table(timepoints, params=params, patient_id="sample",
                                               locations=sample_case["locations"], workers=1)
    parallel = pipeline.compute_lesion_table(timepoints, params=params, patient_id="sample",
                                             locations=sample_case["locations"], workers=2)
    same_result(sequential, parallel)
    assert len(parallel.table) == 5 and parallel.recist["recist_category"] == "PD"


@pytest.mark.parametrize("params", [LIGHT_PARAMS, "dercle2020", NORMALISED_PARAMS, ZHAO_PARAMS, GRADIENT_PARAMS],
                         ids=["light", "dercle2020", "normalised", "zhao", "gradient"])
def test_segments_read_as_boxes_give_the_whole_grid_result(sample_case, params):
    """run_case_files reads each mask as its lesion's box of the grid (memory bound by the lesions):
    the lesion table, errors and RECIST equal those of whole-grid masks to the last bit."""
    paths = [sample_case[key] for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg")]
    boxed = pipeline.read_timepoints(*paths, cropped=True)
    assert all(np.all(np.less(s.mask.GetSize(), image.GetSize())) for image, segments in boxed.values() for s in segments)
    same_result(pipeline.compute_lesion_table(pipeline.read_timepoints(*paths), params=params, workers=2),
                pipeline.compute_lesion_table(boxed, params=params, workers=2))


def as_boxes(timepoints):
    """The same time points with every mask lying exactly on its image grid cut to its non-zero box
    (an empty one to one voxel); masks on another grid (within tolerance) stay whole."""
    boxed = {}
    for name, (image, segments) in timepoints.items():
        cut = []
        for segment in segments:
            mask = segment.mask
            if pipeline._mask_place(image, mask) is not None:
                box = pipeline._nonzero_box(mask)
                lower, upper = box if box is not None else (np.zeros(3, int), np.zeros(3, int))
                mask = sitk.RegionOfInterest(mask, [int(v) for v in upper - lower + 1], [int(v) for v in lower])
            cut.append(imageio.Segment(segment.name, mask, note=segment.note))
        boxed[name] = (image, cut)
    return boxed


@pytest.mark.parametrize("workers", [1, 4])
def test_boxed_masks_with_failures_give_the_whole_grid_result(workers):
    timepoints = synthetic_timepoints()
    boxed = as_boxes(timepoints)
    assert np.all(np.less(boxed["baseline"][1][0].mask.GetSize(), timepoints["baseline"][0].GetSize()))
    same_result(pipeline.compute_lesion_table(timepoints, params=LOG_PARAMS, workers=workers),
                pipeline.compute_lesion_table(boxed, params=LOG_PARAMS, workers=workers))


def test_pyradiomics_engine_same_result_for_any_workers(sample_case):
    pytest.importorskip("radiomics")
    params = {"imageType": {"Original": {}, "LoG": {"sigma": [2.0]}}, "featureClass": {"firstorder": ["Mean", "Entropy"]},
              "setting": {"binWidth": 25}}
    timepoints = load_timepoints(sample_case)
    sequential = pipeline.compute_lesion_table(timepoints, params=params, engine="pyradiomics", workers=1)
    same_result(sequential, pipeline.compute_lesion_table(timepoints, params=params, engine="pyradiomics", workers=2))


def test_many_lesions_with_failures_same_result_for_any_workers():
    timepoints = synthetic_timepoints()
    sequential = pipeline.compute_lesion_table(timepoints, params=LOG_PARAMS, workers=1)
    parallel = pipeline.compute_lesion_table(timepoints, params=LOG_PARAMS, workers=4)
    same_result(sequential, parallel)
    failed = [error["lesion_id"] for error in parallel.errors]
    assert failed == ["empty_one", "tiny_one", "far_away"]  # segment order, whatever finished first
    table = parallel.table.set_index("lesion_id")
    assert np.isfinite(table.loc["nudged", "baseline:log-sigma-2-0-mm-3D_firstorder_Mean"])
    assert np.isfinite(table.loc["lesion_5", "followup:original_glcm_Contrast"])  # clipped by the border


def test_worker_threads_never_get_the_callers_images(monkeypatch):
    timepoints = synthetic_timepoints()
    callers = {id(image) for image, _ in timepoints.values()}
    callers |= {id(segment.mask) for _, segments in timepoints.values() for segment in segments}
    seen = []
    real = pipeline._measure_segment

    def spy(image, segment, *args, **kwargs):
        # keep the objects (not only their ids): an id may be reused once an object is freed
        seen.append((threading.current_thread().name, image, segment.mask))
        return real(image, segment, *args, **kwargs)

    monkeypatch.setattr(pipeline, "_measure_segment", spy)
    pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, workers=2)
    in_workers = [(id(image), id(mask)) for thread, image, mask in seen if thread.startswith("lesion")]
    assert len(in_workers) >= 12  # the lesions that can be cut ran in the pool...
    assert not {i for pair in in_workers for i in pair} & callers  # ...each on its own copies
    assert len({i for pair in in_workers for i in pair}) == 2 * len(in_workers)


def lesions_running_at_once(monkeypatch, timepoints, budget, workers):
    """(result, [(crop voxels of the lesions running) at every start], [crop voxels in start order])."""
    lock, running, seen, order = threading.Lock(), {}, [], []
    real = pipeline._measure_segment

    def watch(image, segment, *args, **kwargs):
        key = object()
        with lock:
            running[key] = image.GetNumberOfPixels()
            seen.append(sorted(running.values()))
            order.append(running[key])
        time.sleep(0.05)                                   # long enough for a second lesion to start
        try:
            return real(image, segment, *args, **kwargs)
        finally:
            with lock:
                del running[key]

    monkeypatch.setattr(pipeline, "_measure_segment", watch)
    monkeypatch.setattr(pipeline, "CONCURRENT_CROP_VOXELS", budget)
    result = pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, workers=workers)
    return result, seen, order


def test_lesions_run_together_only_within_the_crop_voxel_budget(monkeypatch):
    """Memory stays bounded by the crops: lesions start largest first, and one starts beside the
    running ones only while their crops together fit CONCURRENT_CROP_VOXELS; the result is the
    serial one whatever the budget."""
    timepoints = synthetic_timepoints(with_broken=False)
    expected = pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, workers=1)
    _, _, order = lesions_running_at_once(monkeypatch, timepoints, 10**12, workers=1)
    assert order == sorted(order, reverse=True) and order[0] > order[-1]
    budget = order[0] + order[-1]                          # the largest fits only beside the smallest
    result, seen, _ = lesions_running_at_once(monkeypatch, timepoints, budget, workers=3)
    same_result(expected, result)
    assert max(map(sum, seen)) <= budget and max(map(len, seen)) >= 2  # some ran together
    result, seen, _ = lesions_running_at_once(monkeypatch, timepoints, 0, workers=3)
    same_result(expected, result)
    assert max(map(len, seen)) == 1                        # nothing fits beside another: one at a time


def test_parallel_path_survives_repeated_runs():
    """20 runs with 4 threads on 12 small lesions: a thread-safety bug would crash or differ.

    Before each run every scan and mask gets a shallow alias (as a caller holding a copy would):
    the images are then shared, so the first array view of each runs ``Image.MakeUnique``, which
    crashes when two threads do it on the same image.
    """
    timepoints = synthetic_timepoints(with_broken=False)
    expected = pipeline.compute_lesion_table(timepoints, params=LOOP_PARAMS, workers=1)
    for _ in range(20):
        aliases = [sitk.Image(image) for image, _ in timepoints.values()]
        aliases += [sitk.Image(segment.mask) for _, segments in timepoints.values() for segment in segments]
        assert not any(alias.IsUnique() for alias in aliases)
        same_result(expected, pipeline.compute_lesion_table(timepoints, params=LOOP_PARAMS, workers=4))


def test_a_case_read_ahead_gives_the_same_result_as_reading_it_here(sample_case):
    """extract starts reading (imageio.CaseReading) before the pipeline is imported, and
    run_case_files takes that reading: same table, errors, RECIST and input hashes."""
    paths = [sample_case[key] for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg")]
    here = pipeline.run_case_files(*paths, patient_id="P1", params=LIGHT_PARAMS)
    ahead = pipeline.run_case_files(*paths, patient_id="P1", params=LIGHT_PARAMS,
                                    reading=imageio.CaseReading(*paths, cropped=True))
    same_result(here, ahead)
    assert here.provenance["inputs"] == ahead.provenance["inputs"]
    with pytest.raises(ValueError, match="reading is of"):
        pipeline.run_case_files(*paths[2:], *paths[:2], params=LIGHT_PARAMS, reading=imageio.CaseReading(*paths))


def test_a_reading_error_is_raised_when_the_result_is_asked_for(sample_case, tmp_path):
    """A file that cannot be read: the InputError of reading it here, raised by timepoints()."""
    paths = [sample_case[key] for key in ("baseline_image", "baseline_seg", "followup_image", "followup_seg")]
    broken = tmp_path / "baseline.nrrd"
    broken.write_bytes(b"")
    reading = imageio.CaseReading(broken, *paths[1:])
    with pytest.raises(InputError, match="empty file"):
        reading.timepoints()


def test_blas_runs_one_thread_while_the_lesions_run_and_is_restored_after():
    """Idle BLAS threads busy-wait and take the lesion threads' cores: one BLAS thread during the
    pool, the caller's setting afterwards (read from the loaded OpenBLAS libraries themselves)."""
    threadpoolctl = pytest.importorskip("threadpoolctl")

    def blas_threads():
        return [info["num_threads"] for info in threadpoolctl.threadpool_info() if info["user_api"] == "blas"]

    seen: list[tuple[str, list[int]]] = []
    with threadpoolctl.threadpool_limits(limits=2, user_api="blas"):
        if not blas_threads() or max(blas_threads()) < 2:
            pytest.skip("numpy's BLAS here runs one thread whatever the limit (nothing to check)")
        pipeline.compute_lesion_table(synthetic_timepoints(), params=LIGHT_PARAMS, workers=2,
                                      progress=lambda fraction, message: seen.append((message, blas_threads())))
        after = blas_threads()
    during = [threads for message, threads in seen if ":" in message]  # "<time point>: <lesion>" as each finishes
    assert during and all(max(threads) == 1 for threads in during), seen
    assert max(after) == 2


# ----------------------------------------------------------------------------- progress, cancel, errors
def test_progress_is_monotone_and_names_every_lesion():
    timepoints = synthetic_timepoints()
    seen: list[tuple[float, str]] = []
    pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, workers=3, progress=lambda f, m: seen.append((f, m)))
    fractions = [fraction for fraction, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] == 0.0
    messages = {message for _, message in seen}
    for name, (_, segments) in timepoints.items():
        assert {f"{name}: {segment.name}" for segment in segments} <= messages


def test_cancel_stops_scheduling_and_raises():
    timepoints = synthetic_timepoints()
    n_jobs = sum(len(segments) for _, segments in timepoints.values())
    finished: list[float] = []

    def progress(fraction, message):
        if ":" in message and fraction > 0:
            finished.append(fraction)

    with pytest.raises(OperationCancelled):
        pipeline.compute_lesion_table(timepoints, params=LOG_PARAMS, workers=2, progress=progress,
                                      should_cancel=lambda: bool(finished))
    # cancelled after the first lesion: at most the lesions already cut (workers + 1) still finish
    assert 1 <= len(finished) <= 1 + 3 < n_jobs
    assert not [t for t in threading.enumerate() if t.name.startswith("lesion")]  # pool shut down


def test_non_lesion_error_is_the_first_in_segment_order():
    timepoints = synthetic_timepoints(with_broken=False)
    image, segments = timepoints["baseline"]
    for name, size in (("small_grid", (48, 48, 20)), ("other_grid", (32, 32, 10))):
        wrong = sitk.Image(size, sitk.sitkUInt8)
        wrong[5, 5, 5] = 1
        segments.insert(2 if name == "small_grid" else 5, imageio.Segment(name, wrong))
    messages = []
    for workers in (1, 2):
        with pytest.raises(InputError) as caught:
            pipeline.compute_lesion_table(timepoints, params=LIGHT_PARAMS, workers=workers)
        messages.append(str(caught.value))
    assert "small_grid" in messages[0] and messages[0] == messages[1]


@pytest.mark.parametrize("workers", [0, -1, 1.5, True])
def test_bad_worker_count_is_refused(workers):
    with pytest.raises(InputError, match="workers"):
        pipeline.compute_lesion_table(synthetic_timepoints(with_broken=False), params=LIGHT_PARAMS, workers=workers)


def test_whole_scan_settings_copy_the_scan_or_stay_sequential():
    assert FeatureExtractor(NORMALISED_PARAMS).reads_whole_scan and FeatureExtractor("ligero2021").reads_whole_scan
    assert not FeatureExtractor("dercle2020").reads_whole_scan
    assert pipeline._parallel_ok(FeatureExtractor(NORMALISED_PARAMS))  # built-in: private copies, in parallel
    pytest.importorskip("radiomics")
    # pyradiomics normalises / filters the whole scan per lesion (GBs): one lesion at a time
    assert not pipeline._parallel_ok(FeatureExtractor(NORMALISED_PARAMS, engine="pyradiomics"))
    assert pipeline._parallel_ok(FeatureExtractor("dercle2020", engine="pyradiomics"))


# ----------------------------------------------------------------------------- the crop
def test_crop_is_private_and_holds_the_extractor_margin():
    image, segments = synthetic_timepoint(1, 1.0)
    extractor = FeatureExtractor(LOG_PARAMS)
    lesion = pipeline._cut_lesion(image, segments[2], pipeline._lesion_region(image, segments[2], extractor))
    margin = extractor.input_margin(image.GetSpacing())
    assert margin.min() > 0  # LoG: at least 15 mm + 1 voxel + the safety voxels
    box_lo, box_hi = pipeline._nonzero_box(segments[2].mask)
    expected_size = np.minimum(box_hi + margin, np.array(image.GetSize()) - 1) - np.maximum(box_lo - margin, 0) + 1
    assert lesion.image.GetSize() == tuple(int(v) for v in expected_size)
    assert lesion.image.IsUnique() and lesion.segment.mask.IsUnique()
    assert lesion.image.GetSpacing() == image.GetSpacing() and lesion.image.GetDirection() == image.GetDirection()
    # the crop sits where it came from, and writing into it leaves the caller's scan alone
    assert np.allclose(lesion.image.GetOrigin(), image.TransformIndexToPhysicalPoint(lesion.offset), atol=1e-9)
    before = image[lesion.offset]
    lesion.image[0, 0, 0] = before + 1000
    assert image[lesion.offset] == before
    assert lesion.segment.mask is not segments[2].mask and lesion.segment.name == segments[2].name


def test_measures_of_a_crop_equal_the_whole_scan_to_the_last_bit():
    """Oblique, anisotropic grid with a far-off origin: crop measures need the offset and frame."""
    array = np.zeros((30, 50, 60), np.int16)
    inside = _blob(array.shape, (17, 31, 40), (5, 9, 13))
    array[inside] = np.arange(int(inside.sum())) % 97
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((0.73, 0.91, 3.3))
    image.SetOrigin((-231.7, 118.3, -1022.9))
    angle = np.deg2rad(17.0)
    image.SetDirection((np.cos(angle), -np.sin(angle), 0.0, np.sin(angle), np.cos(angle), 0.0, 0.0, 0.0, 1.0))
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    whole = measure.measure_lesion(image, mask, "oblique")
    lower, upper = np.array([24, 19, 10]), np.array([55, 43, 24])
    size, index = [int(v) for v in upper - lower + 1], [int(v) for v in lower]
    image_crop, mask_crop = sitk.RegionOfInterest(image, size, index), sitk.RegionOfInterest(mask, size, index)
    cropped = measure.measure_lesion(image_crop, mask_crop, "oblique", offset=lower, frame=pipeline._frame(image))
    assert cropped == whole
    naive = measure.measure_lesion(image_crop, mask_crop, "oblique")
    assert naive["diameter_slice_index"] != whole["diameter_slice_index"]  # the offset is needed


# ----------------------------------------------------------------------------- command line
def test_extract_jobs_option(sample_case, tmp_path, capsys):
    params = tmp_path / "light.yaml"
    params.write_text("imageType: {Original: {}}\nfeatureClass: {firstorder: [Mean]}\nsetting: {binWidth: 25}\n")
    common = ["extract", "--baseline", str(sample_case["baseline_image"]), "--baseline-seg", str(sample_case["baseline_seg"]),
              "--followup", str(sample_case["followup_image"]), "--followup-seg", str(sample_case["followup_seg"]),
              "--patient-id", "P01", "--params", str(params)]
    tables = []
    for jobs in ("1", "2"):
        out = tmp_path / f"lesions_{jobs}.csv"
        assert cli.main(common + ["--jobs", jobs, "--out", str(out)]) == 0
        tables.append(pd.read_csv(out))
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    with pytest.raises(SystemExit) as refused:
        cli.main(common + ["--jobs", "0", "--out", str(tmp_path / "x.csv")])
    assert refused.value.code == 2 and "at least 1" in capsys.readouterr().err
