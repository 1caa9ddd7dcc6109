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

from slicer import vtkMRMLTableNode

# No "from __future__ import annotations" here: see the note in ResponseSignature.py
# (annotations stay Python 3.9-evaluable; Optional[...] instead of "X | None").

DOCUMENTATION_URL = "https://github.com/radiomics-response/SlicerRadiomicsResponse"

#: Ways of combining the lesions of one patient (implemented in LesionAggregateLib.aggregate).
METHODS = ["volume_weighted", "mean", "median", "max", "min", "largest", "sum", "count", "vote"]

AGGREGATION_ATTRIBUTE = "RadiomicsResponse.Aggregation"
PROVENANCE_ATTRIBUTE = "RadiomicsResponse.Provenance"


#
# LesionAggregate
#


class LesionAggregate(ScriptedLoadableModule):
    """Combines the lesions of each patient into one row of a patient table, and runs whole cohorts."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Lesion Aggregate")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["ResponseSignature"]
        self.parent.contributors = ["RadiomicsResponse developers"]
        self.parent.helpText = _("""
Turns lesion tables (one row per lesion, from the Response Signature module) into a patient table
(one row per patient). Lesions are combined column by column: weighted by lesion volume, mean,
median, maximum, minimum, value of the largest lesion, sum, or a size-weighted vote of lesion
classes. The cohort section runs the whole lesion-table computation for many patients listed in a
manifest file, writing each case as soon as it is done, so that an interrupted run resumes.
See the <a href="{url}#lesionaggregate">module documentation</a>.
""").format(url=DOCUMENTATION_URL)
        self.parent.acknowledgementText = _("""
Developed by the RadiomicsResponse developers. Volume-weighted averaging of lesion features follows
Dercle L. et al., J Natl Cancer Inst 2020;112(9):902-912; the mean of lesion-level scores follows
Ligero M. et al., Radiology 2021;299(1):109-119; the size-weighted vote follows Zhou et al.,
eClinicalMedicine 2023.
""")


#
# LesionAggregateParameterNode
#


@parameterNodeWrapper
class LesionAggregateParameterNode:
    """
    The parameters of the Lesion Aggregate module.

    method - how the lesions of a patient are combined (see METHODS).
    columns - comma-separated lesion-table columns to aggregate; empty means every numeric column.
    location - only lesions at this location (liver, lung, node, ...); empty means all lesions.
    outputTable - the patient table (one row per patient).
    jobs - number of cases processed in parallel by a cohort run.
    """

    method: Annotated[str, Choice(METHODS)] = "volume_weighted"
    columns: str = ""
    location: str = ""
    outputTable: vtkMRMLTableNode
    jobs: Annotated[int, WithinRange(1, 64)] = 1


#
# LesionAggregateWidget
#


class LesionAggregateWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Binds the GUI to the parameter node and calls LesionAggregateLogic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._cancelRequested = False
        self._busy = False

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LesionAggregate.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = LesionAggregateLogic()

        self.ui.manifestPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.manifestPathLineEdit.nameFilters = [_("Cohort manifest (*.csv)")]
        self.ui.manifestPathLineEdit.settingKey = "RadiomicsResponse/CohortManifest"
        self.ui.progressBar.hide()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.aggregateButton.connect("clicked(bool)", self.onAggregateButton)
        self.ui.runCohortButton.connect("clicked(bool)", self.onRunCohortButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.lesionTablesSelector.connect("checkedNodesChanged()", self._checkCanApply)
        self.ui.manifestPathLineEdit.connect("currentPathChanged(QString)", self._checkCanApply)
        self.ui.outputDirectoryButton.connect("directoryChanged(QString)", self._checkCanApply)

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
        """Reload the library too, so that changes to LesionAggregateLib take effect."""
        from ResponseSignature import reloadLibPackage

        reloadLibPackage("LesionAggregateLib")
        ScriptedLoadableModuleWidget.onReload(self)

    def initializeParameterNode(self) -> None:
        """Ensure parameter node exists and observed."""
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode: Optional[LesionAggregateParameterNode]) -> None:
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
        haveTables = not self.ui.lesionTablesSelector.noneChecked()
        self.ui.aggregateButton.enabled = haveTables and not self._busy
        self.ui.aggregateButton.toolTip = (_("Combine the lesions of each patient") if haveTables
                                           else _("Check at least one lesion table"))
        haveCohort = bool(self.ui.manifestPathLineEdit.currentPath and self.ui.outputDirectoryButton.directory)
        self.ui.runCohortButton.enabled = haveCohort and not self._busy
        self.ui.runCohortButton.toolTip = (_("Compute the lesion table of every case of the manifest") if haveCohort
                                           else _("Choose a manifest file and an output folder"))

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

    def onCancelButton(self) -> None:
        """Ask the cohort run to stop after the cases in progress."""
        self._cancelRequested = True
        self.ui.statusLabel.text = _("Cancelling...")

    def onAggregateButton(self) -> None:
        """Combine the checked lesion tables into the patient table."""
        with slicer.util.tryWithErrorDisplay(_("Failed to aggregate the lesions."), waitCursor=True):
            from ResponseSignature import ensurePythonRequirements

            ensurePythonRequirements(self.resourcePath("requirements.txt"), requester="RadiomicsResponse")
            p = self._parameterNode
            if not p.outputTable:
                p.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", slicer.mrmlScene.GenerateUniqueName(_("Patient table")))
            self.logic.aggregate(list(self.ui.lesionTablesSelector.checkedNodes()), p.method,
                                 self.logic.parseColumns(p.columns), p.location, p.outputTable)
            self.ui.statusLabel.text = _("Patient table: {count} patients.").format(count=p.outputTable.GetNumberOfRows())
            from ResponseSignature import ResponseSignatureWidget

            ResponseSignatureWidget.showTable(p.outputTable)

    def onRunCohortButton(self) -> None:
        """Run the whole cohort of the manifest file."""
        with slicer.util.tryWithErrorDisplay(_("The cohort run failed."), waitCursor=False):
            from ResponseSignature import ensurePythonRequirements

            ensurePythonRequirements(self.resourcePath("requirements.txt"), requester="RadiomicsResponse")
            ensurePythonRequirements(
                os.path.join(os.path.dirname(slicer.util.modulePath("ResponseSignature")), "Resources", "requirements.txt"),
                requester="RadiomicsResponse")
            self._setBusy(True)
            try:
                summary = self.logic.runCohort(
                    self.ui.manifestPathLineEdit.currentPath, self.ui.outputDirectoryButton.directory,
                    jobs=self._parameterNode.jobs, progress=self._onProgress,
                    shouldCancel=lambda: self._cancelRequested,
                    aggregationMethod=self._parameterNode.method if self._parameterNode.method != "vote" else "volume_weighted")
            finally:
                self._setBusy(False)
            self.ui.statusLabel.text = self.logic.summaryText(summary)


#
# LesionAggregateLogic
#


class LesionAggregateLogic(ScriptedLoadableModuleLogic):
    """Adapter between MRML table nodes and LesionAggregateLib (lesions -> patients, cohort runs).

    Usable without the widget::

        logic = LesionAggregateLogic()
        patientTableNode = logic.aggregate([lesionTableNode], "volume_weighted")

    No dialogs, no layout changes; errors are raised with a message that says what to fix.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated. Can be used for initializing member variables."""
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return LesionAggregateParameterNode(super().getParameterNode())

    @staticmethod
    def parseColumns(text: Optional[str]) -> Optional[list]:
        """"a, b ,c" -> ["a", "b", "c"]; empty text -> None (every numeric column)."""
        columns = [column.strip() for column in (text or "").split(",") if column.strip()]
        return columns or None

    def aggregate(self,
                  lesionTableNodes: list,
                  method: str = "volume_weighted",
                  columns: Optional[list] = None,
                  location: Optional[str] = None,
                  outputTable: Optional[vtkMRMLTableNode] = None) -> vtkMRMLTableNode:
        """
        Combine the lesions of each patient into one row.

        :param lesionTableNodes: lesion table nodes (rows of all of them are pooled and grouped by patient_id).
        :param method: one of METHODS.
        :param columns: lesion-table columns to aggregate (list, or comma-separated string); None: all numeric columns.
        :param location: only lesions at this location; None or "": all lesions.
        :param outputTable: table node to write the patient table into; a new one is added to the scene if None.
        :return: the patient table node. The aggregation settings are stored as JSON in its
            ``RadiomicsResponse.Aggregation`` attribute.
        """
        if not lesionTableNodes:
            raise ValueError(_("Select at least one lesion table (computed by the Response Signature module)."))
        if method not in METHODS:
            raise ValueError(_("Unknown aggregation method '{method}'. Choose one of: {methods}.").format(
                method=method, methods=", ".join(METHODS)))
        if isinstance(columns, str):
            columns = self.parseColumns(columns)
        emptyTables = [node.GetName() for node in lesionTableNodes if node.GetNumberOfRows() == 0]
        if emptyTables:
            raise ValueError(_("These lesion tables have no rows: {names}.").format(names=", ".join(emptyTables)))

        import pandas as pd

        from ResponseSignatureLib import mrml_bridge
        from LesionAggregateLib.aggregate import patient_table

        lesions = pd.concat([mrml_bridge.dataframe_from_table_node(node) for node in lesionTableNodes], ignore_index=True)
        # Provenance of the lesion tables travels with them into the patient table's provenance.
        sources = {}
        for node in lesionTableNodes:
            text = node.GetAttribute(PROVENANCE_ATTRIBUTE)
            if text:
                try:
                    sources[node.GetName()] = json.loads(text)
                except ValueError:
                    sources[node.GetName()] = text
        lesions.attrs["provenance"] = sources or None
        patients = patient_table(lesions, method, columns=columns, location=location or None)
        settings = {"method": method, "columns": columns, "location": location or None,
                    "lesion_tables": [node.GetName() for node in lesionTableNodes]}
        name = outputTable.GetName() if outputTable is not None else _("Patient table")
        tableNode = mrml_bridge.table_node_from_dataframe(
            slicer.mrmlScene, patients, name=name, node=outputTable,
            attributes={AGGREGATION_ATTRIBUTE: json.dumps(settings),
                        PROVENANCE_ATTRIBUTE: json.dumps(patients.attrs.get("provenance"), default=str)})
        logging.info(f"LesionAggregate: {len(lesions)} lesions -> {len(patients)} patients ({method})")
        return tableNode

    def runCohort(self,
                  manifestPath: str,
                  outputDir: str,
                  jobs: int = 1,
                  params=None,
                  progress: Optional[Callable[[float, str], None]] = None,
                  shouldCancel: Optional[Callable[[], bool]] = None,
                  aggregationMethod: str = "volume_weighted") -> dict:
        """
        Compute the lesion table of every case listed in a manifest file.

        :param manifestPath: CSV file, one case per row (see the cohort documentation for its columns).
        :param outputDir: folder for the per-case results; cases already there are skipped (resume).
        :param jobs: number of cases processed in parallel.
        :param params: feature-extraction settings (preset name, parameter file or dict), None for the default.
        :param progress: optional callback ``progress(fraction, message)``.
        :param shouldCancel: optional callback returning True to stop.
        :param aggregationMethod: how the cohort's patient table combines lesions (any method but vote).
        :return: the run summary of LesionAggregateLib.batch.run_batch (cases, done, failed, computed,
            skipped, seconds, lesions_csv, patients_csv, errors_csv).
        """
        if not manifestPath or not os.path.isfile(manifestPath):
            raise ValueError(_("The manifest file '{path}' does not exist.").format(path=manifestPath))
        if not outputDir:
            raise ValueError(_("Choose an output folder for the cohort results."))
        if int(jobs) < 1:
            raise ValueError(_("The number of parallel jobs must be at least 1."))

        from LesionAggregateLib.batch import run_batch

        return run_batch(manifestPath, outputDir, jobs=int(jobs), params=params, progress=progress,
                         should_cancel=shouldCancel, aggregation_method=aggregationMethod)

    @staticmethod
    def summaryText(summary: dict) -> str:
        """One line per summary entry, for display."""
        if not isinstance(summary, dict):
            return str(summary)
        return "\n".join(f"{key}: {value}" for key, value in summary.items()
                         if not isinstance(value, (list, dict)) or len(value) < 10)


#
# LesionAggregateTest
#


class LesionAggregateTest(ScriptedLoadableModuleTest):
    """Aggregates a hand-made lesion table and compares with values computed by hand."""

    def setUp(self):
        """Do whatever is needed to reset the state - typically a scene clear will be enough."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run as few or as many tests as needed here."""
        self.setUp()
        self.test_LesionAggregate_InputErrors()
        self.setUp()
        self.test_LesionAggregate_VolumeWeighted()

    def test_LesionAggregate_InputErrors(self):
        """No table, or an unknown method, is rejected before anything is computed."""
        logic = LesionAggregateLogic()
        with self.assertRaises(ValueError):
            logic.aggregate([], "volume_weighted")
        tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "lesions")
        with self.assertRaises(ValueError):
            logic.aggregate([tableNode], "no-such-method")
        self.assertEqual(logic.parseColumns(" a, b ,,c "), ["a", "b", "c"])
        self.assertIsNone(logic.parseColumns("  "))

    def test_LesionAggregate_VolumeWeighted(self):
        """Two lesions of 2 ml and 6 ml with feature changes 1 and 3: volume-weighted mean (2*1 + 6*3) / 8 = 2.5."""
        from ResponseSignature import missingPythonRequirements

        missing = missingPythonRequirements(os.path.join(os.path.dirname(__file__), "Resources", "requirements.txt"))
        if missing:
            raise RuntimeError(f"Install the module's requirements first: PythonSlicer -m pip install {' '.join(missing)}")

        import pandas as pd

        from ResponseSignatureLib import mrml_bridge

        feature = "delta:original_firstorder_Mean"
        lesions = pd.DataFrame({
            "patient_id": ["P1", "P1"],
            "lesion_id": ["L1", "L2"],
            "location": ["liver", "liver"],
            "status": ["matched", "matched"],
            # Same volume at both time points, so that the weights do not depend on which one is used.
            "baseline:volume_ml": [2.0, 6.0],
            "followup:volume_ml": [2.0, 6.0],
            feature: [1.0, 3.0],
        })
        lesionTableNode = mrml_bridge.table_node_from_dataframe(slicer.mrmlScene, lesions, name="P1 lesions")

        logic = LesionAggregateLogic()
        patientTableNode = logic.aggregate([lesionTableNode], "volume_weighted", columns=[feature])
        patients = mrml_bridge.dataframe_from_table_node(patientTableNode)
        self.assertEqual(len(patients), 1)
        self.assertEqual(str(patients["patient_id"].iloc[0]), "P1")
        self.assertAlmostEqual(float(patients[f"volume_weighted:{feature}"].iloc[0]), 2.5, places=6)

        patientTableNode = logic.aggregate([lesionTableNode], "mean", columns=[feature])
        patients = mrml_bridge.dataframe_from_table_node(patientTableNode)
        self.assertAlmostEqual(float(patients[f"mean:{feature}"].iloc[0]), 2.0, places=6)
        self.assertEqual(json.loads(patientTableNode.GetAttribute(AGGREGATION_ATTRIBUTE))["method"], "mean")
        self.delayDisplay("Test passed")
