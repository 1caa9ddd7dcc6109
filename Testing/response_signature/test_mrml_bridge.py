"""mrml_bridge: real MRML nodes from slicer-core <-> SimpleITK images, Segments and DataFrames."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from ResponseSignatureLib import mrml_bridge as mb
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.imageio import Segment, same_geometry

slicer = pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")


@pytest.fixture(scope="module")
def scene():
    return mb.make_scene()


def oblique_image() -> sitk.Image:
    """int16, anisotropic, rotated 20 degrees about an oblique axis and flipped in j: distinct voxels."""
    size = (23, 17, 9)
    values = (np.arange(np.prod(size)) - 900).astype(np.int16).reshape(size[::-1])
    image = sitk.GetImageFromArray(values)
    image.SetSpacing((0.65, 0.8, 3.0))
    rotation = sitk.VersorTransform((1.0, 1.0, 0.3), math.radians(20.0)).GetMatrix()
    direction = np.array(rotation).reshape(3, 3) @ np.diag([1.0, -1.0, 1.0])
    image.SetDirection(direction.ravel().tolist())
    image.SetOrigin((-41.5, 17.25, -103.0))
    return image


def rotated_image() -> sitk.Image:
    """oblique_image() without the flip: Slicer's file readers reorder the voxels of left-handed grids."""
    image = oblique_image()
    image.SetDirection(sitk.VersorTransform((1.0, 1.0, 0.3), math.radians(20.0)).GetMatrix())
    return image


def ijk_to_ras(node) -> np.ndarray:
    import vtk
    from slicer import util

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    return util.arrayFromVTKMatrix(matrix)


# ---------------------------------------------------------------------------------------- volumes

def test_volume_round_trip_keeps_voxels_and_physical_points(scene):
    image = oblique_image()
    assert np.linalg.det(np.array(image.GetDirection()).reshape(3, 3)) < 0    # really flipped
    node = mb.volume_node_from_sitk(scene, image, "CT")
    assert node.IsA("vtkMRMLScalarVolumeNode") and not node.IsA("vtkMRMLLabelMapVolumeNode")
    matrix = ijk_to_ras(node)
    for index in [(0, 0, 0), (22, 16, 8), (5, 11, 3), (22, 0, 4)]:
        lps = np.array(image.TransformIndexToPhysicalPoint(index))
        ras = matrix @ np.array([*index, 1.0])
        assert ras[:3] == pytest.approx(lps * np.array([-1, -1, 1]), abs=1e-9)
    from slicer import util
    assert np.array_equal(util.arrayFromVolume(node), sitk.GetArrayFromImage(image))

    back = mb.sitk_from_volume_node(node)
    assert back.GetPixelID() == sitk.sitkInt16
    assert same_geometry(back, image, 1e-12)
    assert np.array_equal(sitk.GetArrayFromImage(back), sitk.GetArrayFromImage(image))


def test_volume_geometry_matches_slicer_own_file_reader(scene, tmp_path):
    """Slicer's archetype reader of the same image written by SimpleITK gives the same IJK-to-RAS."""
    import vtk

    image = rotated_image()
    path = tmp_path / "ct.nrrd"
    sitk.WriteImage(image, str(path))
    logic = slicer.vtkSlicerVolumesLogic()
    logic.SetMRMLScene(scene)
    loaded = logic.AddArchetypeVolume(str(path), "loaded", 0, vtk.vtkStringArray())
    ours = mb.volume_node_from_sitk(scene, image, "ours")
    assert ijk_to_ras(ours) == pytest.approx(ijk_to_ras(loaded), abs=1e-9)
    assert same_geometry(mb.sitk_from_volume_node(loaded), image, 1e-9)


def test_flipped_volume_lies_where_slicer_reader_puts_it(scene, tmp_path):
    """Left-handed grid: Slicer's reader reorders the voxels, but every value lies at the same RAS point."""
    import vtk
    from slicer import util

    image = oblique_image()
    path = tmp_path / "flipped.nrrd"
    sitk.WriteImage(image, str(path))
    logic = slicer.vtkSlicerVolumesLogic()
    logic.SetMRMLScene(scene)
    loaded = logic.AddArchetypeVolume(str(path), "loaded", 0, vtk.vtkStringArray())
    ours = mb.volume_node_from_sitk(scene, image, "ours")
    for value in (-900, 0, 777, 2000):                 # every voxel value is distinct
        points = []
        for node in (loaded, ours):
            k, j, i = np.argwhere(util.arrayFromVolume(node) == value)[0]
            points.append((ijk_to_ras(node) @ np.array([i, j, k, 1.0]))[:3])
        assert points[0] == pytest.approx(points[1], abs=1e-9)


def test_labelmap_node_and_reuse_of_a_node(scene):
    image = sitk.Cast(oblique_image() > 0, sitk.sitkUInt8)
    node = mb.volume_node_from_sitk(scene, image, "mask", labelmap=True)
    assert node.IsA("vtkMRMLLabelMapVolumeNode")
    smaller = sitk.Image((4, 5, 6), sitk.sitkUInt8)
    smaller.SetSpacing((1.0, 2.0, 3.0))
    same = mb.volume_node_from_sitk(scene, smaller, "ignored", node=node)
    assert same is node and node.GetImageData().GetDimensions() == (4, 5, 6)
    assert node.GetSpacing() == pytest.approx((1.0, 2.0, 3.0))


# ----------------------------------------------------------------------------------- segmentations

def masks_on(image: sitk.Image) -> list[Segment]:
    shape = sitk.GetArrayViewFromImage(image).shape
    boxes = {"liver_1": np.s_[1:5, 2:9, 3:12], "liver_2": np.s_[3:7, 6:12, 8:16], "node_1": np.s_[7:9, 13:16, 18:22]}
    segments = []
    for name, box in boxes.items():
        array = np.zeros(shape, np.uint8)
        array[box] = 1
        mask = sitk.GetImageFromArray(array)
        mask.CopyInformation(image)
        segments.append(Segment(name, mask, color=(0.2, 0.4, 0.6) if name == "node_1" else None))
    return segments


def test_segments_through_a_segmentation_node_and_back(scene):
    image = oblique_image()
    volume = mb.volume_node_from_sitk(scene, image, "CT")
    segments = masks_on(image)                       # liver_1 and liver_2 overlap
    node = mb.segmentation_node_from_segments(scene, segments, volume, name="Lesions")
    assert node.GetName() == "Lesions" and node.GetSegmentation().GetNumberOfSegments() == 3
    temporary = ("vtkMRMLLabelMapVolumeNode", "vtkMRMLColorTableNode", "vtkMRMLVolumeDisplayNode")
    before = [scene.GetNumberOfNodesByClass(name) for name in temporary]
    back = mb.segments_from_segmentation_node(node, volume)
    assert [scene.GetNumberOfNodesByClass(name) for name in temporary] == before   # export nodes removed
    assert [s.name for s in back] == ["liver_1", "liver_2", "node_1"]
    for original, result in zip(segments, back):
        assert same_geometry(result.mask, image, 1e-12)
        assert result.mask.GetPixelID() == sitk.sitkUInt8
        assert np.array_equal(sitk.GetArrayFromImage(result.mask), sitk.GetArrayFromImage(original.mask))
        assert result.note is None
    assert back[2].color == pytest.approx((0.2, 0.4, 0.6))

    (only,) = mb.segments_from_segmentation_node(node, volume, segment_ids=["liver_2"])
    assert only.name == "liver_2"
    with pytest.raises(InputError, match="no segment with ID 'nope'"):
        mb.segments_from_segmentation_node(node, volume, segment_ids=["nope"])


def test_segment_on_another_geometry_is_resampled_onto_the_reference(scene):
    """A segment drawn on a coarser, shifted grid comes back on the reference grid (nearest voxel centre)."""
    from slicer import util
    import vtk
    from vtk.util import numpy_support

    reference = sitk.Image((30, 26, 12), sitk.sitkInt16)
    reference.SetSpacing((0.8, 0.8, 2.0))
    reference.SetOrigin((10.0, -20.0, 5.0))
    volume = mb.volume_node_from_sitk(scene, reference, "reference")
    coarse_spacing, coarse_origin = np.array([1.6, 1.6, 4.0]), np.array([10.0 + 0.53, -20.0 + 0.37, 5.0 + 1.1])
    coarse = np.zeros((4, 10, 12), np.uint8)      # (k, j, i)
    coarse[1:3, 3:7, 2:8] = 1
    oriented = slicer.vtkOrientedImageData()
    oriented.SetDimensions(12, 10, 4)
    oriented.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    numpy_support.vtk_to_numpy(oriented.GetPointData().GetScalars())[:] = coarse.ravel()
    matrix = np.eye(4)
    matrix[:3, :3] = np.diag([-1, -1, 1]) @ np.diag(coarse_spacing)       # LPS axes, as in the reference
    matrix[:3, 3] = np.diag([-1, -1, 1]) @ coarse_origin
    oriented.SetImageToWorldMatrix(util.vtkMatrixFromArray(matrix))
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "coarse")
    node.AddSegmentFromBinaryLabelmapRepresentation(oriented, "coarse_lesion", [1, 0, 0], "coarse_lesion")

    (segment,) = mb.segments_from_segmentation_node(node, volume)
    expected = np.zeros((12, 26, 30), np.uint8)
    for k, j, i in np.ndindex(*expected.shape):
        point = np.array(reference.TransformIndexToPhysicalPoint((i, j, k)))
        ci, cj, ck = np.floor((point - coarse_origin) / coarse_spacing + 0.5).astype(int)
        if 0 <= ck < 4 and 0 <= cj < 10 and 0 <= ci < 12:
            expected[k, j, i] = coarse[ck, cj, ci]
    assert expected.sum() == 2 * 4 * 6 * 8           # each coarse voxel covers 2x2x2 reference voxels
    assert same_geometry(segment.mask, reference, 1e-12)
    assert np.array_equal(sitk.GetArrayFromImage(segment.mask), expected)


def test_empty_and_outside_segments_get_notes(scene):
    image = oblique_image()
    volume = mb.volume_node_from_sitk(scene, image, "CT")
    segments = masks_on(image)[:1]
    segments.append(Segment("blank", sitk.Image(image.GetSize(), sitk.sitkUInt8)))
    segments[1].mask.CopyInformation(image)
    node = mb.segmentation_node_from_segments(scene, segments, volume)
    far = sitk.Image(image)
    far.SetOrigin(tuple(o + 400.0 for o in image.GetOrigin()))
    far_volume = mb.volume_node_from_sitk(scene, far, "far")
    notes = [s.note for s in mb.segments_from_segmentation_node(node, volume)]
    assert notes == [None, "empty segment"]
    outside = mb.segments_from_segmentation_node(node, far_volume)
    assert [s.note for s in outside] == ["lies outside the image", "empty segment"]
    assert not np.any(sitk.GetArrayViewFromImage(outside[0].mask))


# ------------------------------------------------------------------------------------------ tables

def lesion_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "lesion_id": ["liver_1", "node_1", None],
        "location": ["liver", "node", "lung"],
        "baseline:volume_ml": [7.63812, np.nan, 0.001],
        "reldelta:original_firstorder_Entropy": [-0.25, 1e-300, np.inf],
        "n_voxels": [4774, 2504, 1],
        "measurable": [True, False, True],
    })


def test_table_round_trip_with_nan_strings_units_and_provenance(scene):
    frame = lesion_frame()
    provenance = {"versions": {"pyradiomics": "3.1.4"}, "settings_hash": "ab" * 32}
    node = mb.table_node_from_dataframe(
        scene, frame, name="Lesions", column_descriptions={"baseline:volume_ml": "Lesion volume at baseline"},
        column_units={"baseline:volume_ml": "ml"}, attributes={"provenance": provenance, "patient_id": "p1"})
    table = node.GetTable()
    assert node.GetName() == "Lesions"
    assert table.GetColumnByName("baseline:volume_ml").GetClassName() == "vtkDoubleArray"
    assert table.GetColumnByName("location").GetClassName() == "vtkStringArray"
    assert node.GetColumnUnitLabel("baseline:volume_ml") == "ml"
    assert node.GetColumnDescription("baseline:volume_ml") == "Lesion volume at baseline"
    assert json.loads(node.GetAttribute("provenance")) == provenance
    assert node.GetAttribute("patient_id") == "p1"
    assert math.isnan(table.GetColumnByName("baseline:volume_ml").GetValue(1))
    assert table.GetColumnByName("lesion_id").GetValue(2) == ""

    back = mb.dataframe_from_table_node(node)
    assert list(back.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(back, frame)


def test_table_node_is_refilled_in_place(scene):
    node = mb.table_node_from_dataframe(scene, lesion_frame(), column_units={"n_voxels": "voxels"})
    smaller = pd.DataFrame({"patient_id": ["a", "b"], "n_voxels": [0.25, 0.75],
                            "n_lesions": pd.array([3, None], dtype="Int64")})
    same = mb.table_node_from_dataframe(scene, smaller, node=node)
    assert same is node and node.GetNumberOfColumns() == 3 and node.GetNumberOfRows() == 2
    assert node.GetColumnUnitLabel("n_voxels") == ""
    back = mb.dataframe_from_table_node(node)
    assert back["n_lesions"].tolist()[0] == 3.0 and math.isnan(back["n_lesions"].tolist()[1])
    smaller = smaller.drop(columns="n_lesions")
    mb.table_node_from_dataframe(scene, smaller, node=node)
    pd.testing.assert_frame_equal(mb.dataframe_from_table_node(node), smaller)
    with pytest.raises(InputError, match="duplicate column"):
        mb.table_node_from_dataframe(scene, pd.DataFrame([[1, 2]], columns=["x", "x"]))


def test_plot_chart_from_table(scene):
    frame = pd.DataFrame({"lesion_id": ["b", "a", "c"], "rank": [1.0, 2.0, 3.0], "percent_change": [-60.0, -10.0, 25.0]})
    table = mb.table_node_from_dataframe(scene, frame, name="Waterfall table")
    chart = mb.plot_chart_from_table(scene, table, "lesion_id", "percent_change", "Waterfall")
    assert chart.IsA("vtkMRMLPlotChartNode") and chart.GetTitle() == "Waterfall"
    assert chart.GetNumberOfPlotSeriesNodes() == 1
    series = chart.GetNthPlotSeriesNode(0)
    assert series.GetTableNodeID() == table.GetID()
    assert series.GetYColumnName() == "percent_change"
    assert series.GetLabelColumnName() == "lesion_id"      # strings become bar labels
    assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeBar

    again = mb.plot_chart_from_table(scene, table, "rank", "percent_change", "Waterfall 2", "scatter", chart_node=chart)
    assert again is chart and chart.GetNumberOfPlotSeriesNodes() == 1
    series = chart.GetNthPlotSeriesNode(0)
    assert series.GetXColumnName() == "rank"
    assert series.GetPlotType() == slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter
    with pytest.raises(InputError, match="no column 'missing'"):
        mb.plot_chart_from_table(scene, table, "rank", "missing", "bad")
    with pytest.raises(InputError, match="Plot type 'pie'"):
        mb.plot_chart_from_table(scene, table, "rank", "percent_change", "bad", plot_type="pie")


def test_segment_drawn_as_closed_surface_is_voxelised(scene):
    """A segment whose source is a closed surface (a 6 mm sphere) comes back as voxels of that volume."""
    import vtk

    reference = sitk.Image((40, 40, 20), sitk.sitkInt16)
    reference.SetSpacing((0.5, 0.5, 1.0))
    volume = mb.volume_node_from_sitk(scene, reference, "fine")
    centre_lps = reference.TransformContinuousIndexToPhysicalPoint((19.5, 19.5, 9.5))
    sphere = vtk.vtkSphereSource()
    sphere.SetCenter(-centre_lps[0], -centre_lps[1], centre_lps[2])
    sphere.SetRadius(6.0)
    sphere.SetThetaResolution(64)
    sphere.SetPhiResolution(64)
    sphere.Update()
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "surface")
    node.SetReferenceImageGeometryParameterFromVolumeNode(volume)
    node.AddSegmentFromClosedSurfaceRepresentation(sphere.GetOutput(), "ball", [1, 0, 0], "ball")
    (segment,) = mb.segments_from_segmentation_node(node, volume)
    volume_mm3 = sitk.GetArrayViewFromImage(segment.mask).sum() * 0.25
    assert segment.note is None
    assert volume_mm3 == pytest.approx(4.0 / 3.0 * math.pi * 6.0 ** 3, rel=0.1)
    with pytest.raises(InputError, match="no image data"):
        mb.sitk_from_volume_node(scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "void"))


def test_make_scene_has_colors_and_reads_a_scene_bundle(tmp_path):
    """The scene from make_scene has Slicer's default colour tables and can read an .mrb (a bare one cannot)."""
    import gc

    from slicer import util

    source = mb.make_scene()
    assert source.GetFirstNodeByName("Labels") is not None            # default colour tables
    image = rotated_image()
    node = mb.volume_node_from_sitk(source, image, "CT")
    storage = node.CreateDefaultStorageNode()
    source.AddNode(storage)
    node.SetAndObserveStorageNodeID(storage.GetID())
    bundle = tmp_path / "case.mrb"
    assert source.WriteToMRB(str(bundle))
    gc.collect()                                                       # the logics must survive this
    target = mb.make_scene()
    gc.collect()
    assert target.ReadFromMRB(str(bundle))
    loaded = target.GetFirstNodeByName("CT")
    assert np.array_equal(util.arrayFromVolume(loaded), sitk.GetArrayFromImage(image))
