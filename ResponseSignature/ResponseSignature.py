import json
import logging
import os
from typing import Annotated, Callable, Optional

import ctk
import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import (
    parameterNodeWrapper,
    Choice,
    WithinRange,
)

from slicer import vtkMRMLScalarVolumeNode, vtkMRMLSegmentationNode, vtkMRMLTableNode

# Note on annotations: this file deliberately does not use ``from __future__ import annotations``.
# The parameter node wrapper resolves member annotations at class-creation time with
# typing.get_type_hints(); keeping them as real objects (and writing Optional[...] instead of
# "X | None") keeps the file loadable on Slicer 5.8 (Python 3.9) as well as 5.10+ (Python 3.12).

#: Where the project's documentation lives (README sections are linked from each module's help).
DOCUMENTATION_URL = "https://github.com/radiomics-response/SlicerRadiomicsResponse"


def _shippedPresets() -> list:
    """Names of the feature-extraction presets shipped in Resources/Presets (the main ones first)."""
    main = ["default", "ibsi", "ligero2021", "dercle2020"]
    try:
        found = sorted(os.path.splitext(name)[0] for name in os.listdir(os.path.join(os.path.dirname(__file__), "Resources", "Presets"))
                       if name.endswith(".yaml"))
    except OSError:
        found = []
    if not found:
        return main
    return [name for name in main if name in found] + [name for name in found if name not in main]


#: Choices of the feature-extraction settings (read from Resources/Presets, no library import).
PRESETS = _shippedPresets()
DEFAULT_PRESET = "default" if "default" in PRESETS else PRESETS[0]
#: Feature engines (ResponseSignatureLib.extraction.ENGINES; listed here to avoid importing the Lib at startup).
ENGINES = ["builtin", "pyradiomics"]

#: Table node attribute names (shared with LesionAggregate and NomogramScore).
PROVENANCE_ATTRIBUTE = "RadiomicsResponse.Provenance"
RECIST_ATTRIBUTE = "RadiomicsResponse.RECIST"
WATERFALL_TABLE_REFERENCE = "RadiomicsResponse.WaterfallTable"
WATERFALL_CHART_REFERENCE = "RadiomicsResponse.WaterfallChart"
WATERFALL_NEW_TABLE_REFERENCE = "RadiomicsResponse.WaterfallNewLesions"
#: Attribute Slicer's DICOM module (DICOMScalarVolumePlugin) sets on a volume it loads: the SOP Instance
#: UIDs of its slices, space-separated (Slicer 5.8.1 and 5.10.0).
DICOM_INSTANCE_UIDS_ATTRIBUTE = "DICOM.instanceUIDs"


#
# ResponseSignature
#


class ResponseSignature(ScriptedLoadableModule):
    """Per-lesion delta-radiomics and RECIST 1.1 response between a baseline and a follow-up scan."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Response Signature")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = []
        self.parent.contributors = ["RadiomicsResponse developers"]
        self.parent.helpText = _("""
Measures every segmented lesion on a baseline and a follow-up CT: RECIST diameters, volume, mean HU
and radiomic features at each time point, their change, the matching of lesions across time points
and the patient's RECIST 1.1 response. The result is a lesion table (one row per lesion) and a
waterfall chart of the change in diameter. A response signature model file can then score each
lesion.
See the <a href="{url}#responsesignature">module documentation</a>.
""").format(url=DOCUMENTATION_URL)
        self.parent.acknowledgementText = _("""
Developed by the RadiomicsResponse developers. The delta-radiomics workflow follows
Dercle L. et al., Radiomics response signature for identification of metastatic colorectal cancer
sensitive to therapies targeting EGFR pathway, J Natl Cancer Inst 2020;112(9):902-912; the lesion-level
signature averaged per patient follows Ligero M. et al., A CT-based radiomics signature is associated
with response to immune checkpoint inhibitors in advanced solid tumors, Radiology 2021;299(1):109-119.
Radiomic features follow the PyRadiomics definitions (van Griethuysen J.J.M. et al., Cancer Research 2017).
""")

        # Register the sample case once the application has started (it is generated on first use).
        slicer.app.connect("startupCompleted()", registerSampleData)


def registerSampleData():
    """Add the synthetic sample case to the Sample Data module (once, also after a module reload)."""
    from RadiomicsResponseSlicerUtils.sampledata import registerSampleData as register

    register()


#
# ResponseSignatureParameterNode
#


@parameterNodeWrapper
class ResponseSignatureParameterNode:
    """
    The parameters of the Response Signature module.

    baselineVolume - CT at baseline.
    baselineSegmentation - lesions at baseline, one segment per lesion (segment name = lesion id).
    followupVolume - CT at follow-up.
    followupSegmentation - lesions at follow-up.
    patientId - written into the patient_id column of the lesion table.
    preset - feature-extraction settings shipped with the extension (ignored if a parameter file is given).
    toleranceMm - lesions of the two time points whose centroids are closer than this are the same lesion.
    engine - feature engine: builtin (numpy, no compiled code) or pyradiomics (if installed).
    onlyModelFeatures - compute only the features the chosen signature model reads (its own settings narrowed
        to its inputs): the signature's score in a fraction of the time of the whole preset.
    outputTable - the lesion table (one row per lesion).
    modelInputTable - the table a signature model scores: the lesion table (lesion-level models) or a
        patient table made by the Lesion Aggregate module (patient-level models).
    modelOutputTable - the model's score and class for each row of modelInputTable.
    """

    baselineVolume: vtkMRMLScalarVolumeNode
    baselineSegmentation: vtkMRMLSegmentationNode
    followupVolume: vtkMRMLScalarVolumeNode
    followupSegmentation: vtkMRMLSegmentationNode
    patientId: str = "patient"
    preset: Annotated[str, Choice(PRESETS)] = DEFAULT_PRESET
    toleranceMm: Annotated[float, WithinRange(0.0, 500.0)] = 15.0
    engine: Annotated[str, Choice(ENGINES)] = "builtin"
    onlyModelFeatures: bool = False
    outputTable: vtkMRMLTableNode
    modelInputTable: vtkMRMLTableNode
    modelOutputTable: vtkMRMLTableNode


#
# ResponseSignatureWidget
#


class ResponseSignatureWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Binds the GUI to the parameter node and calls ResponseSignatureLogic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)  # needed for parameter node observation
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._cancelRequested = False
        self._busy = False

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/ResponseSignature.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = ResponseSignatureLogic()

        # File pickers are not stored in the parameter node (an empty path would read back as ".").
        self.ui.parameterFilePathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.parameterFilePathLineEdit.nameFilters = [_("PyRadiomics parameter file (*.yaml *.yml *.json)")]
        self.ui.parameterFilePathLineEdit.settingKey = "RadiomicsResponse/ParameterFile"
        self.ui.modelPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.modelPathLineEdit.nameFilters = [_("Response signature model (*.json)")]
        self.ui.modelPathLineEdit.settingKey = "RadiomicsResponse/SignatureModel"
        self.ui.dicomOutputPathLineEdit.filters = ctk.ctkPathLineEdit.Dirs | ctk.ctkPathLineEdit.Writable
        self.ui.dicomOutputPathLineEdit.settingKey = "RadiomicsResponse/DicomOutputFolder"
        self.ui.progressBar.hide()
        self.ui.cancelButton.enabled = False
        self._showRecist(None)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.loadSampleButton.connect("clicked(bool)", self.onLoadSampleButton)
        self.ui.applyModelButton.connect("clicked(bool)", self.onApplyModelButton)
        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self._checkCanApply)
        self.ui.exportDicomButton.connect("clicked(bool)", self.onExportDicomButton)
        self.ui.dicomOutputPathLineEdit.connect("currentPathChanged(QString)", self._checkCanApply)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.removeObservers()

    def enter(self) -> None:
        """Called each time the user opens this module."""
        self.initializeParameterNode()

    def exit(self) -> None:
        """Called each time the user opens a different module."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)

    def onSceneStartClose(self, caller, event) -> None:
        """Called just before the scene is closed."""
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        """Called just after the scene is closed."""
        if self.parent.isEntered:
            self.initializeParameterNode()

    def onReload(self) -> None:
        """Reload the libraries too (this one's, those downstream of it, the shared Slicer helpers)."""
        from RadiomicsResponseSlicerUtils.reloading import reloadLibraries

        reloadLibraries("ResponseSignatureLib", withUtils=True)
        ScriptedLoadableModuleWidget.onReload(self)

    def initializeParameterNode(self) -> None:
        """Ensure parameter node exists and observed."""
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode: Optional[ResponseSignatureParameterNode]) -> None:
        """Set and observe the parameter node, and connect it to the GUI."""
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._checkCanApply)
            self._checkCanApply()

    def _checkCanApply(self, caller=None, event=None) -> None:
        p = self._parameterNode
        ready = bool(p and p.baselineVolume and p.baselineSegmentation and p.followupVolume and p.followupSegmentation)
        self.ui.applyButton.enabled = ready and not self._busy
        self.ui.applyButton.toolTip = (_("Measure the lesions at both time points and compute the response")
                                       if ready else _("Select the baseline and follow-up volumes and segmentations"))
        modelReady = bool(p and p.modelInputTable and self.ui.modelPathLineEdit.currentPath)
        self.ui.applyModelButton.enabled = modelReady and not self._busy
        self.ui.applyModelButton.toolTip = (_("Score every row of the selected table with the model")
                                            if modelReady else _("Choose a model file and the table to score first"))
        exportProblem = self.logic.dicomExportProblem(p.baselineVolume, p.followupVolume) if p else _("No parameters yet.")
        if not exportProblem and not self.ui.dicomOutputPathLineEdit.currentPath:
            exportProblem = _("Choose the DICOM output folder first.")
        self.ui.exportDicomButton.enabled = not exportProblem and not self._busy
        self.ui.exportDicomButton.toolTip = exportProblem or _(
            "Write a DICOM SEG of the lesions per time point and the follow-up's DICOM SR (TID 1500) with every "
            "lesion's measurements and features, referencing the CT series they were measured on")

    def _setBusy(self, busy: bool) -> None:
        self._busy = busy
        self._cancelRequested = False
        self.ui.cancelButton.enabled = busy
        self.ui.progressBar.visible = busy
        self.ui.progressBar.value = 0
        self._checkCanApply()

    def _onProgress(self, fraction: float, message: str) -> None:
        self.ui.progressBar.value = int(round(100 * fraction))
        self.ui.statusLabel.text = message
        slicer.app.processEvents()  # keep the GUI (and the Cancel button) responsive

    def _ensureRequirements(self) -> None:
        from RadiomicsResponseSlicerUtils.dependencies import ensurePythonRequirements

        ensurePythonRequirements(self.resourcePath("ResponseSignatureRequirements.txt"), requester="RadiomicsResponse")

    def onCancelButton(self) -> None:
        """Ask the running computation to stop at the next lesion."""
        self._cancelRequested = True
        self.ui.statusLabel.text = _("Cancelling...")

    def onLoadSampleButton(self) -> None:
        """Load the synthetic sample case and select it as input."""
        with slicer.util.tryWithErrorDisplay(_("Failed to load the sample case."), waitCursor=True):
            from RadiomicsResponseSlicerUtils.sampledata import loadSampleCase

            baselineVolume, baselineSegmentation, followupVolume, followupSegmentation = loadSampleCase()
            p = self._parameterNode
            p.baselineVolume = baselineVolume
            p.baselineSegmentation = baselineSegmentation
            p.followupVolume = followupVolume
            p.followupSegmentation = followupSegmentation
            p.patientId = "synthetic-1"

    def onApplyButton(self) -> None:
        """Run processing when user clicks "Apply" button."""
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the lesion table."), waitCursor=True):
            self._ensureRequirements()
            p = self._parameterNode
            if not p.outputTable:
                p.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", slicer.mrmlScene.GenerateUniqueName(_("Lesion table")))
            parameterFile = self.ui.parameterFilePathLineEdit.currentPath
            params = parameterFile if parameterFile else p.preset
            if p.onlyModelFeatures:
                params = self.logic.modelExtractionParams(self.ui.modelPathLineEdit.currentPath,
                                                          params if parameterFile else None)
            self._setBusy(True)
            try:
                result = self.logic.process(
                    p.baselineVolume, p.baselineSegmentation, p.followupVolume, p.followupSegmentation,
                    params=params, patientId=p.patientId, toleranceMm=p.toleranceMm, engine=p.engine, outputTable=p.outputTable,
                    progress=self._onProgress, shouldCancel=lambda: self._cancelRequested)
            finally:
                self._setBusy(False)
            if not p.modelInputTable:
                p.modelInputTable = p.outputTable
            if parameterFile:
                self.ui.parameterFilePathLineEdit.addCurrentPathToHistory()
            self._showRecist(result.recist)
            self._showErrors(result.errors)
            self.ui.statusLabel.text = _("Lesion table: {count} lesions.").format(count=len(result.table))
            self.showTable(p.outputTable)
            if self.logic.lastWaterfallChart is not None:
                self.showChart(self.logic.lastWaterfallChart)

    def onApplyModelButton(self) -> None:
        """Score the rows of the selected table (lesions or patients) with the chosen model file."""
        with slicer.util.tryWithErrorDisplay(_("Failed to apply the model."), waitCursor=True):
            self._ensureRequirements()
            p = self._parameterNode
            if not p.modelOutputTable:
                p.modelOutputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", slicer.mrmlScene.GenerateUniqueName(_("Model scores")))
            scores, model, patientScore = self.logic.applyModel(
                self.ui.modelPathLineEdit.currentPath, p.modelInputTable, outputTable=p.modelOutputTable)
            self.ui.modelPathLineEdit.addCurrentPathToHistory()
            self.ui.modelCardTextEdit.plainText = self.logic.modelCardText(model)
            if patientScore is None:
                self.ui.patientScoreValueLabel.text = _("not defined by this model")
            elif model.get("level") == "patient":
                self.ui.patientScoreValueLabel.text = f"{patientScore:.3f}"
            else:
                self.ui.patientScoreValueLabel.text = _("{score:.3f} (mean of {count} lesion scores)").format(
                    score=patientScore, count=len(scores))
            self.showTable(p.modelOutputTable)

    def onExportDicomButton(self) -> None:
        """Write the lesion table of the last Apply as DICOM SEGs + SR into the chosen folder."""
        with slicer.util.tryWithErrorDisplay(_("Failed to export DICOM SEG + SR."), waitCursor=True):
            from RadiomicsResponseSlicerUtils.dependencies import ensurePythonRequirements

            ensurePythonRequirements(self.resourcePath("ResponseSignatureDicomRequirements.txt"), requester="RadiomicsResponse")
            paths = self.logic.exportDicom(self.ui.dicomOutputPathLineEdit.currentPath)
            self.ui.dicomOutputPathLineEdit.addCurrentPathToHistory()
            self.ui.statusLabel.text = _("DICOM written: {files}").format(files=", ".join(paths.values()))

    def _showRecist(self, recist: Optional[dict]) -> None:
        def number(key, suffix):
            value = (recist or {}).get(key)
            try:
                value = float(value)
            except (TypeError, ValueError):
                return "-"
            return "-" if value != value else f"{value:.1f}{suffix}"

        self.ui.recistCategoryValueLabel.text = str((recist or {}).get("recist_category") or "-")
        self.ui.percentChangeValueLabel.text = number("percent_change_from_baseline", " %")
        self.ui.baselineSumValueLabel.text = number("baseline_sum_mm", " mm")
        self.ui.followupSumValueLabel.text = number("followup_sum_mm", " mm")
        self.ui.recistReasonValueLabel.text = str((recist or {}).get("recist_reason") or "")

    def _showErrors(self, errors: list) -> None:
        lines = []
        for error in errors or []:
            where = str(error.get("lesion_id") or _("case"))
            if error.get("timepoint"):
                where += f" ({error['timepoint']})"
            lines.append(f"{where}: {error.get('message', '')}")
        self.ui.messagesTextEdit.plainText = "\n".join(lines) if lines else _("All lesions processed.")

    @staticmethod
    def showTable(tableNode) -> None:
        """Switch to a layout with a table view and show ``tableNode`` (only when there is a main window)."""
        layoutManager = slicer.app.layoutManager()
        if layoutManager is None or tableNode is None:
            return
        layoutManager.setLayout(slicer.modules.tables.logic().GetLayoutWithTable(layoutManager.layout))
        tableNode.SetUseColumnTitleAsColumnHeader(True)
        slicer.app.applicationLogic().GetSelectionNode().SetActiveTableID(tableNode.GetID())
        slicer.app.applicationLogic().PropagateTableSelection()

    @staticmethod
    def showChart(chartNode) -> None:
        """Show ``chartNode`` in the layout's plot view (only when there is a main window)."""
        if slicer.app.layoutManager() is None or chartNode is None:
            return
        slicer.modules.plots.logic().ShowChartInLayout(chartNode)


#
# ResponseSignatureLogic
#


class ResponseSignatureLogic(ScriptedLoadableModuleLogic):
    """Adapter between MRML nodes and ResponseSignatureLib: nodes in, Lib call, table and plot nodes out.

    Usable from the Python console and from scripts without the widget, for example::

        logic = ResponseSignatureLogic()
        result = logic.process(baselineCT, baselineSeg, followupCT, followupSeg, params="ibsi", patientId="P01")
        print(result.recist["recist_category"])

    No dialogs, no layout changes; errors are raised as exceptions with a message that says what to fix.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated. Can be used for initializing member variables."""
        ScriptedLoadableModuleLogic.__init__(self)
        #: The lesion table node written by the last call of process().
        self.lastTableNode = None
        #: The waterfall chart node made by the last call of process() (None if no lesion could be charted).
        self.lastWaterfallChart = None
        #: The LesionTableResult of the last call of process() (what exportDicom() writes).
        self.lastResult = None
        #: time point -> (volume node, segmentation node, digest of the segments) of the last process().
        self._lastInputs = {}

    def getParameterNode(self):
        return ResponseSignatureParameterNode(super().getParameterNode())

    @staticmethod
    def presetNames() -> list:
        """Names of the feature-extraction presets that can be passed as ``params``."""
        return list(PRESETS)

    @staticmethod
    def _checkInputs(baselineVolume, baselineSegmentation, followupVolume, followupSegmentation) -> None:
        missing = [label for label, node in (
            (_("baseline volume"), baselineVolume),
            (_("baseline segmentation"), baselineSegmentation),
            (_("follow-up volume"), followupVolume),
            (_("follow-up segmentation"), followupSegmentation)) if node is None]
        if missing:
            raise ValueError(_("Select the {missing} before computing the lesion table.").format(missing=", ".join(missing)))
        for label, segmentationNode in ((_("baseline"), baselineSegmentation), (_("follow-up"), followupSegmentation)):
            if segmentationNode.GetSegmentation().GetNumberOfSegments() == 0:
                raise ValueError(_("The {timepoint} segmentation '{name}' has no segments. Segment the lesions "
                                   "(one segment per lesion) in the Segment Editor first.").format(
                    timepoint=label, name=segmentationNode.GetName()))
        for label, volumeNode in ((_("baseline"), baselineVolume), (_("follow-up"), followupVolume)):
            if volumeNode.GetImageData() is None:
                raise ValueError(_("The {timepoint} volume '{name}' has no image data.").format(
                    timepoint=label, name=volumeNode.GetName()))

    def process(self,
                baselineVolume: vtkMRMLScalarVolumeNode,
                baselineSegmentation: vtkMRMLSegmentationNode,
                followupVolume: vtkMRMLScalarVolumeNode,
                followupSegmentation: vtkMRMLSegmentationNode,
                params=None,
                patientId: str = "patient",
                toleranceMm: float = 15.0,
                engine: str = "builtin",
                outputTable: Optional[vtkMRMLTableNode] = None,
                progress: Optional[Callable[[float, str], None]] = None,
                shouldCancel: Optional[Callable[[], bool]] = None,
                createChart: bool = True):
        """
        Measure every lesion at both time points, match them and compute RECIST 1.1 and feature changes.

        :param baselineVolume: CT at baseline.
        :param baselineSegmentation: lesions at baseline, one segment per lesion; the segment name is the lesion id.
        :param followupVolume: CT at follow-up.
        :param followupSegmentation: lesions at follow-up.
        :param params: feature-extraction settings: a preset name (see presetNames()), the path of a
            PyRadiomics parameter file (.yaml), or a parameter dict. None means the default preset.
        :param patientId: value of the patient_id column.
        :param toleranceMm: lesions whose centroids are closer than this (mm) are matched across time points.
        :param engine: feature engine, "builtin" (default) or "pyradiomics" (must be installed).
        :param outputTable: table node to write the lesion table into; a new one is added to the scene if None.
        :param progress: optional callback ``progress(fraction, message)``.
        :param shouldCancel: optional callback returning True to stop (raises OperationCancelled).
        :param createChart: also make a waterfall chart of every lesion's change in RECIST diameter.
        :return: the Lib's LesionTableResult (``table`` DataFrame, ``recist`` dict, ``errors`` list,
            ``provenance`` dict). The table node written is ``self.lastTableNode``, the chart
            ``self.lastWaterfallChart``. Provenance and RECIST are stored as JSON table attributes
            ``RadiomicsResponse.Provenance`` and ``RadiomicsResponse.RECIST``.
        """
        import time

        self._checkInputs(baselineVolume, baselineSegmentation, followupVolume, followupSegmentation)

        from ResponseSignatureLib import mrml_bridge, pipeline
        from ResponseSignatureLib.progress import report, scaled

        startTime = time.time()
        logging.info("ResponseSignature: processing started")
        report(progress, 0.0, _("Reading the baseline images"))
        baselineImage = mrml_bridge.sitk_from_volume_node(baselineVolume)
        baselineSegments = mrml_bridge.segments_from_segmentation_node(baselineSegmentation, baselineVolume)
        report(progress, 0.05, _("Reading the follow-up images"))
        followupImage = mrml_bridge.sitk_from_volume_node(followupVolume)
        followupSegments = mrml_bridge.segments_from_segmentation_node(followupSegmentation, followupVolume)

        result = pipeline.compute_lesion_table(
            {"baseline": (baselineImage, baselineSegments), "followup": (followupImage, followupSegments)},
            params=params if params is not None else DEFAULT_PRESET,
            patient_id=patientId,
            tolerance_mm=toleranceMm,
            engine=engine,
            progress=scaled(progress, 0.1, 0.95),
            should_cancel=shouldCancel,
        )

        report(progress, 0.95, _("Writing the lesion table"))
        name = outputTable.GetName() if outputTable is not None else _("{patient} lesion table").format(patient=patientId)
        tableNode = mrml_bridge.table_node_from_dataframe(
            slicer.mrmlScene, result.table, name=name, node=outputTable,
            attributes={
                PROVENANCE_ATTRIBUTE: json.dumps(result.provenance, default=str),
                RECIST_ATTRIBUTE: json.dumps(result.recist, default=str),
            })
        self.lastTableNode = tableNode
        self.lastWaterfallChart = self.createWaterfallChart(result.table, tableNode) if createChart else None
        self._rememberInputs(result, {"baseline": (baselineVolume, baselineSegmentation, baselineImage, baselineSegments),
                                      "followup": (followupVolume, followupSegmentation, followupImage, followupSegments)})

        for error in result.errors:
            logging.warning(f"ResponseSignature: lesion {error.get('lesion_id')} ({error.get('timepoint')}): {error.get('message')}")
        report(progress, 1.0, _("Done"))
        logging.info(f"ResponseSignature: processing completed in {time.time() - startTime:.2f} seconds")
        return result

    def _rememberInputs(self, result, inputs: dict) -> None:
        """Keep what exportDicom() needs: the result, the nodes, and a digest of the lesions measured."""
        from ResponseSignatureLib.dicom_export import segments_digest

        self.lastResult = result
        self._lastInputs = {timepoint: (volumeNode, segmentationNode, segments_digest(segments, image))
                            for timepoint, (volumeNode, segmentationNode, image, segments) in inputs.items()}

    def dicomExportProblem(self, baselineVolume=None, followupVolume=None) -> Optional[str]:
        """
        Why exportDicom() cannot run now, in words for the button's tooltip; None when it can.

        :param baselineVolume: the baseline volume selected now (None: that of the last process()).
        :param followupVolume: the follow-up volume selected now (None: that of the last process()).
        """
        last = {timepoint: inputs[0] for timepoint, inputs in self._lastInputs.items()}
        volumes = {"baseline": baselineVolume or last.get("baseline"), "followup": followupVolume or last.get("followup")}
        for timepoint, label in (("baseline", _("baseline")), ("followup", _("follow-up"))):
            volumeNode = volumes[timepoint]
            if volumeNode is not None and not self.dicomInstanceUids(volumeNode):
                return self._notFromDicom(label, volumeNode)
        if self.lastResult is None:
            return _("Compute the lesion table first (Apply).")
        if any(volumes[timepoint] is not last[timepoint] for timepoint in last):
            return _("The lesion table was computed from other volumes than those selected: Apply again.")
        return None

    @staticmethod
    def _notFromDicom(label: str, volumeNode) -> str:
        return _("The {timepoint} volume '{name}' was not loaded from DICOM (Slicer's DICOM module): a DICOM SEG and SR "
                 "must reference the CT images of the PACS. Load the CT series with the DICOM module, segment on it "
                 "and Apply.").format(timepoint=label, name=volumeNode.GetName())

    @staticmethod
    def dicomInstanceUids(volumeNode) -> list:
        """SOP Instance UIDs of the DICOM slices a volume was loaded from (empty if not loaded from DICOM)."""
        return (volumeNode.GetAttribute(DICOM_INSTANCE_UIDS_ATTRIBUTE) or "").split()

    def dicomSeriesFiles(self, volumeNode) -> list:
        """
        The files of the DICOM instances a volume was loaded from, found in Slicer's DICOM database.

        :raises ValueError: if the volume was not loaded from DICOM, or its files are no longer in the
            database or on disk.
        """
        uids = self.dicomInstanceUids(volumeNode)
        if not uids:
            raise ValueError(self._notFromDicom(_("selected"), volumeNode))
        database = getattr(slicer, "dicomDatabase", None)
        if database is None or not database.isOpen:
            raise ValueError(_("Slicer's DICOM database is not open: open it in the DICOM module, then export again."))
        files = [database.fileForInstance(uid) for uid in uids]
        missing = [uid for uid, path in zip(uids, files) if not path or not os.path.isfile(path)]
        if missing:
            raise ValueError(_("{count} of the {total} DICOM files of '{name}' are no longer in Slicer's DICOM database or on "
                               "disk (first: instance {uid}); import the series again.").format(
                count=len(missing), total=len(uids), name=volumeNode.GetName(), uid=missing[0]))
        return files

    def exportDicom(self, outputDir: str, features=None) -> dict:
        """
        Write the lesion table of the last process() as DICOM: a SEG of the lesions per time point and
        the follow-up's TID 1500 SR (measurements, features and their change per lesion, RECIST 1.1).

        Both volumes must have been loaded from DICOM (see dicomExportProblem()); the objects reference
        their CT instances, found in Slicer's DICOM database. The lesions written are the segments
        process() measured: if a segmentation was edited since, export refuses (Apply again).

        :param outputDir: folder for baseline_seg.dcm, followup_seg.dcm and followup_sr.dcm.
        :param features: feature names or shell patterns the SR reports (None: every feature of the table).
        :return: {'baseline_seg', 'followup_seg', 'sr'} -> path of the file written.
        """
        if not outputDir:
            raise ValueError(_("Choose the DICOM output folder first."))
        problem = self.dicomExportProblem()
        if problem:
            raise ValueError(problem)
        from ResponseSignatureLib import dicom_export, mrml_bridge

        sources = {}
        for timepoint, (volumeNode, segmentationNode, digest) in self._lastInputs.items():
            image = mrml_bridge.sitk_from_volume_node(volumeNode)
            segments = mrml_bridge.segments_from_segmentation_node(segmentationNode, volumeNode)
            if dicom_export.segments_digest(segments, image) != digest:
                raise ValueError(_("The segmentation '{segmentation}' or the volume '{volume}' changed since the lesion "
                                   "table was computed: Apply again, then export.").format(
                    segmentation=segmentationNode.GetName(), volume=volumeNode.GetName()))
            sources[timepoint] = dicom_export.TimepointSource(image, segments, self.dicomSeriesFiles(volumeNode))
        paths = dicom_export.export_sources(self.lastResult, sources, outputDir, features=features)
        return {name: str(path) for name, path in paths.items()}

    def createWaterfallChart(self, lesionTable, lesionTableNode):
        """Waterfall chart of every lesion's change in RECIST diameter (short axis for lymph nodes).

        Lesions in ``lesion_table.waterfall_series`` order (new ones first, then largest increase
        first; disappeared lesions at -100 %). One bar series per change category present, named
        and coloured as in the report's legend (``lesion_table.WATERFALL_CATEGORIES``), so the
        chart's legend explains the colours; new lesions, which have no percent change, are marked
        by a black diamond on the zero line (series "new lesion (no % change)"), never by a bar.
        Each bar's tooltip names its lesion with its status ("liver_3 (disappeared)").

        The chart's nodes are referenced from ``lesionTableNode`` and replaced on the next run.

        :param lesionTable: lesion table DataFrame (as returned in ``result.table``).
        :param lesionTableNode: the lesion table node the chart belongs to.
        :return: the vtkMRMLPlotChartNode, or None if the table has no lesion to chart.
        """
        from ResponseSignatureLib import mrml_bridge
        from ResponseSignatureLib.lesion_table import WATERFALL_CATEGORIES, WATERFALL_NEW_LABEL, waterfall_series

        self._removeWaterfall(lesionTableNode)
        if lesionTable is None or len(lesionTable) == 0 or "baseline:longest_diameter_mm" not in lesionTable.columns:
            return None
        bars, new = waterfall_series(lesionTable)
        if len(bars) == 0:
            return None
        scene, name = slicer.mrmlScene, lesionTableNode.GetName()
        units = {column: "%" for column in ["diameter_change_percent"] + [c.key for c in WATERFALL_CATEGORIES]}
        barsNode = mrml_bridge.table_node_from_dataframe(scene, bars, name=_("{name} waterfall").format(name=name),
                                                         column_units=units)
        lesionTableNode.SetNodeReferenceID(WATERFALL_TABLE_REFERENCE, barsNode.GetID())
        chartNode = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", _("{name} waterfall chart").format(name=name))
        chartNode.SetTitle(_("Change in RECIST diameter per lesion"))
        chartNode.SetXAxisTitle(_("Lesion (new first, then largest increase first)"))
        chartNode.SetYAxisTitle(_("Change in RECIST diameter (%)"))
        chartNode.SetLegendVisibility(True)
        for category in WATERFALL_CATEGORIES:
            if category.key in bars.columns:
                self._addWaterfallSeries(chartNode, barsNode, category.label, category.colour, category.key)
        if len(new):
            newNode = mrml_bridge.table_node_from_dataframe(
                scene, new, name=_("{name} waterfall new lesions").format(name=name))
            lesionTableNode.SetNodeReferenceID(WATERFALL_NEW_TABLE_REFERENCE, newNode.GetID())
            self._addWaterfallSeries(chartNode, newNode, WATERFALL_NEW_LABEL, "#000000", "marker", xColumn="position")
        changes = bars["diameter_change_percent"].dropna()
        chartNode.SetYAxisRangeAuto(False)
        chartNode.SetYAxisRange(min([-100.0, *changes]) - 5.0, max([50.0, *changes]) + 5.0)  # -100 % always shown
        lesionTableNode.SetNodeReferenceID(WATERFALL_CHART_REFERENCE, chartNode.GetID())
        return chartNode

    @staticmethod
    def _addWaterfallSeries(chartNode, tableNode, name: str, colour: str, yColumn: str, xColumn: Optional[str] = None):
        """A series of the waterfall chart: bars of ``yColumn`` by row (labelled by the ``label``
        column), or, with ``xColumn``, diamond markers without a line at (``xColumn``, ``yColumn``)."""
        series = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", name)
        series.SetAndObserveTableNodeID(tableNode.GetID())
        series.SetYColumnName(yColumn)
        series.SetLabelColumnName("label")
        series.SetColor(*(int(colour[i:i + 2], 16) / 255.0 for i in (1, 3, 5)))
        if xColumn is None:
            series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeBar)
        else:
            series.SetPlotType(slicer.vtkMRMLPlotSeriesNode.PlotTypeScatter)
            series.SetXColumnName(xColumn)
            series.SetMarkerStyle(slicer.vtkMRMLPlotSeriesNode.MarkerStyleDiamond)
            series.SetMarkerSize(14)
            series.SetLineStyle(slicer.vtkMRMLPlotSeriesNode.LineStyleNone)
        chartNode.AddAndObservePlotSeriesNodeID(series.GetID())
        return series

    @staticmethod
    def _removeWaterfall(lesionTableNode) -> None:
        scene = slicer.mrmlScene
        chartNode = lesionTableNode.GetNodeReference(WATERFALL_CHART_REFERENCE)
        if chartNode is not None:
            for index in reversed(range(chartNode.GetNumberOfPlotSeriesNodes())):
                seriesNode = chartNode.GetNthPlotSeriesNode(index)
                if seriesNode is not None:
                    scene.RemoveNode(seriesNode)
            scene.RemoveNode(chartNode)
        for reference in (WATERFALL_TABLE_REFERENCE, WATERFALL_NEW_TABLE_REFERENCE):
            tableNode = lesionTableNode.GetNodeReference(reference)
            if tableNode is not None:
                scene.RemoveNode(tableNode)
            lesionTableNode.RemoveNodeReferenceIDs(reference)

    def modelExtractionParams(self, modelPath: str, params=None) -> dict:
        """
        Extraction settings that compute only the features a signature model reads.

        :param modelPath: path of the model file (JSON).
        :param params: settings to narrow (preset name, parameter file or dict); None = the model's own.
        :return: a parameter dict for ``process(params=...)``.
        """
        if not modelPath:
            raise ValueError(_("Choose the signature model file first (or untick 'Only the model's features')."))
        from ResponseSignatureLib.models import load_model
        from ResponseSignatureLib.signature_features import settings_for_model

        return settings_for_model(load_model(modelPath), params)

    def applyModel(self, modelPath: str, tableNode: vtkMRMLTableNode, outputTable: Optional[vtkMRMLTableNode] = None):
        """
        Score every row of a table with a response signature model file.

        :param modelPath: path of the model file (JSON, see the model file documentation).
        :param tableNode: a lesion table (from process()) for lesion-level models, or a patient table
            (from the Lesion Aggregate module) for patient-level models.
        :param outputTable: table node for the scores (id columns, score, class); new node if None.
        :return: (scores DataFrame, model dict, patient score or None). The patient score is the
            mean of the lesion scores when a lesion-level model says ``"patient_score": "mean_of_lesions"``,
            or the score itself when a patient-level model scores a one-patient table.
        """
        if not modelPath:
            raise ValueError(_("Choose a model file (.json) first."))
        if not os.path.isfile(modelPath):
            raise ValueError(_("The model file {path} does not exist.").format(path=modelPath))
        if tableNode is None or tableNode.GetNumberOfRows() == 0:
            raise ValueError(_("The table to score is empty: compute the lesion table first (Apply)."))

        from ResponseSignatureLib import mrml_bridge
        from ResponseSignatureLib.models import load_model
        from ResponseSignatureLib.models.inference import apply_model

        model = load_model(modelPath)
        table = mrml_bridge.dataframe_from_table_node(tableNode)
        level = model.get("level")
        if level == "patient" and "lesion_id" in table.columns:
            raise ValueError(_("'{model}' is a patient-level model but '{table}' is a lesion table. Combine the lesions "
                               "into a patient table with the Lesion Aggregate module, then score that table.").format(
                model=model.get("name"), table=tableNode.GetName()))
        if level == "lesion" and "lesion_id" not in table.columns:
            raise ValueError(_("'{model}' is a lesion-level model but '{table}' has no lesion_id column: "
                               "score a lesion table computed by this module.").format(model=model.get("name"), table=tableNode.GetName()))
        scores = apply_model(model, table)
        patientScore = None
        if level != "patient" and model.get("patient_score") == "mean_of_lesions" and len(scores) > 0:
            # Mean of the lesion probabilities (as ResponseSignatureLib.models.inference.patient_scores).
            patientScore = float(scores["score"].astype(float).mean())
        elif level == "patient" and len(scores) == 1:
            patientScore = float(scores["score"].iloc[0])
        name = outputTable.GetName() if outputTable is not None else _("{name} scores").format(name=tableNode.GetName())
        mrml_bridge.table_node_from_dataframe(
            slicer.mrmlScene, scores, name=name, node=outputTable,
            attributes={"RadiomicsResponse.Model": json.dumps(
                {"name": model.get("name"), "version": model.get("version"), "sha256": model.get("sha256"),
                 "path": modelPath, "patient_score": patientScore}, default=str)})
        return scores, model, patientScore

    @staticmethod
    def modelCardText(model: dict) -> str:
        """Plain-text rendering of a model's name, version and model card, for display."""
        lines = [f"{model.get('name', _('(unnamed model)'))} {model.get('version', '')}".strip()]

        def add(value, indent):
            if isinstance(value, dict):
                for key, item in value.items():
                    if isinstance(item, (dict, list)):
                        lines.append(f"{indent}{key}:")
                        add(item, indent + "  ")
                    else:
                        lines.append(f"{indent}{key}: {item}")
            elif isinstance(value, list):
                for item in value:
                    if isinstance(item, (dict, list)):
                        lines.append(f"{indent}-")
                        add(item, indent + "  ")
                    else:
                        lines.append(f"{indent}- {item}")
            elif value is not None:
                lines.append(f"{indent}{value}")

        add(model.get("model_card") or {}, "")
        return "\n".join(lines)


#
# ResponseSignatureTest
#


class ResponseSignatureTest(ScriptedLoadableModuleTest):
    """Runs the logic on synthetic spheres whose volume, diameter and RECIST response are known exactly.

    The sphere test needs the packages of Resources/ResponseSignatureRequirements.txt; in testing mode
    (ctest, the extensions factory) it is skipped, naming them, when they are not installed.
    """

    def setUp(self):
        """Do whatever is needed to reset the state - typically a scene clear will be enough."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run as few or as many tests as needed here."""
        from RadiomicsResponseSlicerUtils.dependencies import runSelfTests

        runSelfTests(self, [self.test_ResponseSignature_InputErrors, self.test_ResponseSignature_SphereShrinkage])

    def _requirePackages(self):
        from RadiomicsResponseSlicerUtils.dependencies import prepareSelfTest, requirementsPath

        prepareSelfTest(self, requirementsPath("ResponseSignature", os.path.dirname(os.path.abspath(__file__))))

    @staticmethod
    def _sphereCase(name: str, radiusMm: float, spacingMm: float = 1.0, size: int = 48):
        """A CT-like volume with one spherical lesion of radius ``radiusMm`` at its centre, and its segmentation."""
        import numpy as np
        import SimpleITK as sitk

        from ResponseSignatureLib import mrml_bridge
        from ResponseSignatureLib.imageio import Segment

        rng = np.random.default_rng(20200101)
        k, j, i = np.indices((size, size, size), dtype=float)
        centre = (size - 1) / 2.0
        distance = np.sqrt((i - centre) ** 2 + (j - centre) ** 2 + (k - centre) ** 2) * spacingMm
        mask = (distance <= radiusMm).astype(np.uint8)
        image = np.where(mask > 0, 60.0, -20.0) + rng.normal(0.0, 8.0, mask.shape)
        ijkToRas = np.diag([spacingMm, spacingMm, spacingMm, 1.0])
        volumeNode = slicer.util.addVolumeFromArray(image.astype(np.int16), ijkToRAS=ijkToRas, name=f"{name} CT")
        maskImage = sitk.GetImageFromArray(mask)
        maskImage.CopyInformation(mrml_bridge.sitk_from_volume_node(volumeNode))
        segmentationNode = mrml_bridge.segmentation_node_from_segments(
            slicer.mrmlScene, [Segment("lesion_1", maskImage)], volumeNode, name=f"{name} lesions")
        return volumeNode, segmentationNode

    def test_ResponseSignature_InputErrors(self):
        """Missing inputs and empty segmentations are rejected with a message naming what is missing."""
        logic = ResponseSignatureLogic()
        with self.assertRaises(ValueError):
            logic.process(None, None, None, None)
        volumeNode, segmentationNode = self._sphereCase("baseline", 10.0, size=32)
        emptySegmentation = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLSegmentationNode", "empty")
        with self.assertRaises(ValueError) as context:
            logic.process(volumeNode, segmentationNode, volumeNode, emptySegmentation)
        self.assertIn("no segments", str(context.exception))

    def test_ResponseSignature_SphereShrinkage(self):
        """A sphere shrinking from 15 mm to 9 mm radius: volume, diameter and RECIST partial response."""
        import math

        self._requirePackages()
        self.delayDisplay("Building synthetic baseline and follow-up spheres")
        baselineRadius, followupRadius = 15.0, 9.0
        baselineVolume, baselineSegmentation = self._sphereCase("baseline", baselineRadius)
        followupVolume, followupSegmentation = self._sphereCase("followup", followupRadius)

        logic = ResponseSignatureLogic()
        progressCalls = []
        result = logic.process(baselineVolume, baselineSegmentation, followupVolume, followupSegmentation,
                               params="default", patientId="sphere", toleranceMm=10.0,
                               progress=lambda fraction, message: progressCalls.append(fraction))
        self.delayDisplay("Lesion table computed")

        table = result.table
        self.assertEqual(len(table), 1, "one lesion, matched across the two time points")
        row = table.iloc[0]
        self.assertEqual(str(row["status"]), "matched")
        for timepoint, radius in (("baseline", baselineRadius), ("followup", followupRadius)):
            expectedVolumeMl = 4.0 / 3.0 * math.pi * radius ** 3 / 1000.0
            volumeMl = float(row[f"{timepoint}:volume_ml"])
            self.assertAlmostEqual(volumeMl, expectedVolumeMl, delta=0.03 * expectedVolumeMl,
                                   msg=f"{timepoint} volume {volumeMl} ml vs analytic {expectedVolumeMl} ml")
            diameter = float(row[f"{timepoint}:longest_diameter_mm"])
            self.assertAlmostEqual(diameter, 2 * radius, delta=1.0,
                                   msg=f"{timepoint} longest diameter {diameter} mm vs analytic {2 * radius} mm")

        # Sum of diameters 30 mm -> 18 mm: -40 %, a partial response (<= -30 %).
        self.assertEqual(result.recist["recist_category"], "PR")
        self.assertAlmostEqual(float(result.recist["percent_change_from_baseline"]), -40.0, delta=5.0)

        # The table node holds the same rows, with provenance attached.
        tableNode = logic.lastTableNode
        self.assertIsNotNone(tableNode)
        self.assertEqual(tableNode.GetNumberOfRows(), 1)
        self.assertTrue(tableNode.GetAttribute(PROVENANCE_ATTRIBUTE))
        self.assertEqual(json.loads(tableNode.GetAttribute(RECIST_ATTRIBUTE))["recist_category"], "PR")
        self.assertTrue(progressCalls and progressCalls[-1] == 1.0)
        self.delayDisplay("Test passed")
