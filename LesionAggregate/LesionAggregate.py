import json
import logging
import os
from typing import Annotated, Callable, Optional

import ctk
import qt
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
classes; with a signature model file each patient row also gets its signature score and class (read
by the Nomogram Score module). The cohort section runs the whole lesion-table computation for many patients listed in a
manifest file into the output folder you choose, writing each case as soon as it is done, so that
a cancelled or interrupted run resumes when run again.
<p>How a cohort runs: Slicer starts one separate worker process (PythonSlicer, Slicer's own Python)
running the same command as <code>radiomics-response batch</code>; it reports its progress here and
Slicer stays usable meanwhile. With "Parallel jobs" above 1 that worker computes several cases at
once in its own process pool: a process pool inside the Slicer application itself is unreliable
(Slicer issue 7445), so none is started there. Cancel stops the worker; finished cases are kept.</p>
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
    jobs - number of cases the cohort worker process computes at the same time (its own process pool).
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
        self._worker = None
        self._cohortTimer = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LesionAggregate.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = LesionAggregateLogic()

        # Paths are not stored in the parameter node (an empty path would read back as "."): no
        # silent default folder; the history (settingKey) offers the previous ones.
        self.ui.manifestPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.manifestPathLineEdit.nameFilters = [_("Cohort manifest (*.csv)")]
        self.ui.manifestPathLineEdit.settingKey = "RadiomicsResponse/CohortManifest"
        self.ui.outputDirectoryLineEdit.filters = ctk.ctkPathLineEdit.Dirs | ctk.ctkPathLineEdit.Writable
        self.ui.outputDirectoryLineEdit.settingKey = "RadiomicsResponse/CohortOutputFolder"
        self.ui.outputDirectoryLineEdit.currentPath = ""
        self.ui.signatureModelPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.signatureModelPathLineEdit.nameFilters = [_("Response signature model (*.json)")]
        self.ui.signatureModelPathLineEdit.settingKey = "RadiomicsResponse/PatientSignatureModel"
        self.ui.signatureModelPathLineEdit.currentPath = ""
        self.ui.progressBar.hide()
        self._cohortTimer = qt.QTimer()
        self._cohortTimer.setInterval(200)
        self._cohortTimer.connect("timeout()", self._onCohortTimer)

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.aggregateButton.connect("clicked(bool)", self.onAggregateButton)
        self.ui.runCohortButton.connect("clicked(bool)", self.onRunCohortButton)
        self.ui.cancelButton.connect("clicked(bool)", self.onCancelButton)
        self.ui.lesionTablesSelector.connect("checkedNodesChanged()", self._checkCanApply)
        self.ui.manifestPathLineEdit.connect("currentPathChanged(QString)", self._checkCanApply)
        self.ui.outputDirectoryLineEdit.connect("currentPathChanged(QString)", self._checkCanApply)

        self.initializeParameterNode()

    def cleanup(self) -> None:
        """Called when the application closes and the module widget is destroyed."""
        self.removeObservers()
        if self._cohortTimer is not None:
            self._cohortTimer.stop()
        if self._worker is not None:
            self._worker.cancel(graceSeconds=5.0)  # never leave a worker running after Slicer closes
            self._worker = None

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
        """Reload the library too (and NomogramScoreLib, which imports it)."""
        from RadiomicsResponseSlicerUtils.reloading import reloadLibraries

        reloadLibraries("LesionAggregateLib")
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
        busy = self._worker is not None
        haveTables = not self.ui.lesionTablesSelector.noneChecked()
        self.ui.aggregateButton.enabled = haveTables
        self.ui.aggregateButton.toolTip = (_("Combine the lesions of each patient") if haveTables
                                           else _("Check at least one lesion table"))
        haveCohort = bool(self.ui.manifestPathLineEdit.currentPath and self.ui.outputDirectoryLineEdit.currentPath)
        self.ui.runCohortButton.enabled = haveCohort and not busy
        self.ui.runCohortButton.toolTip = (_("Compute the lesion table of every case of the manifest") if haveCohort
                                           else _("Choose a manifest file and an output folder"))
        self.ui.cancelButton.enabled = busy

    def _ensureRequirements(self, *moduleNames: str) -> None:
        from RadiomicsResponseSlicerUtils.dependencies import ensurePythonRequirements, requirementsPath

        for moduleName in moduleNames:
            ensurePythonRequirements(requirementsPath(moduleName), requester="RadiomicsResponse")

    def onAggregateButton(self) -> None:
        """Combine the checked lesion tables into the patient table."""
        with slicer.util.tryWithErrorDisplay(_("Failed to aggregate the lesions."), waitCursor=True):
            self._ensureRequirements("LesionAggregate")
            p = self._parameterNode
            if not p.outputTable:
                p.outputTable = slicer.mrmlScene.AddNewNodeByClass(
                    "vtkMRMLTableNode", slicer.mrmlScene.GenerateUniqueName(_("Patient table")))
            signatureModelPath = self.ui.signatureModelPathLineEdit.currentPath or None
            self.logic.aggregate(list(self.ui.lesionTablesSelector.checkedNodes()), p.method,
                                 self.logic.parseColumns(p.columns), p.location, p.outputTable,
                                 signatureModelPath=signatureModelPath)
            if signatureModelPath:
                self.ui.signatureModelPathLineEdit.addCurrentPathToHistory()
            self.ui.statusLabel.text = _("Patient table: {count} patients.").format(count=p.outputTable.GetNumberOfRows())
            from ResponseSignature import ResponseSignatureWidget

            ResponseSignatureWidget.showTable(p.outputTable)

    def onRunCohortButton(self) -> None:
        """Start the cohort run of the manifest file in a worker process (progress: _onCohortTimer)."""
        with slicer.util.tryWithErrorDisplay(_("The cohort run could not start."), waitCursor=True):
            # The worker runs in Slicer's Python: it needs the packages of both stages.
            self._ensureRequirements("LesionAggregate", "ResponseSignature")
            p = self._parameterNode
            self._worker = self.logic.startCohort(
                self.ui.manifestPathLineEdit.currentPath, self.ui.outputDirectoryLineEdit.currentPath, jobs=p.jobs,
                aggregationMethod=p.method if p.method != "vote" else "volume_weighted")
            self.ui.manifestPathLineEdit.addCurrentPathToHistory()
            self.ui.outputDirectoryLineEdit.addCurrentPathToHistory()
            self.ui.progressBar.value = 0
            self.ui.progressBar.show()
            self.ui.statusLabel.text = _("Cohort run started ({jobs} parallel jobs)...").format(jobs=p.jobs)
            self._cohortTimer.start()
        self._checkCanApply()

    def _onCohortTimer(self) -> None:
        """Show the worker's progress; when it has exited, show the summary (or why it stopped)."""
        worker = self._worker
        if worker is None:
            self._cohortTimer.stop()
            return
        for fraction, message in worker.poll():
            self.ui.progressBar.value = int(round(100 * fraction))
            self.ui.statusLabel.text = message
        if worker.running:
            return
        self._cohortTimer.stop()
        self._worker = None
        self.ui.progressBar.hide()
        self._checkCanApply()
        from RadiomicsResponseSlicerUtils.cohort_worker import CohortCancelled

        self.ui.statusLabel.text = _("The cohort run failed.")
        with slicer.util.tryWithErrorDisplay(_("The cohort run failed."), waitCursor=False):
            try:
                self.ui.statusLabel.text = self.logic.summaryText(worker.result())
            except CohortCancelled as cancelled:
                self.ui.statusLabel.text = str(cancelled)

    def onCancelButton(self) -> None:
        """Stop the cohort worker; the cases it finished are kept (a re-run resumes)."""
        if self._worker is not None:
            self.ui.statusLabel.text = _("Cancelling...")
            with slicer.util.tryWithErrorDisplay(_("Failed to stop the cohort worker."), waitCursor=True):
                self._worker.cancel(graceSeconds=5.0)
            self._onCohortTimer()


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
        self.lastResults = []

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
                  outputTable: Optional[vtkMRMLTableNode] = None,
                  signatureModelPath: Optional[str] = None) -> vtkMRMLTableNode:
        """
        Combine the lesions of each patient into one row, and score it with a signature model if given:
        NomogramScoreLib.patient_pipeline, the chain the command line, the demo and the workstation run.

        :param lesionTableNodes: lesion table nodes (rows of all of them are pooled and grouped by patient_id).
        :param method: one of METHODS.
        :param columns: lesion-table columns to aggregate (list, or comma-separated string); None: all numeric columns.
        :param location: only lesions at this location; None or "": all lesions.
        :param outputTable: table node to write the patient table into; a new one is added to the scene if None.
        :param signatureModelPath: optional response signature model file (.json): each patient row gets
            ``signature_score`` and ``signature_class`` (a lesion-level model: mean of the patient's lesion scores).
        :return: the patient table node. The aggregation settings are stored as JSON in its
            ``RadiomicsResponse.Aggregation`` attribute; the patient results (``patient_pipeline.PatientResult``
            per patient) are ``self.lastResults``.
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

        from NomogramScoreLib import patient_pipeline
        from ResponseSignatureLib import mrml_bridge
        from ResponseSignatureLib.models import load_model

        signature = load_model(signatureModelPath) if signatureModelPath else None
        lesions = pd.concat([mrml_bridge.dataframe_from_table_node(node) for node in lesionTableNodes], ignore_index=True)
        # Provenance of the lesion tables travels with them into the patient table's provenance.
        lesions.attrs["provenance"] = {node.GetName(): self.provenanceOf(node) for node in lesionTableNodes
                                       if node.GetAttribute(PROVENANCE_ATTRIBUTE)} or None
        self.lastResults = patient_pipeline.each_patient(lesions, signature, method=method, columns=columns,
                                                         location=location or None)
        patients = patient_pipeline.patient_rows(self.lastResults)
        settings = {"method": method, "columns": columns, "location": location or None,
                    "lesion_tables": [node.GetName() for node in lesionTableNodes], "signature_model": signatureModelPath}
        name = outputTable.GetName() if outputTable is not None else _("Patient table")
        tableNode = mrml_bridge.table_node_from_dataframe(
            slicer.mrmlScene, patients, name=name, node=outputTable,
            attributes={AGGREGATION_ATTRIBUTE: json.dumps(settings),
                        PROVENANCE_ATTRIBUTE: json.dumps(patients.attrs.get("provenance"), default=str)})
        logging.info(f"LesionAggregate: {len(lesions)} lesions -> {len(patients)} patients ({method})")
        return tableNode

    @staticmethod
    def provenanceOf(tableNode: vtkMRMLTableNode):
        """The provenance a table node carries (``RadiomicsResponse.Provenance``, JSON; the text if not JSON)."""
        text = tableNode.GetAttribute(PROVENANCE_ATTRIBUTE)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return text

    def startCohort(self,
                    manifestPath: str,
                    outputDir: str,
                    jobs: int = 1,
                    params: Optional[str] = None,
                    engine: str = "builtin",
                    aggregationMethod: str = "volume_weighted",
                    python: Optional[str] = None):
        """
        Start computing the lesion table of every case of a manifest, in one worker process.

        The worker is PythonSlicer running the command line's ``batch`` (see the module help for
        why); jobs > 1 is that worker's own process pool. Nothing is computed in this process.

        :param manifestPath: CSV file, one case per row (see the cohort documentation for its columns).
        :param outputDir: folder for the results; cases already finished there are skipped (resume).
        :param jobs: number of cases the worker computes at the same time.
        :param params: feature-extraction settings: a preset name or a parameter file; None for the default.
        :param engine: feature engine, "builtin" or "pyradiomics".
        :param aggregationMethod: how the cohort's patient table combines lesions (any method but vote).
        :param python: the worker's interpreter; None for PythonSlicer.
        :return: a RadiomicsResponseSlicerUtils.cohort_worker.CohortWorker: ``poll()`` for progress,
            ``running``, ``cancel()``, ``result()`` for the run summary (cases, done, failed, computed,
            skipped, seconds, lesions_csv, patients_csv, errors_csv).
        """
        if not manifestPath or not os.path.isfile(manifestPath):
            raise ValueError(_("The manifest file '{path}' does not exist.").format(path=manifestPath))
        if not outputDir:
            raise ValueError(_("Choose an output folder for the cohort results."))
        if int(jobs) < 1:
            raise ValueError(_("The number of parallel jobs must be at least 1."))

        import importlib.util

        from RadiomicsResponseSlicerUtils.cohort_worker import CohortWorker, batchArguments

        # Folders holding the two Libs (on sys.path in Slicer, but not in the worker's environment).
        libDirs = sorted({os.path.dirname(importlib.util.find_spec(name).submodule_search_locations[0])
                          for name in ("ResponseSignatureLib", "LesionAggregateLib")})
        arguments = batchArguments(manifestPath, outputDir, jobs=int(jobs), params=params, engine=engine,
                                   method=aggregationMethod)
        logging.info(f"LesionAggregate: cohort worker started for {manifestPath} -> {outputDir} ({jobs} jobs)")
        return CohortWorker.start(arguments, libDirs=libDirs, python=python)

    def runCohort(self,
                  manifestPath: str,
                  outputDir: str,
                  jobs: int = 1,
                  params: Optional[str] = None,
                  progress: Optional[Callable[[float, str], None]] = None,
                  shouldCancel: Optional[Callable[[], bool]] = None,
                  aggregationMethod: str = "volume_weighted",
                  engine: str = "builtin",
                  python: Optional[str] = None) -> dict:
        """
        startCohort(), then wait for the end (for scripts): progress and cancellation by callbacks.

        :param progress: optional callback ``progress(fraction, message)``.
        :param shouldCancel: optional callback returning True to stop (raises CohortCancelled).
        :return: the run summary (see startCohort).
        """
        worker = self.startCohort(manifestPath, outputDir, jobs=jobs, params=params, engine=engine,
                                  aggregationMethod=aggregationMethod, python=python)
        return worker.runToEnd(progress=progress, shouldCancel=shouldCancel)

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
        from RadiomicsResponseSlicerUtils.dependencies import runSelfTests

        runSelfTests(self, [self.test_LesionAggregate_InputErrors, self.test_LesionAggregate_VolumeWeighted])

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
        from RadiomicsResponseSlicerUtils.dependencies import prepareSelfTest, requirementsPath

        prepareSelfTest(self, requirementsPath("LesionAggregate", os.path.dirname(os.path.abspath(__file__))))

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
