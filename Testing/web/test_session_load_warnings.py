"""The workstation reports a segmentation it had to resample, at load and with the result.

A segmentation on another grid than its image is accepted but changes what is measured (the
lesion's diameters and volume are those of the resampled mask): the command line warns and records
it in the provenance (``pipeline.compute_lesion_table``). The workstation reads its files through
``Session.load_case`` and then works on MRML nodes, where that note would be lost; the session keeps
it per time point, says it at load (``load_warnings``, shown in the page's message area by
``app.Workstation``) and hands it to the pipeline with the segments, so the computed result warns
and records it like the command line does. Headless, real MRML nodes (slicer-core).
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import SimpleITK as sitk

pytest.importorskip("slicer", reason="slicer-core (the mrml extra) is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "Web"))

from RadiomicsResponseWeb import session  # noqa: E402
from ResponseSignatureLib import mrml_bridge  # noqa: E402
from ResponseSignatureLib.sample_data import make_sample_case  # noqa: E402

LIGHT = {"imageType": {"Original": {}}, "featureClass": {"shape": ["VoxelVolume"]}}


def coarser(label_map: Path, out: Path) -> Path:
    """The label map on a grid of twice the voxel size (nearest neighbour), as a coarser export would be."""
    labels = sitk.ReadImage(str(label_map))
    size = [max(1, n // 2) for n in labels.GetSize()]
    spacing = [2 * s for s in labels.GetSpacing()]
    coarse = sitk.Resample(labels, size, sitk.Transform(), sitk.sitkNearestNeighbor, labels.GetOrigin(), spacing,
                           labels.GetDirection(), 0, labels.GetPixelID())
    sitk.WriteImage(coarse, str(out))
    return out


def test_a_resampled_segmentation_is_reported_at_load_and_in_the_result(tmp_path):
    paths = make_sample_case(tmp_path / "case", with_labelmaps=True)
    image = sitk.ReadImage(str(paths["followup_image"]))
    coarse = coarser(paths["followup_labelmap"], tmp_path / "followup_coarse.nrrd")
    grid = f"{' x '.join(str(n // 2) for n in image.GetSize())} voxels of {' x '.join(f'{2 * s:g}' for s in image.GetSpacing())} mm"

    case = session.Session(mrml_bridge.make_scene(), patient_id="P1")
    case.load_case({**paths, "followup_seg": coarse})
    [warning] = case.load_warnings
    assert warning.startswith(f"The follow-up segmentation is on another grid than its image: resampled from {grid} to ")

    result = session.compute(case.pipeline_inputs(), params=LIGHT)
    assert set(result.provenance["resampled_segmentations"]) == {"followup"}
    assert result.provenance["resampled_segmentations"]["followup"].startswith(f"resampled from {grid}")
    assert [w.split(":")[0] for w in result.warnings] == ["followup segmentation is on another grid than its image"]

    case.load_case(paths)  # the same case on its own grid: nothing to say any more
    assert case.load_warnings == []
    result = session.compute(case.pipeline_inputs(), params=LIGHT)
    assert result.warnings == [] and "resampled_segmentations" not in result.provenance
