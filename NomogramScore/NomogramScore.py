import logging
import math
import os
from typing import Optional

import ctk
import qt
import vtk

import slicer
from slicer.i18n import tr as _
from slicer.i18n import translate
from slicer.ScriptedLoadableModule import *
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper

from slicer import vtkMRMLTableNode

# No "from __future__ import annotations" here: see the note in ResponseSignature.py
# (annotations stay Python 3.9-evaluable; Optional[...] instead of "X | None").

DOCUMENTATION_URL = "https://github.com/radiomics-response/SlicerRadiomicsResponse"


#
# NomogramScore
#


class NomogramScore(ScriptedLoadableModule):
    """Combines a patient's signature score with clinical variables into a risk, with points and a gauge."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = _("Nomogram Score")
        self.parent.categories = [translate("qSlicerAbstractCoreModule", "Quantification")]
        self.parent.dependencies = ["ResponseSignature", "LesionAggregate"]
        self.parent.contributors = ["RadiomicsResponse developers"]
        self.parent.helpText = _("""
Scores one patient with a nomogram model file: the imaging signature (from the patient table of the
Lesion Aggregate module) and clinical variables are entered in a form built from the model's
predictors; the module shows the predicted probability with its confidence interval, its reading
against the model's cut-off (above, below, or indeterminate when the CI spans it; "risk" only for an
unfavourable outcome), the nomogram points of each predictor and a gauge, and exports a report.
Nomogram models are for research use only unless their model card says otherwise.
See the <a href="{url}#nomogramscore">module documentation</a>.
""").format(url=DOCUMENTATION_URL)
        self.parent.acknowledgementText = _("""
Developed by the RadiomicsResponse developers. Radiomics-clinical nomograms follow the approach of
Liu et al. 2021 (Cox model of an imaging signature with clinical factors, Youden cut-off) and the
radiomics-clinical model of Ligero M. et al., Radiology 2021;299(1):109-119. Nomogram points follow
Harrell's rms::nomogram.
""")


#
# NomogramScoreParameterNode
#


@parameterNodeWrapper
class NomogramScoreParameterNode:
    """
    The parameters of the Nomogram Score module.

    patientTable - optional patient table used to fill in the predictor values.
    patientId - the patient_id of the row to use.
    """

    patientTable: vtkMRMLTableNode
    patientId: str = ""


#
# Predictor form (built at run time from the model's predictors)
#


class NomogramScorePredictorForm:
    """One input row per model predictor, in a QFormLayout.

    Continuous predictors get a QDoubleSpinBox limited to the model's [min, max] with the unit as
    suffix; categorical predictors get a QComboBox with the model's levels.
    """

    def __init__(self, formLayout) -> None:
        self.formLayout = formLayout
        self.predictors = []
        self.inputs = {}

    def clear(self) -> None:
        # QFormLayout.removeRow (Qt >= 5.8) deletes the row's widgets and the row itself; takeAt() alone
        # would leave empty rows behind, so it is only the fallback.
        if hasattr(self.formLayout, "removeRow"):
            while self.formLayout.rowCount() > 0:
                self.formLayout.removeRow(0)
        else:
            while self.formLayout.count():
                item = self.formLayout.takeAt(0)
                widget = item.widget() if item is not None else None
                if widget is not None:
                    widget.setParent(None)
                    widget.deleteLater()
        self.predictors = []
        self.inputs = {}

    def setPredictors(self, predictors: list) -> None:
        """Rebuild the form for ``predictors`` (validated by NomogramScoreLogic.predictorsFromModel)."""
        self.clear()
        for predictor in predictors:
            name = predictor["name"]
            label = predictor.get("label") or name
            unit = predictor.get("unit") or ""
            if predictor.get("type") == "categorical":
                widget = qt.QComboBox()
                for level in predictor.get("levels") or []:
                    widget.addItem(str(level))
                tip = label
            else:
                # min/max are the training range (values outside it are allowed, with a warning from
                # the scorer); plausible_min/plausible_max are hard limits of the input.
                widget = qt.QDoubleSpinBox()
                widget.decimals = int(predictor.get("decimals", 3))
                low, high = predictor.get("min"), predictor.get("max")
                hardLow, hardHigh = predictor.get("plausible_min"), predictor.get("plausible_max")
                widget.minimum = float(hardLow) if hardLow is not None else -1e9
                widget.maximum = float(hardHigh) if hardHigh is not None else 1e9
                if unit:
                    widget.suffix = f" {unit}"
                if low is not None and high is not None:
                    widget.singleStep = max((float(high) - float(low)) / 100.0, 10.0 ** -widget.decimals)
                    widget.value = (float(low) + float(high)) / 2.0
                    tip = _("{label}: training range {low:g} to {high:g} {unit}").format(
                        label=label, low=float(low), high=float(high), unit=unit).strip()
                else:
                    tip = label
            widget.setObjectName(f"predictor_{name}")
            widget.toolTip = predictor.get("description") or tip
            self.formLayout.addRow(f"{label}:", widget)
            self.predictors.append(predictor)
            self.inputs[name] = widget

    def values(self, unchangedFrom: Optional[dict] = None) -> dict:
        """Current value of every predictor: float for continuous, level (str) for categorical.

        With ``unchangedFrom`` (the values given to setValues), only the predictors whose input no
        longer shows that value: a spin box shows a table's value rounded to its decimals, and the
        table's own value must then be scored, not the rounded one.
        """
        values = {}
        for predictor in self.predictors:
            name = predictor["name"]
            widget = self.inputs[name]
            categorical = predictor.get("type") == "categorical"
            value = widget.currentText if categorical else float(widget.value)
            given = (unchangedFrom or {}).get(name)
            if given is not None and (str(given) == value if categorical
                                      else round(float(given), widget.decimals) == round(value, widget.decimals)):
                continue
            values[name] = value
        return values

    def setValues(self, values: dict) -> list:
        """Set the predictors found in ``values``; returns the names of those that were not set."""
        notSet = []
        for predictor in self.predictors:
            name = predictor["name"]
            widget = self.inputs[name]
            value = values.get(name)
            if value is None or (isinstance(value, float) and math.isnan(value)):
                notSet.append(name)
            elif predictor.get("type") == "categorical":
                index = widget.findText(str(value))
                if index < 0:
                    notSet.append(name)
                else:
                    widget.currentIndex = index
            else:
                try:
                    widget.value = float(value)
                except (TypeError, ValueError):
                    notSet.append(name)
        return notSet


#
# NomogramScoreWidget
#


class NomogramScoreWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Binds the GUI to the parameter node, builds the predictor form and calls NomogramScoreLogic."""

    def __init__(self, parent=None) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self.model = None
        self.lastResult = None
        self.filledValues = {}
        self.form = None

    def setup(self) -> None:
        """Called when the user opens the module the first time and the widget is initialized."""
        ScriptedLoadableModuleWidget.setup(self)

        uiWidget = slicer.util.loadUI(self.resourcePath("UI/NomogramScore.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)

        self.logic = NomogramScoreLogic()
        self.form = NomogramScorePredictorForm(self.ui.predictorsGroupBox.layout())

        self.ui.modelPathLineEdit.filters = ctk.ctkPathLineEdit.Files | ctk.ctkPathLineEdit.Readable
        self.ui.modelPathLineEdit.nameFilters = [_("Nomogram model (*.json)")]
        self.ui.modelPathLineEdit.settingKey = "RadiomicsResponse/NomogramModel"

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)

        self.ui.modelPathLineEdit.connect("currentPathChanged(QString)", self.onModelPathChanged)
        self.ui.fillFromTableButton.connect("clicked(bool)", self.onFillFromTableButton)
        self.ui.computeButton.connect("clicked(bool)", self.onComputeButton)
        self.ui.exportReportButton.connect("clicked(bool)", self.onExportReportButton)

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
        """Reload the library too, so that changes to NomogramScoreLib take effect."""
        from RadiomicsResponseSlicerUtils.reloading import reloadLibraries

        reloadLibraries("NomogramScoreLib")
        ScriptedLoadableModuleWidget.onReload(self)

    def initializeParameterNode(self) -> None:
        """Ensure parameter node exists and observed."""
        self.setParameterNode(self.logic.getParameterNode())

    def setParameterNode(self, inputParameterNode: Optional[NomogramScoreParameterNode]) -> None:
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
        self.ui.computeButton.enabled = self.model is not None
        self.ui.computeButton.toolTip = _("Compute the prediction") if self.model is not None else _("Choose a model file first")
        self.ui.fillFromTableButton.enabled = bool(self.model is not None and p and p.patientTable and p.patientId)
        self.ui.exportReportButton.enabled = self.lastResult is not None

    def onModelPathChanged(self, path: str) -> None:
        """Load the model and build the predictor form."""
        self.model = None
        self.lastResult = None
        self.filledValues = {}
        self.form.clear()
        self._showResult(None)
        self.ui.modelNameValueLabel.text = "-"
        if path and os.path.isfile(path):
            with slicer.util.tryWithErrorDisplay(_("Failed to load the nomogram model."), waitCursor=True):
                from RadiomicsResponseSlicerUtils.dependencies import ensurePythonRequirements

                ensurePythonRequirements(self.resourcePath("NomogramScoreRequirements.txt"), requester="RadiomicsResponse")
                model = self.logic.loadModel(path)
                self.form.setPredictors(self.logic.predictorsFromModel(model))
                self.model = model
                self.ui.modelNameValueLabel.text = self.logic.modelDescription(model)
                self.ui.modelPathLineEdit.addCurrentPathToHistory()
                self.ui.statusLabel.text = _("Model loaded: enter the predictors, then Compute risk.")
        self._checkCanApply()

    def onFillFromTableButton(self) -> None:
        """Fill the form from the selected patient's row of the patient table."""
        with slicer.util.tryWithErrorDisplay(_("Failed to read the patient table."), waitCursor=True):
            p = self._parameterNode
            values = self.logic.valuesFromPatientTable(p.patientTable, p.patientId, self.logic.predictorsFromModel(self.model))
            notSet = self.form.setValues(values)
            self.filledValues = values
            self.ui.statusLabel.text = (_("Not found in the table, enter by hand: {names}").format(names=", ".join(notSet))
                                        if notSet else _("All predictors filled from the table."))

    def onComputeButton(self) -> None:
        """Score the patient with the values of the form."""
        with slicer.util.tryWithErrorDisplay(_("Failed to compute the prediction."), waitCursor=True):
            p = self._parameterNode
            withTable = bool(p and p.patientTable and p.patientId)
            # the patient's row from the table, with what the user typed or changed in the form
            self.lastResult = self.logic.score(self.model, self.form.values(self.filledValues if withTable else None),
                                               p.patientTable if withTable else None, p.patientId if p else "")
            self._showResult(self.lastResult)
            warnings = self.lastResult.get("warnings") or []
            self.ui.statusLabel.text = "\n".join(str(warning) for warning in warnings)
        self._checkCanApply()

    def onExportReportButton(self) -> None:
        """Save an HTML report of the last result."""
        if self.lastResult is None:
            return
        path = qt.QFileDialog.getSaveFileName(
            slicer.util.mainWindow(), _("Export nomogram report"), "nomogram-report.html", _("HTML report (*.html)"))
        if not path:
            return
        with slicer.util.tryWithErrorDisplay(_("Failed to export the report."), waitCursor=True):
            self.logic.exportReport(path)
            self.ui.statusLabel.text = _("Report saved to {path}").format(path=path)

    def _showResult(self, result: Optional[dict]) -> None:
        if not result:
            for label in (self.ui.riskValueLabel, self.ui.ciValueLabel, self.ui.bandValueLabel, self.ui.pointsValueLabel):
                label.text = "-"
            self.ui.gaugeLabel.clear()
            return
        from ResponseSignatureLib.formatting import ci_text, percent

        reading = result["reading"]  # NomogramScoreLib's three-way reading (above / below / indeterminate)
        self.ui.riskValueLabel.text = percent(result["risk"])
        self.ui.riskValueLabel.toolTip = result["outcome"]["label"]
        self.ui.ciValueLabel.text = ci_text(result["ci_low"], result["ci_high"])
        self.ui.bandValueLabel.wordWrap = True
        self.ui.bandValueLabel.text = reading["text"]
        self.ui.bandValueLabel.setStyleSheet(f"color: {reading['colour']}; font-weight: bold;")
        points = result.get("points") or {}
        self.ui.pointsValueLabel.text = "\n".join(
            [f"{name}: {float(value):.1f}" for name, value in points.items()]
            + [_("Total: {total:.1f}").format(total=float(result.get("total_points", float("nan"))))])
        self._showGauge(result.get("gauge_svg"))

    def _showGauge(self, svg: Optional[str]) -> None:
        # PythonQt in Slicer wraps QtCore/QtGui/QtUiTools/QtNetwork (not QtSvg), so qt.QSvgWidget is not
        # available; Qt's SVG image-format plugin (shipped with Slicer for its .svg icons) renders the
        # SVG into a QPixmap shown by a QLabel instead.
        self.ui.gaugeLabel.clear()
        if not svg:
            return
        pixmap = qt.QPixmap()
        if pixmap.loadFromData(qt.QByteArray(svg.encode("utf-8")), "SVG"):
            self.ui.gaugeLabel.setPixmap(pixmap)
        else:
            self.ui.gaugeLabel.text = _("(the risk gauge could not be drawn: Qt SVG support is missing)")


#
# NomogramScoreLogic
#


class NomogramScoreLogic(ScriptedLoadableModuleLogic):
    """Adapter between MRML nodes and NomogramScoreLib: model + predictor values in, risk and gauge out.

    Usable without the widget::

        logic = NomogramScoreLogic()
        model = logic.loadModel("/path/to/nomogram.json")
        result = logic.score(model, {"signature": 0.62, "cea": 4.1, "ct_stage": "T3"})

    No dialogs, no layout changes; errors are raised with a message that says what to fix.
    """

    def __init__(self) -> None:
        """Called when the logic class is instantiated. Can be used for initializing member variables."""
        ScriptedLoadableModuleLogic.__init__(self)
        self.lastPatientResult = None

    def getParameterNode(self):
        return NomogramScoreParameterNode(super().getParameterNode())

    @staticmethod
    def loadModel(path: str) -> dict:
        """Read and verify a nomogram model file (NomogramScoreLib.nomogram.load_nomogram: JSON, hash checked, no code run)."""
        if not path or not os.path.isfile(path):
            raise ValueError(_("The model file '{path}' does not exist.").format(path=path))
        from NomogramScoreLib.nomogram import load_nomogram

        return load_nomogram(path)

    @staticmethod
    def predictorsFromModel(model: dict) -> list:
        """The predictors of a nomogram model loaded with loadModel() (which validated them).

        Each predictor is a dict with ``name``, ``label``, ``unit``, ``type`` ('continuous' or
        'categorical'), ``min``/``max`` (continuous) or ``levels`` (categorical).
        """
        if not isinstance(model, dict) or not (model.get("model") or {}).get("predictors"):
            raise ValueError(_("No nomogram model is loaded: choose a nomogram model file."))
        return list(model["model"]["predictors"])

    @staticmethod
    def modelDescription(model: dict) -> str:
        """Short text: name, version and intended use from the model card."""
        card = model.get("model_card") or {}
        text = f"{model.get('name', _('(unnamed model)'))} {model.get('version', '')}".strip()
        intendedUse = card.get("intended_use")
        if intendedUse:
            text += "\n" + str(intendedUse)
        return text

    @staticmethod
    def patientTable(patientTableNode: vtkMRMLTableNode):
        """The patient table node as a DataFrame with the provenance it carries (the signature model's identity)."""
        if patientTableNode is None:
            raise ValueError(_("Select a patient table."))
        from LesionAggregate import LesionAggregateLogic
        from ResponseSignatureLib import mrml_bridge

        table = mrml_bridge.dataframe_from_table_node(patientTableNode)
        if "patient_id" not in table.columns:
            raise ValueError(_("The table '{name}' has no patient_id column: is it a patient table from Lesion Aggregate?").format(
                name=patientTableNode.GetName()))
        provenance = LesionAggregateLogic.provenanceOf(patientTableNode)
        table.attrs["provenance"] = provenance if isinstance(provenance, dict) else {}
        table.attrs["source_file"] = patientTableNode.GetName()
        return table

    def valuesFromPatientTable(self, patientTableNode: vtkMRMLTableNode, patientId: str, predictors: list) -> dict:
        """Values of the predictors found as columns of the patient's row (by patient_id) of a patient table."""
        from NomogramScoreLib.patient_pipeline import from_tables

        row = from_tables(self.patientTable(patientTableNode), patientId).row
        values = {}
        for predictor in predictors:
            value = row.get(predictor["name"])
            if predictor.get("type") == "categorical" and value is not None:
                values[predictor["name"]] = str(value)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                values[predictor["name"]] = float(value)  # an empty or text cell is left for the user to enter
        return values

    def patientResult(self, model: dict, values: dict, patientTableNode: Optional[vtkMRMLTableNode] = None,
                      patientId: str = ""):
        """
        The patient through NomogramScoreLib.patient_pipeline (the chain of the command line, the demo and
        the workstation): the patient's row of the patient table (aggregates, RECIST, signature score) or,
        without a table, an empty row; ``values`` added as clinical values (they replace the row's); the nomogram.

        :return: a patient_pipeline.PatientResult (``risk``: score_patient's dict, ``signature``, ``row``...).
        """
        self.predictorsFromModel(model)
        from NomogramScoreLib import patient_pipeline

        patientId = patientId or "patient"
        if patientTableNode is not None:
            patients = self.patientTable(patientTableNode)
        else:
            import pandas as pd

            patients = pd.DataFrame({"patient_id": [patientId]})
        return patient_pipeline.from_tables(patients, patientId, nomogram_model=model, clinical=values)

    def score(self, model: dict, values: dict, patientTableNode: Optional[vtkMRMLTableNode] = None,
              patientId: str = "") -> dict:
        """
        Prediction (probability with its CI and reading) for one patient: patientResult(), kept as
        ``self.lastPatientResult`` for exportReport().

        :param model: nomogram model (from loadModel()).
        :param values: predictor name -> value (float for continuous, level for categorical); checked
            by the Lib (missing, non-numeric, implausible values raise InputError, a ValueError).
        :return: NomogramScoreLib.nomogram.score_patient's dict (risk, ci_low, ci_high, band, points,
            total_points, reading) plus ``gauge_svg``, the gauge as SVG text.
        """
        from NomogramScoreLib.gauge import gauge_for

        self.lastPatientResult = self.patientResult(model, values, patientTableNode, patientId)
        risk = self.lastPatientResult.risk
        return {**risk, "gauge_svg": gauge_for(model, risk)}

    def exportReport(self, path: str, result=None) -> str:
        """Write the self-contained HTML report of a patient result (default: the last score()'s) with
        NomogramScoreLib.patient_pipeline.write_report: inputs, signature, risk, points, gauge, model.

        :return: the path written.
        """
        from NomogramScoreLib.patient_pipeline import write_report

        result = result if result is not None else self.lastPatientResult
        if result is None:
            raise ValueError(_("Compute the risk first."))
        written = write_report(result, path)
        logging.info(f"NomogramScore: report written to {written}")
        return str(written)


#
# NomogramScoreTest
#


class NomogramScoreTest(ScriptedLoadableModuleTest):
    """The predictor form (a small hand-made model), the shipped demo nomogram against its formula, table input."""

    MODEL = {
        "name": "test nomogram",
        "version": "0.0.1",
        "model_card": {"intended_use": "testing only"},
        "model": {
            "predictors": [
                {"name": "signature", "label": "Signature score", "unit": "", "type": "continuous", "min": 0.1, "max": 0.9,
                 "plausible_min": 0.0, "plausible_max": 1.0},
                {"name": "cea", "label": "CEA", "unit": "ng/mL", "type": "continuous", "min": 0.0, "max": 500.0},
                {"name": "ct_stage", "label": "cT stage", "type": "categorical", "levels": ["T2", "T3", "T4"]},
            ],
        },
    }

    def setUp(self):
        """Do whatever is needed to reset the state - typically a scene clear will be enough."""
        slicer.mrmlScene.Clear()

    def runTest(self):
        """Run as few or as many tests as needed here."""
        from RadiomicsResponseSlicerUtils.dependencies import runSelfTests

        runSelfTests(self, [self.test_NomogramScore_PredictorForm, self.test_NomogramScore_ModelChecks,
                            self.test_NomogramScore_ValuesFromTable])

    def _requirePackages(self):
        """Skip (testing mode) or install the module's packages: the Logic runs NomogramScoreLib's patient pipeline (pandas)."""
        from RadiomicsResponseSlicerUtils.dependencies import prepareSelfTest, requirementsPath

        prepareSelfTest(self, requirementsPath("NomogramScore", os.path.dirname(os.path.abspath(__file__))))

    @staticmethod
    def _demoModelPath() -> str:
        """The demo nomogram shipped in Resources/Models (a complete, validated model file)."""
        return os.path.join(os.path.dirname(os.path.abspath(__file__)), "Resources", "Models", "demo_nomogram.json")

    def test_NomogramScore_PredictorForm(self):
        """The form has one input per predictor, honours the ranges and levels, and round-trips values."""
        logic = NomogramScoreLogic()
        container = qt.QWidget()
        form = NomogramScorePredictorForm(qt.QFormLayout(container))
        form.setPredictors(logic.predictorsFromModel(self.MODEL))
        self.assertEqual(sorted(form.inputs), ["cea", "ct_stage", "signature"])
        self.assertEqual(form.inputs["signature"].maximum, 1.0)  # plausible_max: a hard limit
        self.assertAlmostEqual(form.inputs["signature"].value, 0.5)  # starts in the middle of the training range
        self.assertEqual(form.inputs["ct_stage"].count, 3)

        notSet = form.setValues({"signature": 0.62, "cea": 4.5, "ct_stage": "T3"})
        self.assertEqual(notSet, [])
        self.assertEqual(form.values(), {"signature": 0.62, "cea": 4.5, "ct_stage": "T3"})

        # Out of range values are clamped by the spin box; unknown levels and missing values are reported.
        form.setValues({"signature": 7.0})
        self.assertEqual(form.values()["signature"], 1.0)
        self.assertEqual(form.setValues({"ct_stage": "T9"}), ["signature", "cea", "ct_stage"])

        form.setPredictors(logic.predictorsFromModel(self.MODEL)[:1])
        self.assertEqual(list(form.inputs), ["signature"])
        if hasattr(form.formLayout, "removeRow"):
            self.assertEqual(form.formLayout.rowCount(), 1, "the rows of the previous model must be removed")

    def test_NomogramScore_ModelChecks(self):
        """The demo nomogram's risk equals the logistic formula computed here from its coefficients;
        incomplete or invalid inputs are rejected by the library's clinical checks, naming the predictor."""
        self._requirePackages()
        logic = NomogramScoreLogic()
        with self.assertRaises(ValueError):
            logic.predictorsFromModel({"name": "not a nomogram", "model": {}})
        model = logic.loadModel(self._demoModelPath())
        values = {"signature_score": 0.62, "albumin": 38.0, "lymphocytes": 1.4, "cea": 12.0, "stage": "IV"}
        content = model["model"]
        coefficients = {p["name"]: p.get("coefficient") for p in content["predictors"]}
        stage = next(p for p in content["predictors"] if p["name"] == "stage")
        linearPredictor = (content["intercept"] + coefficients["signature_score"] * 0.62 + coefficients["albumin"] * 38.0
                           + coefficients["lymphocytes"] * 1.4 + coefficients["cea"] * math.log(12.0)
                           + stage["coefficients"][stage["levels"].index("IV") - 1])
        result = logic.score(model, values)
        self.assertAlmostEqual(result["risk"], 1.0 / (1.0 + math.exp(-linearPredictor)), places=12)
        self.assertLessEqual(result["ci_low"], result["risk"])
        self.assertLessEqual(result["risk"], result["ci_high"])
        self.assertIn("<svg", result["gauge_svg"])
        with self.assertRaises(ValueError) as context:
            logic.score(model, {"signature_score": 0.5})
        self.assertIn("albumin", str(context.exception))
        with self.assertRaises(ValueError) as context:
            logic.score(model, dict(values, cea=float("nan")))
        self.assertIn("cea", str(context.exception))
        self.assertIn(model["name"], logic.modelDescription(model))

    def test_NomogramScore_ValuesFromTable(self):
        """Predictor values are read from the patient's row of a patient table."""
        self._requirePackages()
        import numpy as np

        tableNode = slicer.mrmlScene.AddNewNodeByClass("vtkMRMLTableNode", "patients")
        ids = vtk.vtkStringArray()
        ids.SetName("patient_id")
        stages = vtk.vtkStringArray()
        stages.SetName("ct_stage")
        for patient, stage in (("P1", "T2"), ("P2", "T4")):
            ids.InsertNextValue(patient)
            stages.InsertNextValue(stage)
        tableNode.AddColumn(ids)
        tableNode.AddColumn(stages)
        signature = vtk.vtkDoubleArray()
        signature.SetName("signature")
        for value in np.array([0.25, 0.75]):
            signature.InsertNextValue(float(value))
        tableNode.AddColumn(signature)

        logic = NomogramScoreLogic()
        values = logic.valuesFromPatientTable(tableNode, "P2", logic.predictorsFromModel(self.MODEL))
        self.assertEqual(values, {"signature": 0.75, "ct_stage": "T4"})
        with self.assertRaises(ValueError):
            logic.valuesFromPatientTable(tableNode, "P3", logic.predictorsFromModel(self.MODEL))
