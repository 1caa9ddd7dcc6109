"""DICOM SEG in and out (dicom_seg.py), on the synthetic demo case written as DICOM.

The demo case's lesions are drawn analytically (sample_data.py) and written both as .seg.nrrd and,
through highdicom, as a DICOM SEG referencing the CT written as a DICOM series: reading the SEG
back must give the same voxels, names, colours, locations and Tracking UIDs. A fractional SEG keeps
the voxels of fraction >= 0.5; a SEG's coded anatomic region becomes the lesion-table location.
"""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("highdicom")

from dicom_helpers import dciodvfy, dicom_sample_case  # noqa: E402
from ResponseSignatureLib.dicom_io import read_dataset, source_series, tracking_uid  # noqa: E402
from ResponseSignatureLib.dicom_seg import SegLesion, lab_to_rgb, rgb_to_lab, write_seg  # noqa: E402
from ResponseSignatureLib.errors import InputError  # noqa: E402
from ResponseSignatureLib.imageio import Segment, read_image, read_segments  # noqa: E402
from ResponseSignatureLib.sample_data import SAMPLE_LESIONS, _COLORS  # noqa: E402


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return dicom_sample_case(tmp_path_factory.mktemp("dicom_case"))


@pytest.mark.parametrize("timepoint", ["baseline", "followup"])
def test_seg_reads_back_the_drawn_lesions(case, timepoint):
    image = read_image(case[f"{timepoint}_dicom"])
    nrrd = read_image(case[f"{timepoint}_image"])
    assert np.array_equal(sitk.GetArrayViewFromImage(image), sitk.GetArrayViewFromImage(nrrd))
    drawn = {s.name: s for s in read_segments(case[f"{timepoint}_seg"], image)}
    read = read_segments(case[f"{timepoint}_dicom_seg"], image)
    locations = {lesion.name: lesion.location for lesion in SAMPLE_LESIONS}
    assert [s.name for s in read] == list(drawn)
    for segment in read:
        assert np.array_equal(sitk.GetArrayViewFromImage(segment.mask), sitk.GetArrayViewFromImage(drawn[segment.name].mask))
        assert segment.location == locations[segment.name]
        assert segment.tracking_uid == tracking_uid("sample", segment.name)
        assert np.allclose(segment.color, _COLORS[segment.name], atol=0.01)
    # the same SEG maps onto the NRRD of the same CT (geometry, not UIDs, places the frames)
    on_nrrd = read_segments(case[f"{timepoint}_dicom_seg"], nrrd)
    assert all(np.array_equal(sitk.GetArrayViewFromImage(a.mask), sitk.GetArrayViewFromImage(b.mask))
               for a, b in zip(read, on_nrrd))


def test_written_seg_is_valid_dicom(case):
    errors, warnings = dciodvfy(case["baseline_dicom_seg"])
    assert errors == [] and warnings == []
    seg = read_dataset(case["baseline_dicom_seg"])
    assert seg.Modality == "SEG" and seg.SegmentationType == "BINARY"
    ct = read_dataset(sorted(case["baseline_dicom"].iterdir())[0], stop_before_pixels=True)
    assert seg.StudyInstanceUID == ct.StudyInstanceUID and seg.FrameOfReferenceUID == ct.FrameOfReferenceUID
    assert seg.ReferencedSeriesSequence[0].SeriesInstanceUID == ct.SeriesInstanceUID


def test_fractional_seg_keeps_voxels_of_at_least_half(case, tmp_path):
    import highdicom as hd
    from pydicom.sr.codedict import codes

    image = read_image(case["baseline_dicom"])
    source = source_series(case["baseline_dicom"], image)
    fraction = np.zeros(sitk.GetArrayViewFromImage(image).shape, np.float32)
    fraction[30, 50:60, 50:60] = 0.8   # 100 voxels in
    fraction[30, 70:75, 70:80] = 0.4   # 50 voxels out
    fraction[31, 50:55, 50:55] = 0.5   # 25 voxels in (exactly one half)
    description = hd.seg.SegmentDescription(
        segment_number=1, segment_label="lung nodule", segmented_property_category=codes.SCT.Tissue,
        segmented_property_type=codes.SCT.Nodule, algorithm_type=hd.seg.SegmentAlgorithmTypeValues.MANUAL,
        anatomic_regions=[codes.SCT.Lung])
    frames = [30, 31]
    seg = hd.seg.Segmentation(
        source_images=[source[k] for k in frames], pixel_array=fraction[frames],
        segmentation_type=hd.seg.SegmentationTypeValues.FRACTIONAL, segment_descriptions=[description],
        series_instance_uid=hd.UID(), series_number=5, sop_instance_uid=hd.UID(), instance_number=1,
        manufacturer="test", manufacturer_model_name="test", software_versions="1", device_serial_number="1",
        max_fractional_value=200)
    path = tmp_path / "fractional.dcm"
    seg.save_as(str(path))
    (segment,) = read_segments(path, image)
    values = sitk.GetArrayFromImage(segment.mask)
    assert segment.name == "lung nodule" and segment.location == "lung"
    assert values.sum() == 125 and values[30, 50:60, 50:60].all() and values[31, 50:55, 50:55].all()


def test_seg_location_feeds_the_lesion_table(case, tmp_path):
    from ResponseSignatureLib.pipeline import run_case_files

    paths = {}
    for timepoint in ("baseline", "followup"):
        folder = case[f"{timepoint}_dicom"]
        image = read_image(folder)
        segments = [s for s in read_segments(case[f"{timepoint}_dicom_seg"], image) if s.name in ("liver_1", "node_1")]
        renamed = [SegLesion(Segment(f"finding {s.name[-1]}{s.name[0]}", s.mask), s.name, s.tracking_uid,
                             "lung" if s.name == "liver_1" else "node") for s in segments]
        paths[timepoint] = tmp_path / f"{timepoint}.dcm"
        write_seg(renamed, image, source_series(folder, image), paths[timepoint])
    params = {"imageType": {"Original": {}}, "featureClass": {"firstorder": ["Mean"]}, "setting": {}}
    result = run_case_files(case["baseline_dicom"], paths["baseline"], case["followup_dicom"], paths["followup"],
                            patient_id="sample", params=params)
    locations = dict(zip(result.table["lesion_id"], result.table["location"]))
    assert locations == {"finding 1l": "lung", "finding 1n": "node"}  # names alone would say 'other'


def test_a_ct_file_is_not_a_segmentation(case):
    image = read_image(case["baseline_dicom"])
    with pytest.raises(InputError, match="not a segmentation"):
        read_segments(sorted(case["baseline_dicom"].iterdir())[0], image)


def test_display_colours_round_trip():
    for rgb in [(1.0, 0.0, 0.0), (0.2, 0.6, 0.9), (0.5, 0.5, 0.5), (0.0, 0.0, 0.0)]:
        assert np.allclose(lab_to_rgb(rgb_to_lab(rgb)), rgb, atol=2e-3)
    assert rgb_to_lab((1.0, 1.0, 1.0))[0] == 65535  # white: L* = 100
