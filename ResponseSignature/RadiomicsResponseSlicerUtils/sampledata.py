"""The synthetic sample case (baseline + follow-up CT with lesion segmentations) in Sample Data.

The case is generated on this computer by ``ResponseSignatureLib.sample_data.make_sample_case()``
(deterministic), so nothing is downloaded and no checksum is needed. SampleData only knows how to
"download" URIs into its cache and load them, so:

1. the registered source's URIs are ``file://`` URIs of the files in a versioned folder of Slicer's
   cache (``sampleCaseFolder()``), which urllib copies like any download;
2. its ``customDownloader``, which SampleData's button calls instead of ``downloadFromSource``,
   generates the files on first use, then lets SampleData copy and load them as usual;
3. ``loadSampleCase()`` serves scripts and tests (``SampleData.downloadSample()`` does not run the
   customDownloader, so it would fail before the files have been generated once).

SampleData appends every registration to ``slicer.modules.sampleDataSources[category]`` without
looking for an earlier one (Slicer 5.8 and 5.10), so ``registerSampleData`` first removes ours:
registering again (module reload, Load sample button) never duplicates the entry.
"""
from __future__ import annotations

import os
from typing import Optional

SAMPLE_CATEGORY = "RadiomicsResponse"
SAMPLE_NAME = "RadiomicsResponseSynthetic1"
SAMPLE_CASE_VERSION = "1"
#: (file written by make_sample_case, Slicer file type, node name)
SAMPLE_CASE_FILES = [
    ("baseline.nrrd", "VolumeFile", "RR-Synthetic baseline CT"),
    ("baseline.seg.nrrd", "SegmentationFile", "RR-Synthetic baseline lesions"),
    ("followup.nrrd", "VolumeFile", "RR-Synthetic follow-up CT"),
    ("followup.seg.nrrd", "SegmentationFile", "RR-Synthetic follow-up lesions"),
]
#: Folder of ResponseSignature.py (this package sits beside it, in the source tree and once installed).
MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sampleCaseFolder() -> str:
    """Folder (in Slicer's cache) where the synthetic sample case is generated."""
    import slicer

    return os.path.join(slicer.app.cachePath, "RadiomicsResponse", f"SampleCase-v{SAMPLE_CASE_VERSION}")


def generateSampleCase(folder: Optional[str] = None) -> str:
    """Write the synthetic sample case into ``folder`` (default: sampleCaseFolder()) unless already there.

    The files are written into a temporary sibling folder and renamed, so an interrupted run never
    leaves a half-written case behind. Returns the folder.
    """
    import shutil

    folder = folder or sampleCaseFolder()
    if all(os.path.isfile(os.path.join(folder, fileName)) for fileName, _fileType, _nodeName in SAMPLE_CASE_FILES):
        return folder
    from .dependencies import ensurePythonRequirements, requirementsPath

    ensurePythonRequirements(requirementsPath("ResponseSignature", MODULE_DIR), "ResponseSignature")
    from ResponseSignatureLib.sample_data import make_sample_case

    partial = folder + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    make_sample_case(partial)
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(partial, folder)
    return folder


def _sourceArguments(folder: str) -> dict:
    import pathlib

    return dict(
        uris=[pathlib.Path(folder, fileName).as_uri() for fileName, _fileType, _nodeName in SAMPLE_CASE_FILES],
        # Names in SampleData's cache: prefixed and versioned so that they never clash with other data.
        fileNames=[f"RadiomicsResponse-v{SAMPLE_CASE_VERSION}-{fileName}" for fileName, _fileType, _nodeName in SAMPLE_CASE_FILES],
        nodeNames=[nodeName for _fileName, _fileType, nodeName in SAMPLE_CASE_FILES],
        loadFileTypes=[fileType for _fileName, fileType, _nodeName in SAMPLE_CASE_FILES],
    )


def _generateAndLoadSampleCase(source):
    """customDownloader of our SampleDataSource: generate the files if needed, then load them."""
    import SampleData
    import slicer

    with slicer.util.tryWithErrorDisplay("Failed to generate the RadiomicsResponse sample case.", waitCursor=True):
        generateSampleCase()
        return SampleData.SampleDataLogic().downloadFromSource(source)


def forgetSampleSources(sources: dict, category: str = SAMPLE_CATEGORY, sampleName: str = SAMPLE_NAME) -> int:
    """Remove the sources called ``sampleName`` from ``sources[category]`` (SampleData's registry).

    Returns how many were removed.
    """
    registered = sources.get(category, [])
    kept = [source for source in registered if getattr(source, "sampleName", None) != sampleName]
    removed = len(registered) - len(kept)
    if category in sources:
        registered[:] = kept
    return removed


def registerSampleData() -> None:
    """Add the synthetic longitudinal case to Sample Data, once (replacing an earlier registration)."""
    import SampleData
    import slicer

    forgetSampleSources(getattr(slicer.modules, "sampleDataSources", {}))
    if hasattr(SampleData.SampleDataLogic, "registerCustomSampleDataCategory"):  # Slicer >= 5.11
        SampleData.SampleDataLogic.registerCustomSampleDataCategory(SAMPLE_CATEGORY, title="Radiomics Response")
    SampleData.SampleDataLogic.registerCustomSampleDataSource(
        category=SAMPLE_CATEGORY,
        sampleName=SAMPLE_NAME,
        thumbnailFileName=os.path.join(MODULE_DIR, "Resources", "Icons", "RadiomicsResponseSample1.png"),
        customDownloader=_generateAndLoadSampleCase,
        **_sourceArguments(sampleCaseFolder()),
    )


def loadSampleCase() -> list:
    """Generate (if needed) and load the synthetic sample case; returns
    [baseline volume, baseline segmentation, follow-up volume, follow-up segmentation].
    """
    import SampleData

    registerSampleData()
    folder = generateSampleCase()
    nodes = SampleData.SampleDataLogic().downloadSamples(SAMPLE_NAME)
    if len(nodes) != len(SAMPLE_CASE_FILES):
        raise RuntimeError(f"The sample case could not be loaded from {folder}.")
    return nodes
