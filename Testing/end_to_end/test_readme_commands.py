"""The README's command-line section is executable documentation: every example runs as written.

The ``radiomics-response`` lines of the README's "Command line" section are run in order in a fresh
empty folder, with the optional extras the README names (pyradiomics, Dask, the web workstation,
MRML) made unimportable (a ``sitecustomize`` on PYTHONPATH, so batch worker processes see it too):
what the README shows must work with the core install alone. Then the outputs are checked against
what the README says they hold.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
#: top-level modules of the extras (pyproject optional-dependencies) the README's examples must not need
EXTRA_MODULES = ("radiomics", "dask", "distributed", "trame", "trame_slicer", "slicer", "vtk", "playwright")
BLOCKER = f'''
import sys
from importlib.abc import MetaPathFinder

class _NoExtras(MetaPathFinder):
    """Imports of the optional extras fail, as after a core install."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {EXTRA_MODULES!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: core install)", name=name)
        return None

sys.meta_path.insert(0, _NoExtras())
'''


def readme_commands(readme: Path = REPO / "README.md") -> list[str]:
    """The commands of the README's 'Command line' section, continuation lines joined, in order."""
    text = readme.read_text(encoding="utf-8")
    section = text.split("\n## Command line", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", section, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def test_readme_lists_the_workflow_from_sample_data_to_report():
    names = [shlex.split(command)[1] for command in readme_commands()]
    assert names[0] == "sample-data" and names[-1] == "report"
    for name in ("extract", "recist", "feature-maps", "aggregate", "batch", "train", "evaluate", "apply", "nomogram"):
        assert name in names, name
    for command in readme_commands():
        assert "[" not in command and "|" not in command, f"not a runnable example: {command}"


@pytest.fixture(scope="module")
def workflow(tmp_path_factory):
    """Run every README command in a fresh folder; the folder and each command's output."""
    folder = tmp_path_factory.mktemp("readme")
    site = tmp_path_factory.mktemp("core_install")
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site)] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    script = Path(sys.executable).with_name("radiomics-response")
    runner = [str(script)] if script.is_file() else [sys.executable, "-m", "NomogramScoreLib"]
    outputs = {}
    for command in readme_commands():
        argv = shlex.split(command)
        finished = subprocess.run(runner + argv[1:], cwd=folder, env=env, capture_output=True, text=True,
                                  encoding="utf-8", timeout=300)
        assert finished.returncode == 0, f"{command}\n{finished.stderr[-3000:]}"
        assert "Traceback" not in finished.stderr, f"{command}\n{finished.stderr[-3000:]}"
        outputs[" ".join(argv[1:3])] = finished.stdout
    return folder, outputs


@pytest.mark.slow
def test_every_readme_command_runs_with_the_core_install(workflow):
    folder, outputs = workflow
    for name in ("lesions.csv", "lesions_fu2.csv", "recist.csv", "patients.csv", "cohort/lesions.csv",
                 "cohort/patients.csv", "cohort_patients.csv", "model.json", "dercle_model.json", "metrics.json",
                 "metrics_roc.svg", "scored.csv", "cohort_scored.csv", "nomogram.json", "gauge.svg",
                 "nomogram_metrics.json", "report.html", "maps/feature_maps.provenance.json"):
        assert (folder / name).is_file(), name
    # the unit is remembered and the value given in g/dL converted, and said so
    assert "3.4 g/dL = 34 g/L" in outputs["nomogram score"]
    assert json.loads((folder / "nomogram.json").read_text(encoding="utf-8"))["model"]["predictors"][1]["unit"] == "g/L"


@pytest.mark.slow
def test_outputs_hold_what_the_readme_says(workflow):
    folder, _ = workflow
    lesions = pd.read_csv(folder / "lesions.csv")
    for column in ("patient_id", "lesion_id", "location", "status", "target", "baseline:longest_diameter_mm",
                   "followup:volume_ml", "delta:original_firstorder_Entropy", "reldelta:original_firstorder_Entropy"):
        assert column in lesions.columns, column
    patients = pd.read_csv(folder / "patients.csv")
    assert "volume_weighted:delta:original_firstorder_Entropy" in patients.columns
    assert {"recist_category", "recist_reason", "aggregation_notes"} <= set(patients.columns)
    recist = pd.read_csv(folder / "recist.csv")
    assert list(recist["followup"]) == [1, 2] and "nadir_mm" in recist.columns
    cohort = pd.read_csv(folder / "cohort_patients.csv")
    assert {"response", "no_benefit", "albumin", "lymphocytes"} <= set(cohort.columns) and len(cohort) == 12
    scored = pd.read_csv(folder / "cohort_scored.csv")
    assert scored["signature_score"].between(0, 1).all() and set(scored["signature_class"]) <= {0, 1}
    provenance = json.loads((folder / "cohort_scored.csv.provenance.json").read_text(encoding="utf-8"))
    model = json.loads((folder / "dercle_model.json").read_text(encoding="utf-8"))
    assert provenance["signature_model"]["sha256"] == model["sha256"]
    assert len(model["inputs"]) == 4  # every template input, none dropped
    trained = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    assert all(column.startswith("volume_weighted:delta:") for column in trained["inputs"])
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "C02" in report and model["name"] in report
    # the models record the settings their inputs assume, so extract --model computes just those features
    assert model["extraction_settings"] == {"preset": "dercle2020_signature"}
    assert trained["extraction_settings"]["featureClass"]["zhao"]  # from the cohort table's provenance
    only = pd.read_csv(folder / "lesions_signature.csv").columns
    needed = {column.split(":", 1)[1] for column in model["inputs"]}  # reldelta:<feature>
    assert needed <= set(only) and len(only) < len(lesions.columns)


def test_core_dependencies_cover_training():
    tomllib = pytest.importorskip("tomllib", reason="tomllib needs Python 3.11+")
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    core = " ".join(project["dependencies"]).lower()
    for package in ("scikit-learn", "statsmodels", "lifelines"):
        assert package in core, package
    assert project["optional-dependencies"]["train"] == []  # kept so that old install commands still work


def test_a_missing_extra_is_one_line_with_the_install_hint(tmp_path, capsys):
    import argparse

    from ResponseSignatureLib.cli_support import dispatch

    def needs_dask(_args):
        raise ModuleNotFoundError("No module named 'distributed'", name="distributed")

    parser = argparse.ArgumentParser()
    parser.set_defaults(func=needs_dask)
    assert dispatch(parser, []) == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: this needs the optional package 'distributed': pip install \"radiomics-response[dask]\""]

    # a real command with the extra missing: exit code 2, no traceback, the install command named
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER, encoding="utf-8")
    from ResponseSignatureLib.sample_data import make_sample_case

    paths = make_sample_case(tmp_path / "case")
    finished = subprocess.run([sys.executable, "-m", "NomogramScoreLib", "feature-maps", "--image",
                               str(paths["baseline_image"]), "--mask", str(paths["baseline_seg"]), "--engine",
                               "pyradiomics", "--out-dir", str(tmp_path / "maps")], env={**os.environ,
                              "PYTHONPATH": str(site)}, capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert finished.returncode == 2 and "Traceback" not in finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "radiomics-response[pyradiomics]" in last
