"""imageio: images and segmentations on disk <-> SimpleITK, checked against Slicer's own storage node."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import SimpleITK as sitk

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.imageio import Segment, read_image, read_segments, same_geometry, write_segments


def rotation(degrees: float, axis: int) -> np.ndarray:
    """A rotation matrix about one coordinate axis."""
    c, s = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    a, b = [k for k in range(3) if k != axis]
    matrix = np.eye(3)
    matrix[a, a], matrix[a, b], matrix[b, a], matrix[b, b] = c, -s, s, c
    return matrix


def make_reference(size=(24, 20, 12), spacing=(0.7, 0.9, 2.5), oblique=True) -> sitk.Image:
    """An int16 image with distinct voxel values, oblique (20 degrees) and flipped in x if asked."""
    values = np.arange(np.prod(size), dtype=np.int16).reshape(size[::-1])
    image = sitk.GetImageFromArray(values)
    image.SetSpacing(spacing)
    image.SetOrigin((12.5, -30.25, 7.0))
    if oblique:
        direction = rotation(20.0, 2) @ np.diag([-1.0, 1.0, 1.0])
        image.SetDirection(direction.ravel().tolist())
    return image


def mask_like(reference: sitk.Image, box) -> sitk.Image:
    """A UInt8 mask on the reference grid, 1 inside the (k, j, i) slices of box."""
    array = np.zeros(sitk.GetArrayViewFromImage(reference).shape, np.uint8)
    array[box] = 1
    mask = sitk.GetImageFromArray(array)
    mask.CopyInformation(reference)
    return mask


def arrays(segments):
    return [sitk.GetArrayFromImage(s.mask) for s in segments]


# ------------------------------------------------------------------------------------- read_image

@pytest.mark.parametrize("extension", [".nrrd", ".nii.gz", ".mha"])
def test_read_image_keeps_voxels_geometry_and_type(tmp_path, extension):
    image = make_reference()
    path = tmp_path / f"ct{extension}"
    sitk.WriteImage(image, str(path))
    loaded = read_image(path)
    assert loaded.GetPixelID() == sitk.sitkInt16
    assert same_geometry(loaded, image, 1e-5)
    assert np.array_equal(sitk.GetArrayFromImage(loaded), sitk.GetArrayFromImage(image))


def test_read_image_missing_and_unreadable_name_the_path(tmp_path):
    missing = tmp_path / "nope.nrrd"
    with pytest.raises(InputError, match="nope.nrrd"):
        read_image(missing)
    broken = tmp_path / "broken.nrrd"
    broken.write_text("this is not an image")
    with pytest.raises(InputError, match="broken.nrrd"):
        read_image(broken)
    with pytest.raises(InputError, match="no DICOM series"):
        read_image(tmp_path)


def write_dicom_series(folder, volume: np.ndarray, series_uid: str, spacing, origin_z: float) -> None:
    """Write a (k, j, i) int16 array as one axial CT series, one file per slice."""
    writer = sitk.ImageFileWriter()
    writer.KeepOriginalImageUIDOn()
    for k in range(volume.shape[0]):
        slice_image = sitk.GetImageFromArray(volume[k:k + 1])
        slice_image.SetSpacing(spacing)
        z = origin_z + k * spacing[2]
        tags = {
            "0008|0060": "CT", "0020|000d": "1.2.826.0.1.3680043.2.1125.1",
            "0020|000e": series_uid, "0020|0013": str(k + 1),
            "0020|0032": f"0\\0\\{z}", "0020|0037": "1\\0\\0\\0\\1\\0",
            "0008|0018": f"{series_uid}.{k + 1}", "0028|0030": f"{spacing[1]}\\{spacing[0]}",
            "0018|0050": str(spacing[2]),
        }
        for tag, value in tags.items():
            slice_image.SetMetaData(tag, value)
        writer.SetFileName(str(folder / f"{series_uid[-1]}_{k:03d}.dcm"))
        writer.Execute(slice_image)


def test_read_image_dicom_folder_takes_largest_series(tmp_path, caplog):
    rng = np.random.default_rng(1)
    big = rng.integers(-1000, 1000, size=(6, 16, 18)).astype(np.int16)
    small = rng.integers(-1000, 1000, size=(3, 16, 18)).astype(np.int16)
    write_dicom_series(tmp_path, big, "1.2.826.0.1.3680043.2.1125.2", (0.6, 0.6, 2.0), -10.0)
    write_dicom_series(tmp_path, small, "1.2.826.0.1.3680043.2.1125.3", (0.6, 0.6, 2.0), 50.0)
    with caplog.at_level(logging.WARNING):
        image = read_image(tmp_path)
    assert image.GetSize() == (18, 16, 6)
    assert np.array_equal(sitk.GetArrayFromImage(image), big)
    assert image.GetSpacing() == pytest.approx((0.6, 0.6, 2.0))
    assert image.GetOrigin()[2] == pytest.approx(-10.0)
    assert "2 DICOM series" in caplog.text


# ---------------------------------------------------------------------------------- read_segments

def ijk_to_ras(reference: sitk.Image) -> np.ndarray:
    """Slicer's IJK-to-RAS matrix of a SimpleITK (LPS) grid, written out independently of the library."""
    flip = np.diag([-1.0, -1.0, 1.0])
    matrix = np.eye(4)
    matrix[:3, :3] = flip @ np.array(reference.GetDirection()).reshape(3, 3) @ np.diag(reference.GetSpacing())
    matrix[:3, 3] = flip @ np.array(reference.GetOrigin())
    return matrix


def slicer_written_segmentation(path, reference: sitk.Image, masks: dict) -> None:
    """Write masks {name: (k, j, i) uint8} with Slicer's own segmentation storage node (slicer-core)."""
    slicer = pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")
    import vtk
    from slicer import util
    from vtk.util import numpy_support

    scene = slicer.vtkMRMLScene()
    matrix = ijk_to_ras(reference)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    for index, (name, mask) in enumerate(masks.items()):
        oriented = slicer.vtkOrientedImageData()
        oriented.SetDimensions(mask.shape[2], mask.shape[1], mask.shape[0])
        oriented.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        numpy_support.vtk_to_numpy(oriented.GetPointData().GetScalars())[:] = mask.ravel()
        oriented.SetImageToWorldMatrix(util.vtkMatrixFromArray(matrix))
        node.AddSegmentFromBinaryLabelmapRepresentation(oriented, name, [0.1 * index, 0.5, 0.25], f"id{index}")
    storage = node.CreateDefaultStorageNode()
    scene.AddNode(storage)
    storage.SetFileName(str(path))
    assert storage.WriteData(node) == 1


def test_read_segments_of_a_file_written_by_slicer_with_overlapping_layers(tmp_path):
    reference = make_reference()
    shape = sitk.GetArrayViewFromImage(reference).shape
    masks = {name: np.zeros(shape, np.uint8) for name in ("liver_1", "liver_2", "node_1")}
    masks["liver_1"][2:6, 3:9, 4:10] = 1
    masks["liver_2"][4:8, 6:12, 8:14] = 1          # overlaps liver_1: a second layer
    masks["node_1"][9:11, 14:18, 18:22] = 1        # disjoint: shares a layer
    path = tmp_path / "slicer.seg.nrrd"
    slicer_written_segmentation(path, reference, masks)
    written = sitk.ReadImage(str(path))
    assert written.GetNumberOfComponentsPerPixel() == 2      # Slicer made 2 layers
    assert written.GetSize() != reference.GetSize()           # and cropped the file to the segments

    segments = read_segments(path, reference)
    assert [s.name for s in segments] == list(masks)
    for segment, expected in zip(segments, masks.values()):
        assert same_geometry(segment.mask, reference, 1e-9)
        assert segment.mask.GetPixelID() == sitk.sitkUInt8
        assert np.array_equal(sitk.GetArrayFromImage(segment.mask), expected)
        assert segment.note is None
    assert segments[1].color == pytest.approx((0.1, 0.5, 0.25))


def nearest_neighbour_expected(source: sitk.Image, reference: sitk.Image) -> np.ndarray:
    """Independent nearest-neighbour resampling: map each reference voxel centre into the source grid."""
    values = sitk.GetArrayFromImage(source)
    out = np.zeros(sitk.GetArrayViewFromImage(reference).shape, np.uint8)
    src_matrix = np.array(source.GetDirection()).reshape(3, 3) @ np.diag(source.GetSpacing())
    inverse = np.linalg.inv(src_matrix)
    for k, j, i in np.ndindex(*out.shape):
        point = np.array(reference.TransformIndexToPhysicalPoint((i, j, k)))
        index = np.floor(inverse @ (point - np.array(source.GetOrigin())) + 0.5).astype(int) + np.array([0,0,0])
        if np.all(index >= 0) and np.all(index < np.array(source.GetSize())):
            out[k, j, i] = values[index[2], index[1], index[0]] != 0
    return out


def test_label_map_on_other_grid_is_resampled_nearest_neighbour(tmp_path):
    reference = make_reference(size=(20, 18, 10), oblique=False)
    coarse = sitk.Image((9, 8, 4), sitk.sitkUInt8)
    coarse.SetSpacing((1.4, 1.8, 5.0))
    coarse.SetOrigin((12.5 + 0.93, -30.25 + 1.21, 7.0 + 1.3))     # shifted by a fraction of a voxel
    labels = np.zeros((4, 8, 9), np.uint8)
    labels[1:3, 2:6, 2:7] = 3
    labels[0, 0:2, 0:2] = 5
    labels_image = sitk.GetImageFromArray(labels)
    labels_image.CopyInformation(coarse)
    path = tmp_path / "labels.nii.gz"
    sitk.WriteImage(labels_image, str(path))

    segments = read_segments(path, reference)
    assert [(s.name, s.label_value) for s in segments] == [("lesion_3", 3), ("lesion_5", 5)]
    for segment, value in zip(segments, (3, 5)):
        single = sitk.GetImageFromArray((labels == value).astype(np.uint8))
        single.CopyInformation(coarse)
        expected = nearest_neighbour_expected(single, reference)
        assert expected.sum() > 0
        assert same_geometry(segment.mask, reference, 1e-9)
        assert np.array_equal(sitk.GetArrayFromImage(segment.mask), expected)


def test_geometry_within_tolerance_is_taken_as_is(tmp_path):
    reference = make_reference()
    mask = mask_like(reference, np.s_[1:3, 2:5, 3:7])
    mask.SetOrigin(tuple(o + 5e-5 for o in reference.GetOrigin()))
    path = tmp_path / "labels.nrrd"
    sitk.WriteImage(mask, str(path))
    (segment,) = read_segments(path, reference)
    assert segment.mask.GetOrigin() == reference.GetOrigin()
    assert int(sitk.GetArrayViewFromImage(segment.mask).sum()) == 2 * 3 * 4


def test_empty_and_outside_segments_get_notes_and_all_outside_raises(tmp_path):
    reference = make_reference(oblique=False)
    inside = mask_like(reference, np.s_[2:4, 2:4, 2:4])
    outside = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    outside.SetSpacing(reference.GetSpacing())
    outside.SetOrigin(tuple(o + 500.0 for o in reference.GetOrigin()))
    outside[3, 3, 3] = 1
    empty = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(reference)
    mixed = tmp_path / "mixed.seg.nrrd"
    write_segments([Segment("inside", inside), Segment("blank", empty)], reference, mixed)
    segments = read_segments(mixed, reference)
    assert [s.note for s in segments] == [None, "empty segment"]

    far = tmp_path / "far.seg.nrrd"
    far_reference = sitk.Image(reference.GetSize(), sitk.sitkInt16)
    far_reference.CopyInformation(outside)
    write_segments([Segment("far", outside)], far_reference, far)
    with pytest.raises(InputError, match="far.seg.nrrd"):
        read_segments(far, reference)

    partly = tmp_path / "partly.nrrd"      # label map: label 1 inside the image, label 2 beyond it
    big = sitk.Image([n + 40 for n in reference.GetSize()], sitk.sitkUInt8)
    big.SetSpacing(reference.GetSpacing())
    big.SetOrigin(reference.GetOrigin())
    big[2, 2, 2] = 1
    big[50, 50, 40] = 2
    sitk.WriteImage(big, str(partly))
    first, second = read_segments(partly, reference)
    assert first.note is None and int(sitk.GetArrayViewFromImage(first.mask).sum()) == 1
    assert second.name == "lesion_2" and second.note == "lies outside the image"
    assert int(sitk.GetArrayViewFromImage(second.mask).sum()) == 0


def test_read_segments_errors_name_the_file(tmp_path):
    reference = make_reference()
    with pytest.raises(InputError, match="missing.seg.nrrd"):
        read_segments(tmp_path / "missing.seg.nrrd", reference)
    blank = sitk.Image(reference.GetSize(), sitk.sitkUInt8)
    blank.CopyInformation(reference)
    sitk.WriteImage(blank, str(tmp_path / "blank.nrrd"))
    with pytest.raises(InputError, match="blank.nrrd.*no segment"):
        read_segments(tmp_path / "blank.nrrd", reference)


# ---------------------------------------------------------------------------------- write_segments

def slicer_read(path, reference: sitk.Image) -> tuple:
    """Read a .seg.nrrd with Slicer's storage node: ({name: (k, j, i) mask on the reference grid},
    the file's reference geometry parameter, Slicer's own serialisation of the reference geometry)."""
    slicer = pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")
    import vtk
    from slicer import util

    scene = slicer.vtkMRMLScene()
    volume = scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "ref")
    volume.SetIJKToRASMatrix(util.vtkMatrixFromArray(ijk_to_ras(reference)))
    util.updateVolumeFromArray(volume, sitk.GetArrayFromImage(reference))
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "Seg")
    storage = slicer.vtkMRMLSegmentationStorageNode()
    scene.AddNode(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    storage.SetFileName(str(path))
    assert storage.ReadData(node) == 1
    segmentation = node.GetSegmentation()
    result = {}
    for index in range(segmentation.GetNumberOfSegments()):
        segment_id = segmentation.GetNthSegmentID(index)
        labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "tmp")
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            node, ids, labelmap, volume, slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY)
        result[segmentation.GetSegment(segment_id).GetName()] = (util.arrayFromVolume(labelmap) != 0).astype(np.uint8)
    geometry = segmentation.GetConversionParameter("Reference image geometry")
    return result, geometry, slicer.vtkSegmentationConverter.SerializeImageGeometry(
        slicer.vtkSlicerSegmentationsModuleLogic.CreateOrientedImageDataFromVolumeNode(volume))


@pytest.mark.parametrize("overlap", [False, True])
def test_written_seg_nrrd_is_read_by_slicer_storage_node(tmp_path, overlap):
    reference = make_reference()
    segments = [
        Segment("liver_1", mask_like(reference, np.s_[1:5, 2:8, 3:9]), color=(1.0, 0.0, 0.0)),
        Segment("liver_2", mask_like(reference, np.s_[4:7, 6:12, 8:14] if overlap else np.s_[7:9, 12:15, 14:18])),
        Segment("node_1", mask_like(reference, np.s_[9:11, 14:18, 18:22])),
    ]
    path = tmp_path / "ours.seg.nrrd"
    write_segments(segments, reference, path)
    written = sitk.ReadImage(str(path))
    assert written.GetNumberOfComponentsPerPixel() == (2 if overlap else 1)

    masks, geometry, expected_geometry = slicer_read(path, reference)
    assert list(masks) == ["liver_1", "liver_2", "node_1"]
    for segment in segments:
        assert np.array_equal(masks[segment.name], sitk.GetArrayFromImage(segment.mask)), segment.name
    ours = [float(v) for v in geometry.split(";") if v]
    slicers = [float(v) for v in expected_geometry.split(";") if v]
    assert ours == pytest.approx(slicers, abs=1e-9)

    again = read_segments(path, reference)
    assert [s.name for s in again] == ["liver_1", "liver_2", "node_1"]
    assert again[0].color == pytest.approx((1.0, 0.0, 0.0))
    for segment, back in zip(segments, again):
        assert np.array_equal(sitk.GetArrayFromImage(back.mask), sitk.GetArrayFromImage(segment.mask))


def test_write_is_deterministic_and_rejects_masks_on_another_grid(tmp_path):
    reference = make_reference()
    segments = [Segment("a", mask_like(reference, np.s_[1:3, 1:3, 1:3]))]
    write_segments(segments, reference, tmp_path / "one.seg.nrrd")
    write_segments(segments, reference, tmp_path / "two.seg.nrrd")
    assert (tmp_path / "one.seg.nrrd").read_bytes() == (tmp_path / "two.seg.nrrd").read_bytes()
    other = make_reference(size=(10, 10, 10))
    with pytest.raises(InputError, match="segment 'a'"):
        write_segments(segments, other, tmp_path / "bad.seg.nrrd")


def test_write_label_map_uses_index_plus_one(tmp_path):
    reference = make_reference()
    segments = [Segment("x", mask_like(reference, np.s_[1:3, 1:3, 1:3])),
                Segment("y", mask_like(reference, np.s_[5:6, 5:9, 5:9]))]
    path = tmp_path / "labels.nii.gz"
    write_segments(segments, reference, path)
    labels = sitk.ReadImage(str(path))
    assert same_geometry(labels, reference, 1e-5)
    values = sitk.GetArrayFromImage(labels)
    assert sorted(np.unique(values).tolist()) == [0, 1, 2]
    assert int((values == 1).sum()) == 8 and int((values == 2).sum()) == 16
    names = [s.name for s in read_segments(path, reference)]
    assert names == ["lesion_1", "lesion_2"]


def test_real_ct_and_label_map_from_pyradiomics(shared_data):
    image_path = shared_data / "pyradiomics" / "lung1_image.nrrd"
    label_path = shared_data / "pyradiomics" / "lung1_label.nrrd"
    if not image_path.is_file():
        pytest.skip(f"{image_path} not found")
    image = read_image(image_path)
    raw = sitk.GetArrayFromImage(sitk.ReadImage(str(label_path)))
    segments = read_segments(label_path, image)
    assert [s.name for s in segments] == [f"lesion_{v}" for v in np.unique(raw) if v != 0]
    assert int(sitk.GetArrayViewFromImage(segments[0].mask).sum()) == int((raw == 1).sum()) > 0
    assert same_geometry(segments[0].mask, image, 1e-9)


def test_older_4d_segmentation_file_one_segment_per_slab(tmp_path):
    """Older Slicer files: a 4D image, segment i in slab i, no Layer or LabelValue keys."""
    reference = make_reference(oblique=False)
    first = mask_like(reference, np.s_[1:3, 2:5, 3:7])
    second = mask_like(reference, np.s_[2:4, 3:6, 4:8])          # overlaps the first
    stacked = sitk.JoinSeries([first, second])
    for index, name in enumerate(("old_a", "old_b")):
        stacked.SetMetaData(f"Segment{index}_ID", name)
        stacked.SetMetaData(f"Segment{index}_Name", name)
    path = tmp_path / "old.seg.nrrd"
    sitk.WriteImage(stacked, str(path))
    assert sitk.ReadImage(str(path)).GetDimension() == 4
    segments = read_segments(path, reference)
    assert [s.name for s in segments] == ["old_a", "old_b"]
    assert np.array_equal(arrays(segments)[0], sitk.GetArrayFromImage(first))
    assert np.array_equal(arrays(segments)[1], sitk.GetArrayFromImage(second))


# ------------------------------------------------------------- bad files, lesions partly outside

@pytest.mark.parametrize("reader", ["image", "segmentation"])
def test_empty_non_image_and_truncated_files_each_get_their_own_message(tmp_path, reader):
    reference = make_reference(oblique=False)
    good = tmp_path / "good.nrrd"
    sitk.WriteImage(reference, str(good))
    files = {"empty": b"", "text": b"<html>404 Not Found</html>\n", "truncated": good.read_bytes()[:-100]}
    expected = {"empty": r"is an empty file \(0 bytes\)",
                "text": r"is not an image: no reader .* recognises it \(it begins with text: '<html>404 Not Found</html>'\)",
                "truncated": r"is truncated or damaged: its header describes 5760 voxels but they cannot all be read"}
    read = read_image if reader == "image" else (lambda path: read_segments(path, reference))
    what = "Image" if reader == "image" else "Segmentation"
    for name, data in files.items():
        path = tmp_path / f"{name}.nrrd"
        path.write_bytes(data)
        with pytest.raises(InputError, match=rf"^{what} '{path}' {expected[name]}"):
            read(path)
    if reader == "segmentation":
        with pytest.raises(InputError, match="is a folder"):
            read(tmp_path)


def shifted_labels(reference: sitk.Image, shift_i: int, box) -> sitk.Image:
    """A label map on the reference's grid moved by ``shift_i`` whole voxels along i (a crop's offset)."""
    labels = mask_like(reference, box)
    labels.SetOrigin(reference.TransformIndexToPhysicalPoint((shift_i, 0, 0)))
    return labels


def test_segment_partly_outside_is_noted_with_the_fraction(tmp_path):
    """Whole-voxel shift on an oblique grid: mask columns i = 2..9 land on i = -3..4, so 3 of 8 columns
    (24 of 64 voxels) lie outside; the note says so and the pipeline reports it as the lesion's error."""
    reference = make_reference()
    path = tmp_path / "shifted.nrrd"
    sitk.WriteImage(shifted_labels(reference, -5, np.s_[1:3, 2:6, 2:10]), str(path))
    (segment,) = read_segments(path, reference)
    assert segment.note == ("37.5 % of the segment (24 of 64 voxels) lies outside the image; "
                            "check that this segmentation belongs to this image")
    assert segment.resampled is None                                   # a whole-voxel shift is not a resampling
    assert int(sitk.GetArrayViewFromImage(segment.mask).sum()) == 40  # the part inside is kept (for display)


def test_segment_partly_beyond_the_last_slice_on_a_finer_grid(tmp_path):
    """A mask on a grid twice as fine whose 8 slices of the segment straddle the image's last slice
    edge: fine slices 2n-4 .. 2n-1 have centres inside, 2n .. 2n+3 beyond it (n = image slices)."""
    reference = make_reference(oblique=False)
    n = reference.GetSize()[2]
    fine_size = (2 * reference.GetSize()[0], 2 * reference.GetSize()[1], 2 * n + 4)
    fine = sitk.Image(fine_size, sitk.sitkUInt8)
    fine.SetSpacing(tuple(s / 2 for s in reference.GetSpacing()))
    fine.SetOrigin(reference.TransformContinuousIndexToPhysicalPoint((-0.25, -0.25, -0.25)))
    values = np.zeros(fine_size[::-1], np.uint8)
    values[2 * n - 4:2 * n + 4, 10:14, 10:15] = 1
    labels = sitk.GetImageFromArray(values)
    labels.CopyInformation(fine)
    path = tmp_path / "fine.nrrd"
    sitk.WriteImage(labels, str(path))
    (segment,) = read_segments(path, reference)
    assert segment.note.startswith("50 % of the segment (80 of 160 voxels) lies outside the image")
    assert segment.resampled == ("resampled from 48 x 40 x 28 voxels of 0.35 x 0.45 x 1.25 mm to "
                                 "24 x 20 x 12 voxels of 0.7 x 0.9 x 2.5 mm (nearest neighbour)")


def test_only_a_real_resampling_is_reported(tmp_path, caplog):
    reference = make_reference()
    same = tmp_path / "same.nrrd"
    sitk.WriteImage(mask_like(reference, np.s_[1:3, 2:5, 3:7]), str(same))
    cropped = tmp_path / "cropped.nrrd"       # Slicer-style: the segment's extent only, same voxels
    sitk.WriteImage(sitk.RegionOfInterest(sitk.ReadImage(str(same)), [6, 5, 3], [2, 1, 0]), str(cropped))
    moved = tmp_path / "moved.nrrd"           # the same grid moved by half a voxel: resampled
    half = mask_like(reference, np.s_[1:3, 2:5, 3:7])
    half.SetOrigin(reference.TransformContinuousIndexToPhysicalPoint((0.5, 0.0, 0.0)))
    sitk.WriteImage(half, str(moved))
    with caplog.at_level(logging.WARNING):
        assert [s.resampled for s in read_segments(same, reference) + read_segments(cropped, reference)] == [None, None]
        assert not caplog.records
        (segment,) = read_segments(moved, reference)
    assert segment.resampled.startswith("resampled from 24 x 20 x 12 voxels of 0.7 x 0.9 x 2.5 mm at origin (")
    assert "is on another grid than its image: resampled from" in caplog.text


# ---------------------------------------------------------------------------- cropped=True

def cropping_cases(folder) -> dict:
    """Segmentation files of every kind read_segments takes (name -> (path, reference))."""
    reference = make_reference()
    fine_reference = make_reference(size=(40, 36, 20), oblique=False)
    files = {}
    layers = folder / "layers.seg.nrrd"          # two layers (overlap), a one-voxel and an empty segment
    empty = sitk.Image(fine_reference.GetSize(), sitk.sitkUInt8)
    empty.CopyInformation(fine_reference)
    write_segments([Segment("a", mask_like(fine_reference, np.s_[2:8, 3:20, 4:15])),
                    Segment("b", mask_like(fine_reference, np.s_[5:12, 10:30, 10:30])),
                    Segment("corner", mask_like(fine_reference, np.s_[0:1, 0:1, 0:1])), Segment("blank", empty)],
                   fine_reference, layers)
    files["slicer layers"] = (layers, fine_reference)
    labels = np.zeros((20, 36, 40), np.int16)     # label map: labels 2 and 300, one touching 3 faces
    labels[2:5, 3:9, 4:7] = 300
    labels[10:20, 20:35, 0:40] = 2
    label_map = sitk.GetImageFromArray(labels)
    label_map.CopyInformation(fine_reference)
    sitk.WriteImage(label_map, str(folder / "labels16.nrrd"))
    files["int16 label map"] = (folder / "labels16.nrrd", fine_reference)
    shifted = folder / "shifted.nrrd"             # partly outside (whole-voxel shift, oblique grid)
    sitk.WriteImage(shifted_labels(reference, -5, np.s_[1:3, 2:6, 2:10]), str(shifted))
    files["partly outside"] = (shifted, reference)
    coarse = sitk.GetImageFromArray(labels[::2, ::2, ::2].copy())  # resampled: a grid twice as coarse
    coarse.SetSpacing([2 * s for s in fine_reference.GetSpacing()])
    coarse.SetOrigin(fine_reference.GetOrigin())
    sitk.WriteImage(coarse, str(folder / "coarse.nrrd"))
    files["coarser grid"] = (folder / "coarse.nrrd", fine_reference)
    return files


@pytest.mark.parametrize("case", ["slicer layers", "int16 label map", "partly outside", "coarser grid"])
def test_cropped_masks_are_the_lesion_boxes_of_the_whole_grid_masks(tmp_path, case):
    path, reference = cropping_cases(tmp_path)[case]
    whole = read_segments(path, reference)
    boxes = read_segments(path, reference, cropped=True)
    assert [(s.name, s.label_value, s.note, s.resampled) for s in boxes] == \
        [(s.name, s.label_value, s.note, s.resampled) for s in whole]
    for box, full in zip(boxes, whole):
        values = sitk.GetArrayFromImage(full.mask)
        if not values.any():
            assert box.mask.GetSize() == (1, 1, 1) and not sitk.GetArrayViewFromImage(box.mask).any()
            continue
        k, j, i = np.nonzero(values)                  # the box is exactly the lesion's bounding box...
        lower = (int(i.min()), int(j.min()), int(k.min()))
        assert box.mask.GetSize() == (i.max() - i.min() + 1, j.max() - j.min() + 1, k.max() - k.min() + 1)
        # ...on the reference grid, bit for bit (the pipeline relies on it to cut the scan there)
        assert box.mask.GetSpacing() == reference.GetSpacing() and box.mask.GetDirection() == reference.GetDirection()
        assert box.mask.GetOrigin() == reference.TransformIndexToPhysicalPoint(lower)
        assert box.mask.GetPixelID() == sitk.sitkUInt8
        assert np.array_equal(sitk.GetArrayFromImage(box.mask),
                              values[k.min():k.max() + 1, j.min():j.max() + 1, i.min():i.max() + 1])
