"""MRML nodes <-> SimpleITK images, Segments and pandas tables (headless, no slicer.app).

The only module of the libraries that imports ``slicer``/``vtk``, always inside functions: the
import costs about a second and 200 MB, and headless users of the rest of the library never pay it.
MRML is RAS, SimpleITK is LPS: x and y change sign between the two, voxel order (k, j, i) is shared.
A parent transform on a volume node is not applied (the node's own grid is converted).
"""
from __future__ import annotations

import json

import numpy as np
import SimpleITK as sitk

from .errors import InputError
from .imageio import DEFAULT_COLORS, EMPTY_NOTE, OUTSIDE_NOTE, Segment, resample_mask

LPS_RAS = np.diag([-1.0, -1.0, 1.0])  # its own inverse
_PLOT_TYPES = {"bar": "PlotTypeBar", "scatter": "PlotTypeScatter", "line": "PlotTypeLine"}


# ----------------------------------------------------------------------------------------- scene

def make_scene():
    """A vtkMRMLScene with application, colour and data-IO logic, usable without the Slicer app."""
    import tempfile

    import slicer

    scene = slicer.vtkMRMLScene()
    app_logic = slicer.vtkSlicerApplicationLogic()
    app_logic.SetMRMLScene(scene)
    color_logic = app_logic.GetColorLogic()
    color_logic.SetMRMLScene(scene)
    color_logic.AddDefaultColorNodes()
    app_logic.SetModuleLogic("Colors", color_logic)
    remote_io = slicer.vtkMRMLRemoteIOLogic()
    remote_io.SetMRMLScene(scene)
    remote_io.SetMRMLApplicationLogic(app_logic)
    remote_io.GetCacheManager().SetRemoteCacheDirectory(tempfile.mkdtemp(prefix="mrml_cache_"))
    data_io = slicer.vtkDataIOManagerLogic()
    data_io.SetMRMLScene(scene)
    data_io.SetMRMLApplicationLogic(app_logic)
    data_io.SetAndObserveDataIOManager(remote_io.GetDataIOManager())
    remote_io.AddDataIOToScene()
    register_segmentation_converters()
    scene.radiomics_response_logics = (app_logic, color_logic, remote_io, data_io)  # keep them alive
    return scene


def register_segmentation_converters() -> None:
    """Register Slicer's surface <-> labelmap conversion rules if absent (the Slicer app does it at startup)."""
    import slicer

    factory = slicer.vtkSegmentationConverterFactory.GetInstance()
    present = {rule.GetName() for rule in factory.GetConverterRules()}
    for rule_class in ("vtkBinaryLabelmapToClosedSurfaceConversionRule",
                       "vtkClosedSurfaceToBinaryLabelmapConversionRule",
                       "vtkClosedSurfaceToFractionalLabelmapConversionRule",
                       "vtkFractionalLabelmapToClosedSurfaceConversionRule"):
        rule = getattr(slicer, rule_class, None)
        if rule is not None and rule().GetName() not in present:
            factory.RegisterConverterRule(rule())


# --------------------------------------------------------------------------------------- volumes

def _ijk_to_ras(volume_node) -> np.ndarray:
    import vtk
    from slicer import util

    matrix = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASMatrix(matrix)
    return util.arrayFromVTKMatrix(matrix)


def _set_geometry(image: sitk.Image, volume_node) -> sitk.Image:
    """Give a SimpleITK image the spacing, direction and origin (LPS) of a volume node (RAS)."""
    import vtk
    from slicer import util

    directions = vtk.vtkMatrix4x4()
    volume_node.GetIJKToRASDirectionMatrix(directions)
    image.SetSpacing(tuple(float(s) for s in volume_node.GetSpacing()))
    image.SetDirection(tuple((LPS_RAS @ util.arrayFromVTKMatrix(directions)[:3, :3]).ravel().tolist()))
    image.SetOrigin(tuple((LPS_RAS @ np.array(volume_node.GetOrigin())).tolist()))
    return image


def _grid_of(volume_node) -> sitk.Image:
    """An empty UInt8 image on the volume node's grid (its geometry without copying its voxels)."""
    _check_volume(volume_node)
    return _set_geometry(sitk.Image(list(volume_node.GetImageData().GetDimensions()), sitk.sitkUInt8), volume_node)


def _check_volume(volume_node) -> None:
    if volume_node is None or volume_node.GetImageData() is None:
        name = volume_node.GetName() if volume_node is not None else None
        raise InputError(f"Volume '{name}' has no image data (expected a loaded scalar volume).")


def sitk_from_volume_node(volume_node) -> sitk.Image:
    """The voxels and geometry of a scalar volume node (RAS) as a SimpleITK image (LPS)."""
    from slicer import util

    _check_volume(volume_node)
    return _set_geometry(sitk.GetImageFromArray(np.array(util.arrayFromVolume(volume_node), copy=True)),
                         volume_node)


def volume_node_from_sitk(scene, image: sitk.Image, name: str, node=None, labelmap: bool = False):
    """Put a SimpleITK image (LPS) into a new or given scalar/label-map volume node (RAS)."""
    from slicer import util

    if image.GetDimension() != 3 or image.GetNumberOfComponentsPerPixel() != 1:
        raise InputError(f"Image for volume '{name}' must be 3D with one component per voxel.")
    if node is None:
        node_class = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
        node = scene.AddNewNodeByClass(node_class, name)
    ijk_to_ras = np.eye(4)
    direction = np.array(image.GetDirection()).reshape(3, 3)
    ijk_to_ras[:3, :3] = LPS_RAS @ direction @ np.diag(image.GetSpacing())
    ijk_to_ras[:3, 3] = LPS_RAS @ np.array(image.GetOrigin())
    node.SetIJKToRASMatrix(util.vtkMatrixFromArray(ijk_to_ras))
    util.updateVolumeFromArray(node, sitk.GetArrayFromImage(image))
    if node.GetDisplayNode() is None:
        node.CreateDefaultDisplayNodes()
    return node


# ---------------------------------------------------------------------------------- segmentations

def _segment_ids(segmentation_node, segment_ids) -> list[str]:
    segmentation = segmentation_node.GetSegmentation()
    if segment_ids is None:
        return [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    missing = [sid for sid in segment_ids if segmentation.GetSegment(sid) is None]
    if missing:
        raise InputError(f"Segmentation '{segmentation_node.GetName()}' has no segment with ID "
                         f"{', '.join(repr(m) for m in missing)}.")
    return list(segment_ids)


def _export_segment(segmentation_node, segment_id: str, reference_volume_node) -> np.ndarray:
    """One segment as a 0/1 uint8 array (k, j, i) on the reference volume's grid."""
    import slicer
    import vtk
    from slicer import util

    scene = segmentation_node.GetScene()
    colors_before = _color_table_ids(scene)
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__export_" + segment_id)
    try:
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        logic = slicer.vtkSlicerSegmentationsModuleLogic
        if not logic.ExportSegmentsToLabelmapNode(segmentation_node, ids, labelmap, reference_volume_node,
                                                  slicer.vtkSegmentation.EXTENT_REFERENCE_GEOMETRY):
            raise InputError(f"Segment '{segment_id}' of '{segmentation_node.GetName()}' could not be "
                             f"exported onto the grid of volume '{reference_volume_node.GetName()}'.")
        return (util.arrayFromVolume(labelmap) != 0).astype(np.uint8)
    finally:
        _remove_with_display(scene, labelmap)
        for node_id in _color_table_ids(scene) - colors_before:  # the export makes one per call
            scene.RemoveNode(scene.GetNodeByID(node_id))


def _color_table_ids(scene) -> set:
    nodes = scene.GetNodesByClass("vtkMRMLColorTableNode")
    return {nodes.GetItemAsObject(i).GetID() for i in range(nodes.GetNumberOfItems())}


def _remove_with_display(scene, node) -> None:
    for index in range(node.GetNumberOfDisplayNodes()):
        display = node.GetNthDisplayNode(index)
        if display is not None:
            scene.RemoveNode(display)
    scene.RemoveNode(node)


def has_voxels(segmentation_node, segment_id: str) -> bool:
    """True if the segment's own binary labelmap (before export) contains at least one voxel."""
    import slicer
    from vtk.util import numpy_support

    segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
    labelmap = slicer.vtkOrientedImageData()
    slicer.vtkSlicerSegmentationsModuleLogic.GetSegmentBinaryLabelmapRepresentation(
        segmentation_node, segment_id, labelmap)
    scalars = labelmap.GetPointData().GetScalars()
    if scalars is None or labelmap.GetNumberOfPoints() == 0:
        return False
    return bool(np.any(numpy_support.vtk_to_numpy(scalars) == segment.GetLabelValue()))


def segments_from_segmentation_node(segmentation_node, reference_volume_node, segment_ids=None) -> list[Segment]:
    """Each segment (or those listed) as a Segment whose mask lies on the reference volume's grid."""
    reference = _grid_of(reference_volume_node)
    register_segmentation_converters()
    segmentation_node.CreateBinaryLabelmapRepresentation()   # segments drawn as surfaces get voxels
    segments = []
    shape = sitk.GetArrayViewFromImage(reference).shape
    for segment_id in _segment_ids(segmentation_node, segment_ids):
        vtk_segment = segmentation_node.GetSegmentation().GetSegment(segment_id)
        note = None
        if has_voxels(segmentation_node, segment_id):
            array = _export_segment(segmentation_node, segment_id, reference_volume_node)
            note = None if np.any(array) else OUTSIDE_NOTE
        else:  # exporting an empty segment onto a distant grid fails in Slicer: skip it
            array, note = np.zeros(shape, np.uint8), EMPTY_NOTE
        mask = sitk.GetImageFromArray(array)
        mask.CopyInformation(reference)
        color = tuple(float(c) for c in vtk_segment.GetColor())
        segments.append(Segment(vtk_segment.GetName(), mask, int(vtk_segment.GetLabelValue()), color, note))
    return segments


def _oriented_image(mask: np.ndarray, ijk_to_ras: np.ndarray):
    import slicer
    import vtk
    from slicer import util
    from vtk.util import numpy_support

    image = slicer.vtkOrientedImageData()
    image.SetDimensions(mask.shape[2], mask.shape[1], mask.shape[0])
    image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = mask.astype(np.uint8).ravel()
    image.SetImageToWorldMatrix(util.vtkMatrixFromArray(ijk_to_ras))
    return image


def segmentation_node_from_segments(scene, segments, reference_volume_node, name: str = "Segmentation"):
    """A segmentation node holding the segments (masks resampled onto the reference volume if needed)."""
    reference = _grid_of(reference_volume_node)
    ijk_to_ras = _ijk_to_ras(reference_volume_node)
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_volume_node)
    used: set[str] = set()
    for index, segment in enumerate(segments):
        mask = sitk.GetArrayFromImage(resample_mask(segment.mask, reference))
        color = segment.color or DEFAULT_COLORS[index % len(DEFAULT_COLORS)]
        segment_id = _unique_id(segment.name, used)
        node.AddSegmentFromBinaryLabelmapRepresentation(
            _oriented_image(mask, ijk_to_ras), segment.name, [float(c) for c in color[:3]], segment_id)
    return node


def _unique_id(name: str, used: set) -> str:
    candidate, suffix = name or "Segment", 1
    while candidate in used:
        suffix += 1
        candidate = f"{name}_{suffix}"
    used.add(candidate)
    return candidate


# ----------------------------------------------------------------------------------------- tables

def _vtk_column(name: str, values):
    """A vtk array for one pandas column: int64, double (NaN for missing), bit (bool) or string."""
    import pandas as pd
    import vtk
    from pandas.api import types

    if types.is_bool_dtype(values):
        array = vtk.vtkBitArray()
        for value in values:
            array.InsertNextValue(int(bool(value)))
    elif types.is_integer_dtype(values) and not values.isna().any():
        array = vtk.vtkTypeInt64Array()
        for value in values:
            array.InsertNextValue(int(value))
    elif types.is_numeric_dtype(values):
        array = vtk.vtkDoubleArray()
        for value in values.astype("float64"):
            array.InsertNextValue(float(value))
    else:
        array = vtk.vtkStringArray()
        for value in values:
            array.InsertNextValue("" if value is None or (not isinstance(value, str) and pd.isna(value))
                                  else str(value))
    array.SetName(name)
    return array


def table_node_from_dataframe(scene, df, name: str = "Table", node=None, column_descriptions=None,
                              column_units=None, attributes=None):
    """Fill a new or given vtkMRMLTableNode from a DataFrame (index dropped), with column metadata and
    attributes.

    Every documented column gets its title (the header Slicer shows), description, unit and IBSI code
    (column property ``ibsiCode``) from ``tableio.column_metadata``; ``column_descriptions`` /
    ``column_units`` (column -> text) override those.
    """
    from .tableio import column_metadata

    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        raise InputError(f"Table '{name}' has duplicate column names (each column needs a unique name).")
    if node is None:
        node = scene.AddNewNodeByClass("vtkMRMLTableNode", name)
    for index in range(node.GetNumberOfColumns()):   # a reused node forgets old units and descriptions
        node.RemoveAllColumnProperties(node.GetColumnName(index))
    node.RemoveAllColumns()
    for column, column_name in zip(df.columns, names):
        node.AddColumn(_vtk_column(column_name, df[column]))
    metadata = column_metadata(df)
    for column_name, text in (column_descriptions or {}).items():
        metadata.setdefault(str(column_name), {})["description"] = text
    for column_name, unit in (column_units or {}).items():
        metadata.setdefault(str(column_name), {})["unit"] = unit
    for column_name, info in metadata.items():
        _set_column_metadata(node, column_name, info)
    for key, value in (attributes or {}).items():
        node.SetAttribute(str(key), value if isinstance(value, str) else json.dumps(value, default=str))
    node.Modified()
    return node


def _set_column_metadata(node, column_name: str, info: dict) -> None:
    """Title, description, unit label and IBSI code (``ibsiCode`` property) of one column."""
    if info.get("title"):
        node.SetColumnTitle(column_name, str(info["title"]))
    if info.get("description"):
        node.SetColumnDescription(column_name, str(info["description"]))
    if info.get("unit"):
        node.SetColumnUnitLabel(column_name, str(info["unit"]))
    if info.get("ibsi"):
        node.SetColumnProperty(column_name, "ibsiCode", str(info["ibsi"]))


def _column_values(array):
    import vtk
    from vtk.util import numpy_support

    count = array.GetNumberOfTuples()
    if isinstance(array, vtk.vtkStringArray):
        return np.array([array.GetValue(i) or None for i in range(count)], dtype=object)
    if isinstance(array, vtk.vtkBitArray):
        return np.array([bool(array.GetValue(i)) for i in range(count)], dtype=bool)
    if isinstance(array, vtk.vtkDataArray):
        return np.array(numpy_support.vtk_to_numpy(array), copy=True)
    return np.array([array.GetVariantValue(i).ToString() for i in range(count)], dtype=object)


def dataframe_from_table_node(node):
    """The table node's columns as a DataFrame (empty strings become None)."""
    import pandas as pd

    table = node.GetTable()
    data = {}
    for index in range(table.GetNumberOfColumns()):
        array = table.GetColumn(index)
        data[array.GetName()] = _column_values(array)
    return pd.DataFrame(data, columns=list(data))


# ------------------------------------------------------------------------------------------ plots

def plot_chart_from_table(scene, table_node, x_column: str, y_column: str, title: str,
                          plot_type: str = "bar", chart_node=None):
    """A plot chart node with one series of y_column against x_column (strings become bar labels)."""
    import slicer
    import vtk

    if plot_type not in _PLOT_TYPES:
        raise InputError(f"Plot type '{plot_type}' is not one of {', '.join(_PLOT_TYPES)}.")
    table = table_node.GetTable()
    for column in (x_column, y_column):
        if table.GetColumnByName(column) is None:
            raise InputError(f"Table '{table_node.GetName()}' has no column '{column}' to plot.")
    series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", f"{title} series")
    series.SetAndObserveTableNodeID(table_node.GetID())
    if isinstance(table.GetColumnByName(x_column), vtk.vtkStringArray):
        series.SetLabelColumnName(x_column)
    else:
        series.SetXColumnName(x_column)
    series.SetYColumnName(y_column)
    series.SetPlotType(getattr(slicer.vtkMRMLPlotSeriesNode, _PLOT_TYPES[plot_type]))
    if chart_node is None:
        chart_node = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", title)
    else:
        _remove_series(scene, chart_node)
    chart_node.SetTitle(title)
    chart_node.SetXAxisTitle(x_column)
    chart_node.SetYAxisTitle(y_column)
    chart_node.AddAndObservePlotSeriesNodeID(series.GetID())
    return chart_node


def _remove_series(scene, chart_node) -> None:
    """Detach the chart's previous series and remove them from the scene."""
    old = [chart_node.GetNthPlotSeriesNode(i) for i in range(chart_node.GetNumberOfPlotSeriesNodes())]
    chart_node.RemoveAllPlotSeriesNodeIDs()
    for series in old:
        if series is not None:
            scene.RemoveNode(series)
