"""Response Signature's "Export DICOM SEG + SR" (ResponseSignatureLogic.exportDicom), headless.

Real MRML nodes from slicer-core, as Slicer's DICOM module leaves them: each CT of the demo case
(``sample-data --dicom``) read from its DICOM series into a scalar volume node carrying the
``DICOM.instanceUIDs`` attribute (the SOP Instance UIDs of its slice files), the lesions in a
segmentation node. Only the application layer is stood in for: ``slicer.dicomDatabase`` answers
``isOpen`` and ``fileForInstance(uid)`` (ctkDICOMDatabase's names, read in Slicer 5.8.1 / 5.10.0
sources, Testing/slicer_api_inventory.json) from the files on disk.

The export must give a SEG per time point and the follow-up SR that dciodvfy accepts, whose masks
are the segmentation nodes' segments and whose SR reads back (highdicom) to the lesion table
process() returned, bit for bit. A volume not loaded from DICOM, an export before Apply, an edited
segmentation and files gone from the database are refused with a message that says what to do.
"""
from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")
pytest.importorskip("highdicom")

import slicer_app_standins  # noqa: E402
from dicom_helpers import dciodvfy, dicom_sample_case, unexpected_warnings  # noqa: E402

LIGHT_PARAMS = {"imageType": {"Original": {}}, "featureClass": {"shape": None, "firstorder": None},
                "setting": {"binWidth": 25, "label": 1}}


class DicomDatabase:
    """Stand-in for Slicer's ``slicer.dicomDatabase`` (ctkDICOMDatabase): instance UID -> file."""

    def __init__(self, folders):
        import pydicom

        self.isOpen = True
        self.files = {}
        for folder in folders:
            for path in sorted(folder.glob("*.dcm")):
                self.files[str(pydicom.dcmread(str(path), stop_before_pixels=True).SOPInstanceUID)] = str(path)

    def fileForInstance(self, uid: str) -> str:
        return self.files.get(uid, "")   # ctkDICOMDatabase answers an empty string for an unknown instance


@pytest.fixture(scope="module")
def module(tmp_path_factory):
    slicer_app_standins.install(str(tmp_path_factory.mktemp("slicer-cache")))
    return slicer_app_standins.load_module_file("ResponseSignature")


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    return dicom_sample_case(tmp_path_factory.mktemp("slicer_dicom") / "case", patient_id="S1")


@pytest.fixture()
def database(case, monkeypatch):
    import slicer

    database = DicomDatabase([case["baseline_dicom"], case["followup_dicom"]])
    monkeypatch.setattr(slicer, "dicomDatabase", database, raising=False)
    return database


def dicom_volume(folder, name: str):
    """A scalar volume node of a DICOM series, with the attribute Slicer's DICOM module sets on it."""
    import pydicom
    import slicer

    from ResponseSignatureLib import imageio, mrml_bridge

    node = mrml_bridge.volume_node_from_sitk(slicer.mrmlScene, imageio.read_image(folder), name)
    slices = sorted((pydicom.dcmread(str(p), stop_before_pixels=True) for p in folder.glob("*.dcm")),
                    key=lambda ds: int(ds.InstanceNumber))
    node.SetAttribute("DICOM.instanceUIDs", " ".join(str(ds.SOPInstanceUID) for ds in slices))
    return node


def timepoint_nodes(case, timepoint: str, from_dicom: bool = True):
    """(volume node, segmentation node) of one time point; the lesions from the sample's .seg.nrrd."""
    import slicer

    from ResponseSignatureLib import imageio, mrml_bridge

    if from_dicom:
        volume = dicom_volume(case[f"{timepoint}_dicom"], f"{timepoint} CT")
    else:
        volume = mrml_bridge.volume_node_from_sitk(slicer.mrmlScene, imageio.read_image(case[f"{timepoint}_image"]),
                                                   f"{timepoint} CT (NRRD)")
    image = mrml_bridge.sitk_from_volume_node(volume)
    segments = imageio.read_segments(case[f"{timepoint}_seg"], image)
    return volume, mrml_bridge.segmentation_node_from_segments(slicer.mrmlScene, segments, volume, f"{timepoint} lesions")


@pytest.fixture(scope="module")
def exported(module, case, tmp_path_factory):
    import slicer

    logic = module.ResponseSignatureLogic()
    baseline, followup = timepoint_nodes(case, "baseline"), timepoint_nodes(case, "followup")
    assert logic.dicomExportProblem(baseline[0], followup[0]) == "Compute the lesion table first (Apply)."
    result = logic.process(*baseline, *followup, params=LIGHT_PARAMS, patientId="S1", createChart=False)
    assert logic.dicomExportProblem(baseline[0], followup[0]) is None
    out = tmp_path_factory.mktemp("slicer_dicom_out")
    saved = getattr(slicer, "dicomDatabase", None)
    slicer.dicomDatabase = DicomDatabase([case["baseline_dicom"], case["followup_dicom"]])
    try:
        paths = logic.exportDicom(str(out))
    finally:
        slicer.dicomDatabase = saved
    return {"logic": logic, "result": result, "paths": paths, "nodes": {"baseline": baseline, "followup": followup}}


def test_export_writes_the_three_files(exported):
    assert {name: path.rsplit("/", 1)[1] for name, path in exported["paths"].items()} == {
        "baseline_seg": "baseline_seg.dcm", "followup_seg": "followup_seg.dcm", "sr": "followup_sr.dcm"}


@pytest.mark.parametrize("name", ["baseline_seg", "followup_seg", "sr"])
def test_dciodvfy_finds_no_error(exported, name):
    errors, warnings = dciodvfy(exported["paths"][name])
    assert errors == []
    assert unexpected_warnings(warnings) == []


def test_sr_reads_back_to_the_lesion_table(exported):
    from ResponseSignatureLib.dicom_sr import read_sr
    from ResponseSignatureLib.lesion_table import recist_from_lesion_table

    table = exported["result"].table.set_index("lesion_id")
    back, patient = read_sr(exported["paths"]["sr"])
    back = back.set_index("lesion_id").loc[table.index]
    assert list(table.index) == ["liver_1", "liver_2", "liver_3", "node_1", "liver_4"]
    assert list(back["status"]) == list(table["status"]) and list(back["location"]) == list(table["location"])
    numeric = [c for c in table.columns if c.split(":")[0] in ("baseline", "followup", "delta", "reldelta")]
    assert len(numeric) > 50 and set(numeric) <= set(back.columns)
    for column in numeric:
        assert np.array_equal(table[column].to_numpy(float), back[column].to_numpy(float), equal_nan=True), column
    assert patient["recist_category"] == recist_from_lesion_table(table.reset_index())["recist_category"] == "PD"


@pytest.mark.parametrize("timepoint", ["baseline", "followup"])
def test_segs_hold_the_segmentation_nodes_and_reference_the_ct_files(exported, case, timepoint):
    from ResponseSignatureLib import mrml_bridge
    from ResponseSignatureLib.dicom_io import image_files, read_dataset
    from ResponseSignatureLib.dicom_seg import segments_from_seg

    volume, segmentation = exported["nodes"][timepoint]
    drawn = {s.name: s for s in mrml_bridge.segments_from_segmentation_node(segmentation, volume)}
    image = mrml_bridge.sitk_from_volume_node(volume)
    seg_path = exported["paths"][f"{timepoint}_seg"]
    written = {s.name: s for s in segments_from_seg(read_dataset(seg_path), seg_path)}  # on the SEG's own frame grid
    assert set(written) == set(drawn) and len(drawn) >= 3
    for name, segment in drawn.items():
        resampled = sitk.Resample(written[name].mask, image, sitk.Transform(), sitk.sitkNearestNeighbor)
        assert np.array_equal(sitk.GetArrayViewFromImage(resampled), sitk.GetArrayViewFromImage(segment.mask)), name
    seg = read_dataset(exported["paths"][f"{timepoint}_seg"])
    ct_uids = {str(read_dataset(p, stop_before_pixels=True).SOPInstanceUID) for p in image_files(case[f"{timepoint}_dicom"])}
    referenced = {str(item.ReferencedSOPInstanceUID) for series in seg.ReferencedSeriesSequence
                  for item in series.ReferencedInstanceSequence}
    assert referenced and referenced <= ct_uids


def test_a_volume_not_loaded_from_dicom_is_refused_saying_why(module, case, tmp_path):
    logic = module.ResponseSignatureLogic()
    baseline, followup = timepoint_nodes(case, "baseline", from_dicom=False), timepoint_nodes(case, "followup")
    problem = logic.dicomExportProblem(baseline[0], followup[0])
    assert problem.startswith("The baseline volume 'baseline CT (NRRD)' was not loaded from DICOM")
    logic.process(*baseline, *followup, params=LIGHT_PARAMS, patientId="S1", createChart=False)
    with pytest.raises(ValueError, match="was not loaded from DICOM"):
        logic.exportDicom(str(tmp_path))
    assert not any(tmp_path.iterdir())


def test_other_selection_edited_segments_and_missing_files_are_refused(module, case, database, tmp_path):
    import slicer

    logic = module.ResponseSignatureLogic()
    with pytest.raises(ValueError, match=r"Compute the lesion table first \(Apply\)"):
        logic.exportDicom(str(tmp_path))
    baseline, followup = timepoint_nodes(case, "baseline"), timepoint_nodes(case, "followup")
    logic.process(*baseline, *followup, params=LIGHT_PARAMS, patientId="S1", createChart=False)
    with pytest.raises(ValueError, match="output folder"):
        logic.exportDicom("")
    other = dicom_volume(case["baseline_dicom"], "another baseline CT")
    assert "computed from other volumes" in logic.dicomExportProblem(other, followup[0])

    lost = next(iter(database.files))                                   # a baseline slice
    path = database.files.pop(lost)
    slices = len(baseline[0].GetAttribute("DICOM.instanceUIDs").split())
    with pytest.raises(ValueError, match=f"1 of the {slices} DICOM files of 'baseline CT' are no longer .*{lost}"):
        logic.exportDicom(str(tmp_path))
    database.files[lost] = path
    database.isOpen = False
    with pytest.raises(ValueError, match="DICOM database is not open"):
        logic.exportDicom(str(tmp_path))
    database.isOpen = True

    segmentation = followup[1].GetSegmentation()
    segmentation.RemoveSegment(segmentation.GetNthSegmentID(0))       # the user edits after Apply
    with pytest.raises(ValueError, match="changed since the lesion table was computed: Apply again"):
        logic.exportDicom(str(tmp_path))
    assert not any(tmp_path.iterdir())
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") >= 3
