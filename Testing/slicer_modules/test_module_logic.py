"""The module files' self-tests and Logic, headless, against real MRML nodes from slicer-core.

Each module's ``<Module>Test`` methods that need no widget run here as they run under ctest
(unittest, one method at a time, setUp first), with the application-only names replaced by the
stand-ins of slicer_app_standins.py. Also: the self-tests' skip conditions (skipped, never failed,
in testing mode when a package is missing), the reload rule that keeps the model-kind registry
whole, SampleData registration without duplicates, and the Logic's cohort run through the worker.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import textwrap
import types
import unittest
from pathlib import Path

import pytest

pytest.importorskip("slicer", reason="slicer-core (headless MRML) is not installed")

import slicer_app_standins  # noqa: E402

REPO = slicer_app_standins.REPO
#: Self-test methods that build Qt widgets (the predictor form): only in the Slicer application.
WIDGET_TESTS = {"test_NomogramScore_PredictorForm"}


@pytest.fixture(scope="module")
def modules(tmp_path_factory) -> dict:
    slicer = slicer_app_standins.install(str(tmp_path_factory.mktemp("slicer-cache")))
    loaded = {name: slicer_app_standins.load_module_file(name) for name in slicer_app_standins.MODULES}
    yield loaded
    slicer.app.testing = True


def self_test_names(module, name: str) -> list[str]:
    return sorted(attribute for attribute in dir(getattr(module, f"{name}Test")) if attribute.startswith("test_"))


def run_self_tests(module, name: str) -> unittest.TestResult:
    """Run ``<name>Test``'s test methods (widget tests left out) with unittest, as slicer.testing.runUnitTest does."""
    cls = getattr(module, f"{name}Test")
    suite = unittest.TestSuite(cls(test) for test in self_test_names(module, name) if test not in WIDGET_TESTS)
    return unittest.TextTestRunner(verbosity=0, stream=open("/dev/null", "w")).run(suite)


@pytest.mark.parametrize("name", slicer_app_standins.MODULES)
def test_module_self_tests_pass_on_real_mrml_nodes(modules, name):
    result = run_self_tests(modules[name], name)
    problems = [f"{test.id()}: {trace.strip().splitlines()[-1]}" for test, trace in result.failures + result.errors]
    assert not problems, f"{name}Test failed: {problems}"
    assert not result.skipped, f"{name}Test skipped with every package installed: {result.skipped}"
    assert result.testsRun == len(set(self_test_names(modules[name], name)) - WIDGET_TESTS)


def sphere_cases(module, baseline_radius: float, followup_radius: float):
    """(baseline, follow-up) (volume, segmentation) node pairs of the sphere self-test, in a new scene."""
    test = module.ResponseSignatureTest("test_ResponseSignature_SphereShrinkage")
    test.setUp()
    return (test._sphereCase("baseline", baseline_radius, size=40),
            test._sphereCase("followup", followup_radius, size=40))


def test_response_signature_logic_writes_the_lesion_table_and_waterfall_nodes(modules):
    """The sphere self-test's Logic output, read back from the scene's nodes."""
    import slicer

    module = modules["ResponseSignature"]
    baseline, followup = sphere_cases(module, 12.0, 6.0)
    logic = module.ResponseSignatureLogic()
    result = logic.process(*baseline, *followup, params="default", patientId="P7", toleranceMm=10.0)
    table = logic.lastTableNode
    assert table is slicer.mrmlScene.GetNodeByID(table.GetID()) and table.GetNumberOfRows() == len(result.table) == 1
    assert table.GetTable().GetColumnByName("baseline:volume_ml") is not None
    chart = logic.lastWaterfallChart
    assert chart is not None and chart.GetNumberOfPlotSeriesNodes() == 1
    waterfall = table.GetNodeReference(module.WATERFALL_TABLE_REFERENCE)
    # (6 - 12) / 12: the diameter halves; the waterfall table holds that change in percent.
    change = float(waterfall.GetTable().GetValueByName(0, "diameter_change_percent").ToDouble())
    assert change == pytest.approx(-50.0, abs=5.0)
    logic.process(*baseline, *followup, params="default", patientId="P7", toleranceMm=10.0, outputTable=table)
    assert slicer.mrmlScene.GetNumberOfNodesByClass("vtkMRMLPlotChartNode") == 1, "a re-run must replace its chart"


def test_response_signature_logic_computes_only_the_models_features(modules):
    """'Only the model's features': the demo signature's settings narrowed to its inputs, through process()."""
    module = modules["ResponseSignature"]
    baseline, followup = sphere_cases(module, 12.0, 8.0)
    logic = module.ResponseSignatureLogic()
    model_path = REPO / "ResponseSignature" / "Resources" / "Models" / "demo_signature.json"
    params = logic.modelExtractionParams(str(model_path))
    assert params["imageType"] == {"Original": {}, "LoG": {"sigma": [2.0, 4.0]}}
    result = logic.process(*baseline, *followup, params=params, patientId="P8", toleranceMm=10.0, createChart=False)
    needed = {"delta:original_shape_Sphericity", "delta:log-sigma-2-0-mm-3D_firstorder_Entropy",
              "delta:log-sigma-4-0-mm-3D_firstorder_Entropy", "delta:original_ngtdm_Contrast"}
    features = {column for column in result.table.columns if column.startswith(("delta:original_", "delta:log-"))}
    # the classes named apply to each image type named: 3 image types x (Entropy, Contrast) + Sphericity
    assert needed <= features and len(features) == 7
    with pytest.raises(ValueError, match="model file first"):
        logic.modelExtractionParams("")


def test_lesion_aggregate_logic_runs_the_cohort_in_a_worker(modules, tmp_path):
    from ResponseSignatureLib.sample_data import make_sample_case

    make_sample_case(tmp_path / "P1", seed=3, patient_id="P1")
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["patient_id", "timepoint", "image", "segmentation"])
        writer.writerow(["P1", "baseline", "P1/baseline.nrrd", "P1/baseline.seg.nrrd"])
        writer.writerow(["P1", "followup", "P1/followup.nrrd", "P1/followup.seg.nrrd"])
    params = tmp_path / "light.yaml"
    params.write_text("imageType:\n  Original: {}\nfeatureClass:\n  shape:\nsetting:\n  label: 1\n", encoding="utf-8")
    logic = modules["LesionAggregate"].LesionAggregateLogic()
    with pytest.raises(ValueError, match="output folder"):
        logic.startCohort(str(manifest), "")
    seen = []
    summary = logic.runCohort(str(manifest), str(tmp_path / "out"), jobs=1, params=str(params),
                              progress=lambda fraction, message: seen.append(fraction), python=sys.executable)
    assert summary["done"] == 1 and summary["failed"] == 0 and seen and seen[-1] == pytest.approx(1.0)
    assert (tmp_path / "out" / "patients.csv").is_file()


# ------------------------------------------------------------------ self-test skip conditions

def test_skip_reason_only_in_testing_mode_with_packages_missing():
    from RadiomicsResponseSlicerUtils.dependencies import selfTestSkipReason

    paths = ["/x/Resources/LesionAggregateRequirements.txt"]
    reason = selfTestSkipReason(["pandas>=1.5"], True, paths)
    assert "pandas>=1.5" in reason and 'PythonSlicer -m pip install -r "/x/Resources/LesionAggregateRequirements.txt"' in reason
    assert selfTestSkipReason(["pandas>=1.5"], False, paths) is None, "outside testing mode the test installs instead"
    assert selfTestSkipReason([], True, paths) is None


def test_missing_requirements_are_read_from_installed_metadata(tmp_path):
    from RadiomicsResponseSlicerUtils.dependencies import missingPythonRequirements, requirementsPath

    for name in slicer_app_standins.MODULES:
        assert missingPythonRequirements(requirementsPath(name, str(REPO / name))) == [], f"{name}'s packages are installed here"
    wanted = tmp_path / "Requirements.txt"
    wanted.write_text("# comment\npandas>=1.5\nPyYAML>=999\nno-such-package-radiomics-xyz>=1\n--index-url x\n", encoding="utf-8")
    assert missingPythonRequirements(str(wanted)) == ["PyYAML>=999", "no-such-package-radiomics-xyz>=1"]


def test_a_self_test_skips_not_fails_when_a_package_is_missing_in_testing_mode(modules, tmp_path):
    """LesionAggregateTest on a 'fresh Slicer' (its requirements file names a package that is not
    installed): the unittest run (as ctest runs it) is successful, the test reported as skipped."""
    module = modules["LesionAggregate"]
    (tmp_path / "Resources").mkdir()
    (tmp_path / "Resources" / "LesionAggregateRequirements.txt").write_text("no-such-package-radiomics-xyz>=1\n")
    original = module.__file__
    module.__file__ = str(tmp_path / "LesionAggregate.py")
    try:
        result = run_self_tests(module, "LesionAggregate")
    finally:
        module.__file__ = original
    assert result.wasSuccessful() and result.testsRun == 2
    assert [test.id().rsplit(".", 1)[1] for test, _reason in result.skipped] == ["test_LesionAggregate_VolumeWeighted"]
    assert "no-such-package-radiomics-xyz" in result.skipped[0][1]


def test_run_self_tests_reports_a_skip_and_runs_the_others():
    from RadiomicsResponseSlicerUtils.dependencies import runSelfTests

    ran, shown = [], []

    class Case:
        def setUp(self):
            ran.append("setUp")

        def delayDisplay(self, message):
            shown.append(message)

        def test_skipped(self):
            raise unittest.SkipTest("needs pandas")

        def test_runs(self):
            ran.append("test_runs")

    case = Case()
    runSelfTests(case, [case.test_skipped, case.test_runs])
    assert ran == ["setUp", "setUp", "test_runs"] and shown == ["test_skipped skipped: needs pandas"]


# ------------------------------------------------------------- reload and SampleData registry

RELOAD_SCRIPT = textwrap.dedent("""
    import importlib, json, sys
    sys.path[:0] = {paths!r}
    import NomogramScoreLib.nomogram
    from ResponseSignatureLib.models import modelfile
    before = modelfile.known_kinds()
    importlib.reload(modelfile)                 # what the old Reload button did to the registry
    after_plain_reload = importlib.import_module("ResponseSignatureLib.models.modelfile").known_kinds()
    from RadiomicsResponseSlicerUtils.reloading import reloadLibraries
    forgotten = reloadLibraries("ResponseSignatureLib")
    import NomogramScoreLib.nomogram            # as NomogramScoreLogic.loadModel does
    from ResponseSignatureLib.models import load_model
    from ResponseSignatureLib.models.modelfile import known_kinds
    model = load_model({model!r})
    print(json.dumps({{"before": before, "after_plain_reload": after_plain_reload, "after": known_kinds(),
                      "forgot_nomogram": "NomogramScoreLib.nomogram" in forgotten, "kind": model["kind"]}}))
""")


def test_reload_keeps_the_model_kind_registry_whole():
    import json

    paths = [str(REPO / folder) for folder in ("ResponseSignature", "LesionAggregate", "NomogramScore")]
    script = RELOAD_SCRIPT.format(paths=paths, model=str(REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"))
    output = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    result = json.loads(output.strip().splitlines()[-1])
    assert {"nomogram_logistic", "nomogram_cox", "logistic"} <= set(result["before"])
    assert "nomogram_logistic" not in result["after_plain_reload"], "a plain reload empties the registry (the old bug)"
    assert result["forgot_nomogram"], "reloading ResponseSignatureLib must also forget the Libs downstream of it"
    assert set(result["after"]) == set(result["before"]) and result["kind"] == "nomogram_logistic"


def test_sample_data_registration_replaces_instead_of_duplicating():
    from RadiomicsResponseSlicerUtils.sampledata import SAMPLE_CATEGORY, SAMPLE_NAME, forgetSampleSources

    other = types.SimpleNamespace(sampleName="SomeoneElsesSample")
    sources = {SAMPLE_CATEGORY: [types.SimpleNamespace(sampleName=SAMPLE_NAME), other,
                                 types.SimpleNamespace(sampleName=SAMPLE_NAME)], "CT": [other]}
    registered = sources[SAMPLE_CATEGORY]
    assert forgetSampleSources(sources) == 2
    assert sources[SAMPLE_CATEGORY] is registered and registered == [other], "SampleData's own list, edited in place"
    assert sources["CT"] == [other]
    assert forgetSampleSources({}) == 0


# ------------------------------------------------------------- a fresh Slicer: nothing installed

#: What Slicer 5.8/5.10 bundle (numpy, scipy, SimpleITK, vtk, packaging) plus the headless MRML
#: wheel standing in for the application's own MRML; every other package is absent.
BUNDLED = ("numpy", "numpy.libs", "scipy", "scipy.libs", "SimpleITK", "vtk.py", "vtkmodules", "packaging", "slicer",
           "slicer_core", "slicer_layer_dm")
FRESH_SLICER_SCRIPT = textwrap.dedent("""
    import json, sys, unittest
    sys.path[:0] = {paths!r}
    import slicer_app_standins
    slicer_app_standins.install({cache!r}, testing=True)
    report = {{}}
    for name in slicer_app_standins.MODULES:
        module = slicer_app_standins.load_module_file(name)
        cls = getattr(module, name + "Test")
        tests = sorted(t for t in dir(cls) if t.startswith("test_") and t != "test_NomogramScore_PredictorForm")
        result = unittest.TextTestRunner(verbosity=0, stream=open("/dev/null", "w")).run(
            unittest.TestSuite(cls(t) for t in tests))
        report[name] = {{"ok": result.wasSuccessful(), "run": result.testsRun,
                        "skipped": {{t.id().rsplit(".", 1)[1]: why for t, why in result.skipped}},
                        "problems": [tb.strip().splitlines()[-1] for _t, tb in result.failures + result.errors]}}
    print(json.dumps(report))
""")


def test_self_tests_skip_instead_of_failing_on_a_fresh_slicer(tmp_path):
    """Only Slicer's bundled packages importable (no pandas, PyYAML, PyWavelets, scikit-image), testing
    mode: every self-test passes or is skipped naming the missing packages; none fails."""
    import json
    import site

    site_packages = next(Path(p) for p in site.getsitepackages() if (Path(p) / "numpy").is_dir())
    fresh = tmp_path / "site-packages"
    fresh.mkdir()
    for entry in site_packages.iterdir():
        name = entry.name.split("-")[0].lower()
        if entry.name in BUNDLED or (entry.name.endswith(".dist-info") and name in {b.lower().split(".")[0] for b in BUNDLED}):
            (fresh / entry.name).symlink_to(entry)
    paths = [str(fresh), str(REPO / "Testing")] + [str(REPO / m) for m in slicer_app_standins.MODULES]
    script = FRESH_SLICER_SCRIPT.format(paths=paths, cache=str(tmp_path / "cache"))
    completed = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads(completed.stdout.strip().splitlines()[-1])
    for name, outcome in report.items():
        assert outcome["ok"] and not outcome["problems"], f"{name}Test fails on a fresh Slicer: {outcome['problems']}"
    assert set(report["ResponseSignature"]["skipped"]) == {"test_ResponseSignature_SphereShrinkage"}
    assert set(report["LesionAggregate"]["skipped"]) == {"test_LesionAggregate_VolumeWeighted"}
    assert set(report["NomogramScore"]["skipped"]) == {"test_NomogramScore_ModelChecks", "test_NomogramScore_ValuesFromTable"}
    assert report["NomogramScore"]["run"] == 2
    reason = report["ResponseSignature"]["skipped"]["test_ResponseSignature_SphereShrinkage"]
    assert all(package in reason for package in ("pandas", "PyYAML", "PyWavelets", "scikit-image")), reason
    assert report["ResponseSignature"]["run"] == 2


# ------------------------------------------------------------- one patient pipeline, three front ends

def test_slicer_modules_give_the_demo_patient_result(modules, tmp_path):
    """The demo case through the three modules' Logic (lesion table node -> Lesion Aggregate with the
    demo signature -> Nomogram Score with the demo's clinical values) gives ``run_full_demo``'s
    patient result: same row, signature score, RECIST and risk."""
    import slicer

    from NomogramScoreLib.demo_pipeline import DEMO_CLINICAL, demo_params, run_full_demo, shipped_model
    from ResponseSignatureLib import imageio, mrml_bridge

    demo = run_full_demo(tmp_path / "demo")["result"]
    nodes = []
    for timepoint in ("baseline", "followup"):
        image = imageio.read_image(tmp_path / "demo" / "sample_case" / f"{timepoint}.nrrd")
        segments = imageio.read_segments(tmp_path / "demo" / "sample_case" / f"{timepoint}.seg.nrrd", image)
        volume = mrml_bridge.volume_node_from_sitk(slicer.mrmlScene, image, f"{timepoint} CT")
        nodes += [volume, mrml_bridge.segmentation_node_from_segments(slicer.mrmlScene, segments, volume, timepoint)]
    lesions = modules["ResponseSignature"].ResponseSignatureLogic()
    lesions.process(*nodes, params=demo_params(), patientId="sample", createChart=False)
    patients = modules["LesionAggregate"].LesionAggregateLogic().aggregate(
        [lesions.lastTableNode], "volume_weighted",
        signatureModelPath=str(shipped_model("ResponseSignatureLib", "demo_signature.json")))
    nomogram = modules["NomogramScore"].NomogramScoreLogic()
    model = nomogram.loadModel(str(shipped_model("NomogramScoreLib", "demo_nomogram.json")))
    shown = nomogram.score(model, DEMO_CLINICAL, patients, "sample")
    ours = nomogram.lastPatientResult

    assert ours.recist == {key: value for key, value in demo.recist.items() if key in ours.recist}
    assert ours.recist["recist_category"] == demo.recist["recist_category"]
    assert ours.signature["score"] == pytest.approx(demo.signature["score"], abs=1e-12)
    assert {key: ours.signature[key] for key in ("name", "version", "sha256", "class")} == \
        {key: demo.signature[key] for key in ("name", "version", "sha256", "class")}
    for key in ("risk", "ci_low", "ci_high", "total_points"):
        assert ours.risk[key] == pytest.approx(demo.risk[key], abs=1e-12), key
        assert shown[key] == ours.risk[key]
    assert "<svg" in shown["gauge_svg"]
    row, expected = ours.row, demo.row
    assert set(row) == set(expected)
    for column, value in expected.items():  # a table node holds an empty text cell as None
        if isinstance(value, float):
            assert row[column] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), column
        else:
            assert (row[column] or "") == (value or ""), column
    report = nomogram.exportReport(str(tmp_path / "report.html"))
    assert demo.signature["name"] in Path(report).read_text(encoding="utf-8")
