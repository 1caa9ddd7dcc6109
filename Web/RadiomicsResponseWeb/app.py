"""The workstation: Slicer's views and segment editor (trame-slicer) plus the response panels.

Layout: on the left trame-slicer's segment editor (paint, erase, scissors, draw, threshold, islands,
smoothing, undo/redo); in the middle Slicer's slice views; on the right the reading panel: time
point selector, lesions (name and location), Compute with progress, and the results (lesion
table, RECIST, waterfall, patient aggregation, signature, clinical form and risk gauge) and, for a
case loaded from DICOM series folders, the DICOM SEG + SR export. Data and computation go through
``session`` and ``results`` (the libraries; the later stages through
``NomogramScoreLib.patient_pipeline``).
"""
from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

from trame.widgets import client, html
from trame.widgets import vuetify3 as v3
from trame_server.utils.asynchronous import create_task
from trame_server.utils.typed_state import TypedState
from trame_slicer import module as trame_slicer_module
from trame_slicer.app.logic import LayoutButtonLogic
from trame_slicer.app.logic.segmentation import SegmentEditorLogic
from trame_slicer.app.ui import (
    LayoutButton,
    SegmentEditorToolbarUI,
    SegmentEditorUI,
    SegmentEditorUndoRedoUI,
    SegmentEditState,
    ViewerLayout,
)
from trame_slicer.core import SlicerApp
from trame_slicer.rca_view import register_rca_factories
from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

from ResponseSignatureLib.errors import OperationCancelled, RadiomicsResponseError

from . import results, session

LOG = logging.getLogger(__name__)
READING_LAYOUT = "Axial + coronal/sagittal"
PROGRESS_POLL_S = 0.25


class Workstation:
    """One reading session served by one trame server (one MRML scene, one user)."""

    def __init__(self, server, out_dir: Path, params: Any = None):
        self.server = server
        self.out_dir = Path(out_dir)
        self.params = params
        server.enable_module(trame_slicer_module)
        self.slicer_app = SlicerApp()
        register_rca_factories(self.slicer_app.view_manager, server)
        # Views first: effect pipelines are made per existing view when the segment editor starts.
        self.layout_logic = LayoutButtonLogic(server, self.slicer_app)
        self.editor_logic = SegmentEditorLogic(server, self.slicer_app)
        self.layout_logic.layout_manager.register_layout(READING_LAYOUT, _reading_layout())
        self.session = session.Session(self.slicer_app.scene)
        self._segment_edit_state = TypedState(server.state, SegmentEditState)
        self._progress = (0.0, "")
        self._cancel = threading.Event()
        self._demo = False
        self._patient = None  # NomogramScoreLib.patient_pipeline.PatientResult of the last computation
        self._scored = None   # the same, scored by the nomogram (clinical form's Score)
        self._computed = None  # (LesionTableResult, session.PipelineInputs) of the last computation
        self._init_state()
        self._build_ui()
        self.editor_logic.set_ui(self.editor_ui)
        self.layout_logic.set_ui(self.layout_button)
        self.layout_logic.data.current_layout_id = READING_LAYOUT
        self.slicer_app.segmentation_editor.segmentation_modified.connect(self._on_segments_changed)

    @property
    def state(self):
        return self.server.state

    # ------------------------------------------------------------------------------ state
    def _init_state(self) -> None:
        state = self.state
        state.trame__title = "RadiomicsResponse workstation"
        state.rr_loaded = False
        state.rr_timepoint = "followup"
        state.rr_locations = list(session.LOCATIONS)
        state.rr_lesions = []
        state.rr_lesion_epoch = 0
        state.rr_busy = False
        state.rr_progress = 0
        state.rr_progress_text = ""
        state.rr_message = ""
        state.rr_message_type = "info"
        state.rr_load_dialog = False
        state.rr_paths = {"baseline_image": "", "baseline_seg": "", "followup_image": "", "followup_seg": "",
                          "locations": ""}
        state.rr_has_result = False
        state.rr_lesion_table = {"headers": [], "rows": []}
        state.rr_volume_table = {"headers": [], "rows": []}
        state.rr_recist = []
        state.rr_errors = []
        state.rr_waterfall_svg = ""
        state.rr_waterfall = []
        state.rr_patient = []
        state.rr_patient_error = ""
        state.rr_signature = {}
        state.rr_signature_error = ""
        state.rr_clinical_fields = []
        state.rr_clinical_values = {}
        state.rr_nomogram = {}
        state.rr_nomogram_error = ""
        state.rr_saved_to = ""
        state.rr_dicom_problem = ""
        state.rr_dicom_written = ""
        state.change("rr_timepoint")(self._on_timepoint_changed)

    def _say(self, message: str, kind: str = "info") -> None:
        self.state.rr_message = message
        self.state.rr_message_type = kind

    # ------------------------------------------------------------------------------ loading
    def load_demo(self) -> bool:
        """Write the synthetic demo case into the work folder and load it (False: see the message)."""
        from ResponseSignatureLib.sample_data import make_sample_case

        def load():
            paths = make_sample_case(self.out_dir / "demo_case")
            self.session.load_case(paths, patient_id="demo")

        self._demo = self._load(load, "Demo case loaded.")
        return self._demo

    def load_paths(self, paths: dict) -> None:
        """Load the baseline and follow-up files typed in the load dialog."""
        paths = {key: str(value or "") for key, value in dict(paths or {}).items()}
        self.state.rr_paths = paths
        if not paths.get("baseline_image") or not paths.get("followup_image"):
            self._say("Give the baseline and the follow-up image (segmentations are optional).", "error")
            return
        case = {key: value.strip() or None for key, value in paths.items()}
        patient_id = Path(case["baseline_image"]).name.split(".")[0]
        if self._load(lambda: self.session.load_case(case, patient_id=patient_id), "Images loaded."):
            self.state.rr_load_dialog = False
            self._demo = False
            self.state.rr_clinical_values = {}

    def _load(self, load, done_message: str) -> bool:
        if self.state.rr_busy:
            self._say("Wait for the computation to finish (or cancel it) before loading.", "warning")
            return False
        try:
            load()
        except (RadiomicsResponseError, OSError) as error:
            self._say(str(error), "error")
            return False
        self._clear_results()
        self.state.rr_loaded = True
        self._show_timepoint(self.state.rr_timepoint, reset_views=True)
        self._say_with_warnings(done_message, self.session.load_warnings)
        return True

    def _say_with_warnings(self, message: str, warnings) -> None:
        """A success message, or a warning with what was accepted but changed (e.g. a resampled segmentation)."""
        sentences = [text[:1].upper() + text[1:].rstrip(".") + "." for text in warnings or []]
        self._say(" ".join([message, *sentences]), "warning" if sentences else "success")

    def _on_client_mounted(self) -> None:
        """Fit the image to the views once the browser has given them their size."""
        create_task(self._reset_views_soon())

    async def _reset_views_soon(self, delay_s: float = 1.0) -> None:
        await asyncio.sleep(delay_s)
        self.slicer_app.display_manager.reset_views()

    # ------------------------------------------------------------------------- time points
    def _on_timepoint_changed(self, rr_timepoint, **_):
        if self.session.is_loaded(rr_timepoint):
            self._show_timepoint(rr_timepoint)

    def _show_timepoint(self, timepoint: str, reset_views: bool = False) -> None:
        """Show one time point's image and lesions in the views and give them to the segment editor."""
        display_manager = self.slicer_app.display_manager
        for name, nodes in self.session.nodes.items():
            display = nodes.segmentation.GetDisplayNode()
            if display is not None:
                display.SetVisibility(name == timepoint)
        nodes = self.session.nodes[timepoint]
        display_manager.show_volume_in_slice_background(nodes.volume)
        display_manager.show_volume_in_slice_foreground(None)
        editor = self.slicer_app.segmentation_editor
        editor.deactivate_effect()
        editor.set_active_segmentation(nodes.segmentation, nodes.volume)
        if reset_views:
            display_manager.reset_views()
        self._refresh_lesions()

    # ------------------------------------------------------------------------------ lesions
    def _on_segments_changed(self, *_args) -> None:
        self._refresh_lesions()

    def _refresh_lesions(self) -> None:
        timepoint = self.state.rr_timepoint
        self.state.rr_lesions = self.session.lesions(timepoint) if self.session.is_loaded(timepoint) else []

    def rename_lesion(self, segment_id: str, name: str) -> None:
        """Rename a lesion of the shown time point (its segment name)."""
        if self._guarded(lambda: self.session.rename(self.state.rr_timepoint, segment_id, name)):
            self._show_name_in_segment_editor(segment_id, name.strip())
        else:
            self.state.rr_lesion_epoch += 1  # new row keys: the fields show the kept names again
        self._refresh_lesions()

    def _show_name_in_segment_editor(self, segment_id: str, name: str) -> None:
        """The segment editor lists names too; its active segment's name has its own state."""
        self.editor_logic._update_segment_list()
        edited = self._segment_edit_state.data.segment_state
        if edited.segment_id == segment_id:
            edited.name = name

    def set_location(self, segment_id: str, location: str) -> None:
        """Set the location of a lesion of the shown time point."""
        self._guarded(lambda: self.session.set_location(self.state.rr_timepoint, segment_id, location))
        self._refresh_lesions()

    def select_lesion(self, segment_id: str) -> None:
        """Make a lesion the segment editor's active segment."""
        self.slicer_app.segmentation_editor.set_active_segment_id(segment_id)

    def _guarded(self, action) -> bool:
        try:
            action()
        except RadiomicsResponseError as error:
            self._say(str(error), "error")
            return False
        return True

    # -------------------------------------------------------------------------- computation
    def start_compute(self) -> None:
        """Compute button: read the scene now, compute in a worker thread, report progress."""
        if self.state.rr_busy:
            return
        try:
            inputs = self.session.pipeline_inputs()
        except RadiomicsResponseError as error:
            self._say(str(error), "error")
            return
        self._cancel.clear()
        self._progress = (0.0, "Starting")
        self.state.rr_busy = True
        self.state.rr_progress = 0
        self.state.rr_progress_text = "Starting"
        self._say("Computing the lesion table...", "info")
        create_task(self._compute(inputs))

    def cancel_compute(self) -> None:
        """Ask the running computation to stop at the next lesion."""
        self._cancel.set()

    def _on_progress(self, fraction: float, message: str) -> None:
        self._progress = (fraction, message)  # called from the worker thread: no state access here

    async def _compute(self, inputs) -> None:
        params = self._extraction_params()
        loop = asyncio.get_running_loop()
        job = loop.run_in_executor(None, lambda: session.compute(
            inputs, params=params, progress=self._on_progress, should_cancel=self._cancel.is_set))
        while not job.done():
            await asyncio.sleep(PROGRESS_POLL_S)
            with self.state:
                self.state.rr_progress = round(100 * self._progress[0])
                self.state.rr_progress_text = self._progress[1]
        with self.state:
            self.state.rr_busy = False
            try:
                result = job.result()
            except OperationCancelled:
                self._say("Computation cancelled.", "warning")
                return
            except RadiomicsResponseError as error:
                self._say(str(error), "error")
                return
            except Exception as error:  # an unexpected failure must reach the user, not only the log
                LOG.exception("computation failed")
                self._say(f"The computation failed: {error}", "error")
                return
            try:
                self._show_result(result, inputs)
            except Exception as error:  # an unexpected failure must reach the user, not only the log
                LOG.exception("showing the results failed")
                self._say(f"The lesion table was computed but could not be shown: {error}", "error")

    def _clear_results(self) -> None:
        self._patient = self._scored = self._computed = None
        self.state.rr_has_result = False
        self.state.rr_nomogram = {}
        self.state.rr_dicom_written = ""

    def _show_result(self, result, inputs) -> None:
        state = self.state
        state.rr_lesion_table = results.lesion_rows(result.table)
        state.rr_volume_table = results.volume_rows(result.table)
        state.rr_recist = results.recist_items(result.recist)
        state.rr_errors = results.error_messages(result.errors)
        state.rr_waterfall_svg, state.rr_waterfall = self._waterfall(result.table)
        state.rr_progress = 100
        state.rr_progress_text = "Done"
        state.rr_has_result = True
        self._computed = (result, inputs)
        state.rr_dicom_problem = session.dicom_export_problem(inputs) or ""
        state.rr_dicom_written = ""
        try:
            written = session.write_result(result, self.out_dir, inputs)
            state.rr_saved_to = f"{self.out_dir.resolve()}: " + ", ".join(path.name for path in written)
        except (OSError, RadiomicsResponseError) as error:
            state.rr_saved_to = ""
            state.rr_errors = state.rr_errors + [f"The lesion table could not be saved in {self.out_dir}: {error}"]
        self._say_with_warnings(f"Lesion table computed: {len(result.table)} lesions.", result.warnings)
        try:
            self._later_stages(result)
        except Exception as error:  # an unexpected failure is shown (and logged); the lesion results stay
            LOG.exception("later stages failed")
            self._say(f"Lesion table computed; the later stages failed: {error}", "warning")

    def _waterfall(self, table) -> tuple:
        """(SVG, per-lesion items) of the waterfall; a failure is listed with the lesion problems."""
        try:
            return results.waterfall_svg(table), results.waterfall_items(table)
        except Exception as error:  # the chart is a view of the table: never hide the table for it
            LOG.exception("waterfall failed")
            self.state.rr_errors = self.state.rr_errors + [f"The waterfall plot could not be drawn: {error}"]
            return "", []

    def _later_stages(self, result) -> None:
        """Patient row, signature and the nomogram's clinical form (NomogramScoreLib.patient_pipeline)."""
        self._patient = None
        self.state.rr_patient, self.state.rr_signature = [], {}
        self.state.rr_patient_error = self.state.rr_signature_error = ""
        signature = results.signature_model()
        try:
            self._patient = results.patient_result(result, signature)
        except RadiomicsResponseError as error:
            self.state.rr_patient_error = f"The patient row or its signature score could not be computed: {error}"
            return
        self.state.rr_patient = results.patient_items(self._patient, signature.get("inputs"))
        self.state.rr_signature = results.signature_panel(self._patient)
        self._prepare_clinical_form()

    def _extraction_params(self):
        """--params if given, else the demo's settings for the demo case, else those the signature assumes."""
        if self.params is not None:
            return self.params
        return results.extraction_params(self._demo, results.signature_model())

    def _prepare_clinical_form(self) -> None:
        fields = results.clinical_fields(results.nomogram_model())
        values = {**(results.demo_clinical_values() if self._demo else {}), **(self.state.rr_clinical_values or {})}
        score = (self.state.rr_signature or {}).get("score")
        for field in fields:
            if score is not None and field["name"] == "signature_score":
                values[field["name"]] = round(score, 4)
            values.setdefault(field["name"], "")
        self.state.rr_clinical_fields = fields
        self.state.rr_clinical_values = values

    def score_patient(self, values: dict) -> None:
        """Clinical form 'Score' button: nomogram risk with CI and the gauge."""
        self.state.rr_clinical_values = dict(values or {})
        self.state.rr_nomogram_error = ""
        if self._patient is None:
            self.state.rr_nomogram_error = "Compute the lesion table first."
            return
        try:
            self._scored = results.with_nomogram(self._patient, results.nomogram_model(), self.state.rr_clinical_values)
            self.state.rr_nomogram = results.nomogram_panel(self._scored)
        except RadiomicsResponseError as error:
            self._scored = None
            self.state.rr_nomogram = {}
            self.state.rr_nomogram_error = str(error)

    def export_dicom(self) -> None:
        """DICOM button: the SEGs and the SR of the last computation (with the signature and, once
        scored, the nomogram) into <work folder>/dicom."""
        if self._computed is None or self.state.rr_busy:
            return
        result, inputs = self._computed
        try:
            paths = session.export_dicom(result, inputs, self.out_dir / "dicom", patient=self._scored or self._patient)
        except (RadiomicsResponseError, OSError) as error:
            self._say(f"DICOM export failed: {error}", "error")
            return
        self.state.rr_dicom_written = ", ".join(str(Path(path).resolve()) for path in paths.values())
        self._say("DICOM SEG + SR written.", "success")

    # ----------------------------------------------------------------------------------- UI
    def _build_ui(self) -> None:
        with ViewerLayout(self.server, title="RadiomicsResponse", is_drawer_visible=True) as layout:
            self.layout = layout
            layout.title.set_text("RadiomicsResponse workstation")
            client.ClientTriggers(mounted=self._on_client_mounted)
            client.Style(".rr-svg svg { width: 100%; height: auto; display: block; } "
                         ".rr-table th, .rr-table td { padding: 0 2px !important; font-size: 11.5px; } "
                         ".rr-table th { line-height: 1.2; white-space: normal; }")
            with layout.appbar:
                self._appbar()
            with layout.drawer:
                self.editor_ui = SegmentEditorUI(v_if=("rr_loaded",))
                html.Div("Load a case to start segmenting.", v_if=("!rr_loaded",), classes="pa-4 text-medium-emphasis")
            with layout.toolbar:
                self.layout_button = LayoutButton(classes="mt-1", disabled=("!rr_loaded",))
                SegmentEditorToolbarUI(editor_ui=self.editor_ui)
            with layout.undo_redo:
                SegmentEditorUndoRedoUI(editor_ui=self.editor_ui)
            with layout.content:
                # Absolutely placed children: the panel's content must never stretch the views.
                with html.Div(style="flex: 1 1 auto; min-width: 0; align-self: stretch; position: relative;"):
                    with html.Div(id="rr-views", style="position: absolute; inset: 0;"):
                        self.layout_logic.layout_manager.initialize_layout_grid(layout)
                with html.Div(style="flex: 0 0 540px; align-self: stretch; position: relative;"):
                    with html.Div(id="rr-panel", classes="pa-2", style="position: absolute; inset: 0; overflow-y: auto;"):
                        self._reading_panel()
        self._load_dialog()

    def _appbar(self) -> None:
        v3.VSpacer()
        with v3.VBtnToggle(v_model=("rr_timepoint",), mandatory=True, density="compact", color="primary",
                           variant="outlined", classes="mr-4", id="rr-timepoint"):
            v3.VBtn("Baseline", value="baseline", id="rr-tp-baseline")
            v3.VBtn("Follow-up", value="followup", id="rr-tp-followup")
        v3.VBtn("Demo case", click=self.load_demo, prepend_icon="mdi-flask-outline", variant="tonal",
                classes="mr-2", id="rr-load-demo", disabled=("rr_busy",))
        v3.VBtn("Load images", click="rr_message = ''; rr_load_dialog = true", prepend_icon="mdi-folder-open", variant="tonal",
                classes="mr-2", id="rr-load", disabled=("rr_busy",))

    def _reading_panel(self) -> None:
        v3.VAlert(text=("rr_message",), type=("rr_message_type",), v_if=("rr_message",), density="compact",
                  closable=True, classes="mb-2", id="rr-message", click_close="rr_message = ''",
                  style="position: sticky; top: 0; z-index: 2; word-break: break-word;")
        self._lesions_card()
        self._compute_card()
        with html.Div(v_if=("rr_has_result",), id="rr-results"):
            self._lesion_table_card()
            self._recist_card()
            self._waterfall_card()
            self._patient_card()
            self._signature_card()
            self._nomogram_card()
            self._dicom_card()

    def _lesions_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-lesions"):
            v3.VCardTitle("Lesions at {{ rr_timepoint === 'baseline' ? 'baseline' : 'follow-up' }}",
                          classes="text-subtitle-1")
            with v3.VCardText():
                html.Div("No lesion yet: add a segment in the segment editor and paint it.",
                         v_if=("rr_loaded && rr_lesions.length === 0",), classes="text-medium-emphasis")
                with html.Div(v_for="(item, i) in rr_lesions", key="item.segment_id + '/' + rr_lesion_epoch",
                              classes="d-flex align-center mb-1", __properties=[("data_segment", "data-segment")],
                              data_segment=("item.segment_id",)):
                    v3.VIcon("mdi-circle", color=("item.color",), classes="mr-2",
                             click=(self.select_lesion, "[item.segment_id]"))
                    v3.VTextField(model_value=("item.name",), label="Name", density="compact", hide_details=True,
                                  classes="mr-2 rr-lesion-name", variant="outlined",
                                  change=(self.rename_lesion, "[item.segment_id, $event.target.value]"))
                    v3.VSelect(model_value=("item.location",), items=("rr_locations",), label="Location",
                               density="compact", hide_details=True, variant="outlined",
                               classes="rr-lesion-location", style="max-width: 150px;",
                               update_modelValue=(self.set_location, "[item.segment_id, $event]"))
                    v3.VChip("empty", v_if=("item.empty",), size="x-small", color="warning", classes="ml-1 rr-lesion-empty",
                             title="No voxel in this segment yet: paint it or remove it")

    def _compute_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-compute-card"):
            with v3.VCardText(classes="d-flex align-center"):
                v3.VBtn("Compute", click=self.start_compute, color="primary", prepend_icon="mdi-calculator",
                        disabled=("!rr_loaded || rr_busy",), id="rr-compute")
                v3.VBtn("Cancel", click=self.cancel_compute, v_if=("rr_busy",), variant="text", classes="ml-2",
                        id="rr-cancel")
                with html.Div(classes="flex-grow-1 ml-4"):
                    v3.VProgressLinear(model_value=("rr_progress",), height=8, color="primary", rounded=True,
                                       id="rr-progress")
                    html.Div("{{ rr_progress_text }}", classes="text-caption", id="rr-progress-text")

    def _lesion_table_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-lesion-table"):
            v3.VCardTitle("Lesion table", classes="text-subtitle-1")
            with v3.VCardText(classes="px-1"):  # the two tables need the card's full width
                for name, ident in (("rr_lesion_table", "rr-recist-measures"), ("rr_volume_table", "rr-volume-measures")):
                    v3.VDataTable(headers=(f"{name}.headers",), items=(f"{name}.rows",), id=ident,  # as in the report
                                  density="compact", items_per_page=-1, hide_default_footer=True,
                                  classes="rr-table mb-2")
                with html.Div(v_if=("rr_errors.length",), classes="text-error text-caption mt-1"):
                    html.Div("{{ e }}", v_for="e in rr_errors")
                html.Div("Saved in {{ rr_saved_to }}", v_if=("rr_saved_to",), classes="text-caption mt-1",
                         style="word-break: break-all;")

    def _recist_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-recist"):
            v3.VCardTitle("Response (RECIST 1.1, volumetric, Choi)", classes="text-subtitle-1")
            with v3.VCardText():
                with html.Table(classes="text-body-2", style="width: 100%;"):
                    with html.Tr(v_for="item in rr_recist", key="item.key",
                                 __properties=[("data_key", "data-key")], data_key=("item.key",)):
                        html.Td("{{ item.label }}", classes="pr-2 text-medium-emphasis")
                        html.Td("{{ item.value }}", classes="font-weight-medium")

    def _waterfall_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-waterfall"):
            v3.VCardTitle("Waterfall", classes="text-subtitle-1")
            with v3.VCardText():
                html.Div(v_html=("rr_waterfall_svg",), v_if=("rr_waterfall_svg",), classes="rr-svg",
                         style="overflow-x: auto; background: white; border-radius: 4px;")
                with html.Div(v_if=("!rr_waterfall_svg",), classes="text-caption"):
                    html.Div("{{ w.lesion_id }}: {{ w.change }}", v_for="w in rr_waterfall")

    def _patient_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-patient", v_if=("rr_has_result",)):
            v3.VCardTitle("Patient (volume-weighted aggregation)", classes="text-subtitle-1")
            with v3.VCardText():
                html.Div("{{ rr_patient_error }}", v_if=("rr_patient_error",), classes="text-error")
                with html.Table(classes="text-caption", style="width: 100%;"):
                    with html.Tr(v_for="item in rr_patient"):
                        html.Td("{{ item.label }}", classes="pr-2 text-medium-emphasis", style="word-break: break-all;")
                        html.Td("{{ item.value }}")

    def _signature_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-signature", v_if=("rr_has_result",)):
            v3.VCardTitle("Response signature", classes="text-subtitle-1")
            with v3.VCardText():
                html.Div("{{ rr_signature_error }}", v_if=("rr_signature_error",), classes="text-error")
                with html.Div(v_if=("rr_signature.model",)):
                    html.Div("Score {{ rr_signature.score_text }} — {{ rr_signature.reading }} "
                             "— model {{ rr_signature.model }}", id="rr-signature-score")

    def _nomogram_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-nomogram", v_if=("rr_has_result",)):
            v3.VCardTitle("Clinical form and prediction", classes="text-subtitle-1")
            with v3.VCardText():
                with html.Div(v_for="field in rr_clinical_fields", key="field.name",
                              __properties=[("data_field", "data-field")], data_field=("field.name",)):
                    v3.VSelect(v_if=("field.kind === 'select'",), items=("field.levels",),
                               v_model=("rr_clinical_values[field.name]",), label=("field.label",),
                               density="compact", hide_details=True, classes="mb-2")
                    v3.VTextField(v_else=True, v_model=("rr_clinical_values[field.name]",),
                                  readonly=("field.name === 'signature_score'",),
                                  label=("field.label + (field.unit ? ' (' + field.unit + ')' : '')",),
                                  density="compact", hide_details=True, classes="mb-2")
                v3.VBtn("Score", click=(self.score_patient, "[rr_clinical_values]"), color="primary",
                        variant="tonal", id="rr-score")
                html.Div("{{ rr_nomogram_error }}", v_if=("rr_nomogram_error",), classes="text-error mt-2")
                with html.Div(v_if=("rr_nomogram.svg",), classes="mt-2", id="rr-gauge"):
                    html.Div(v_html=("rr_nomogram.svg",), classes="rr-svg",
                             style="background: white; border-radius: 4px;")
                    html.Div("{{ rr_nomogram.heading }}: {{ rr_nomogram.risk }} ({{ rr_nomogram.ci }}), "
                             "{{ rr_nomogram.points }} points", classes="text-body-2")
                    html.Div("{{ rr_nomogram.reading }}", classes="text-body-2 font-weight-bold", id="rr-reading",
                             style=("'color: ' + rr_nomogram.reading_colour",))
                    html.Div("{{ w }}", v_for="w in rr_nomogram.warnings", classes="text-warning text-caption")

    def _dicom_card(self) -> None:
        with v3.VCard(classes="mb-2", id="rr-dicom", v_if=("rr_has_result",)):
            v3.VCardTitle("DICOM", classes="text-subtitle-1")
            with v3.VCardText():
                v3.VBtn("Export DICOM SEG + SR", click=self.export_dicom, prepend_icon="mdi-database-export",
                        variant="tonal", disabled=("rr_busy || !!rr_dicom_problem",), id="rr-export-dicom")
                html.Div("{{ rr_dicom_problem }}", v_if=("rr_dicom_problem",), classes="text-caption mt-1",
                         id="rr-dicom-problem")
                html.Div("Written: {{ rr_dicom_written }}", v_if=("rr_dicom_written",), classes="text-caption mt-1",
                         style="word-break: break-all;", id="rr-dicom-written")

    def _load_dialog(self) -> None:
        with self.layout:
            with v3.VDialog(v_model=("rr_load_dialog",), max_width=640):
                with v3.VCard(title="Load baseline and follow-up"):
                    with v3.VCardText():
                        html.Div("Files on this computer: NRRD, NIfTI, MHA or a DICOM series folder; segmentations "
                                 "as .seg.nrrd, label maps, DICOM SEG or RT Structure Set (optional). DICOM SEG + SR "
                                 "export needs both images as DICOM series folders.", classes="text-caption mb-2")
                        v3.VAlert(text=("rr_message",), type="error", density="compact", classes="mb-2",
                                  v_if=("rr_message && rr_message_type === 'error'",), style="word-break: break-all;")
                        for key, label in (("baseline_image", "Baseline image"), ("baseline_seg", "Baseline segmentation"),
                                           ("followup_image", "Follow-up image"), ("followup_seg", "Follow-up segmentation"),
                                           ("locations", "Lesion locations CSV: lesion_id,location (optional)")):
                            v3.VTextField(v_model=(f"rr_paths.{key}",), label=label, density="compact", classes="mb-1")
                    with v3.VCardActions():
                        v3.VSpacer()
                        v3.VBtn("Cancel", click="rr_load_dialog = false")
                        v3.VBtn("Load", click=(self.load_paths, "[rr_paths]"), color="primary", variant="tonal",
                                id="rr-load-files")


def _reading_layout() -> Layout:
    """Axial view large, coronal and sagittal stacked beside it (no 3D: cheap on CPU rendering)."""
    return Layout(
        LayoutDirection.Horizontal,
        [ViewLayoutDefinition.axial_view(),
         Layout(LayoutDirection.Vertical, [ViewLayoutDefinition.coronal_view(), ViewLayoutDefinition.sagittal_view()])],
        flex_sizes=["2", "1"],
    )
