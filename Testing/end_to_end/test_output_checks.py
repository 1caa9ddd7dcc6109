"""Outputs checked before any work, named as the user wrote them, written whole; options that do
nothing alone are refused.

Like test_bad_inputs.py, each command runs through ``radiomics-response`` (``NomogramScoreLib.cli.main``)
on real files and the test asserts the exit code, the first line of the message, no traceback, and
that the output folder (with a pre-existing result in it) is exactly as it was:

- ``sample-data OUTDIR``: a positional argument is named by its metavar (``OUTDIR``), not ``--outdir``;
- ``evaluate``: ``<stem>_roc.svg`` / ``<stem>_calibration.svg`` beside ``--out`` are checked before any
  work, so the metrics file is not replaced when a plot cannot be written;
- ``feature-maps``: its provenance file is checked before any work, every map path before the first
  map is written, and each map is written through a temporary file and a rename;
- ``report --clinical`` without ``--nomogram-model`` is an error (the values would be ignored).
"""
from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from NomogramScoreLib.cli import main
from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.outputs import write_file_atomic, write_text_atomic

REPO = Path(__file__).resolve().parents[2]
SIGNATURE_MODEL = REPO / "ResponseSignature" / "Resources" / "Models" / "demo_signature.json"
KEEP = "a result of an earlier run: keep me\n"
MAP_PARAMS = "imageType: {Original: {}}\nfeatureClass: {firstorder: [Mean, Entropy, Energy]}\nvoxelSetting: {kernelRadius: 1}\n"


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A small image with one cubic lesion, a patient table with the demo signature's inputs and an outcome."""
    folder = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(11)
    values = rng.normal(40.0, 10.0, (12, 14, 14)).astype(np.float32)
    labels = np.zeros(values.shape, np.uint8)
    labels[4:8, 5:9, 5:9] = 1
    files = {"image": folder / "ct.nrrd", "mask": folder / "seg.nrrd", "params": folder / "maps.yaml",
             "patients": folder / "patients.csv"}
    sitk.WriteImage(sitk.GetImageFromArray(values), str(files["image"]))
    sitk.WriteImage(sitk.GetImageFromArray(labels), str(files["mask"]))
    files["params"].write_text(MAP_PARAMS, encoding="utf-8")
    model = json.loads(SIGNATURE_MODEL.read_text(encoding="utf-8"))
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(1, 21)], "outcome": [0, 1] * 10})
    for column in model["inputs"]:
        patients[column] = rng.normal(0.0, 1.0, len(patients))
    patients.to_csv(files["patients"], index=False)
    return files


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: relative path -> (bytes, modification time) or 'dir'."""
    return {str(p.relative_to(folder)): ("dir",) if p.is_dir() else (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*"))}


def prepare(out: Path, existing: list[str]) -> None:
    """Pre-existing outputs: a folder for names ending with '/', else a file holding KEEP."""
    out.mkdir(parents=True, exist_ok=True)
    for name in existing:
        if name.endswith("/"):
            (out / name).mkdir(parents=True)
        else:
            (out / name).write_text(KEEP, encoding="utf-8")


def run(argv: list[str], capsys) -> tuple[int, str]:
    """``radiomics-response ARGV`` in this process: (exit code, stdout + stderr)."""
    try:
        code = main([str(item) for item in argv])
    except SystemExit as exit_:
        code = exit_.code
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def first_message_line(output: str) -> str:
    return next(line for line in output.split("\n") if line.startswith("error:"))


def assert_refused(argv, out: Path, existing: list[str], message: str, capsys) -> None:
    prepare(out, existing)
    before = snapshot(out)
    code, output = run(argv, capsys)
    assert "Traceback" not in output
    assert code == 2, output
    assert re.match(message, first_message_line(output)), first_message_line(output)
    assert snapshot(out) == before, "the output folder changed"


# ------------------------------------------------------------------------------ named as written

def test_a_positional_output_is_named_by_its_metavar(tmp_path, capsys):
    out = tmp_path / "out"
    assert_refused(["sample-data", out / "case"], out, ["case"], r"error: OUTDIR '[^']*case' is a file; give a folder\.$",
                   capsys)


def test_an_option_is_named_by_its_long_form(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    assert_refused(["feature-maps", "--image", inputs["image"], "--mask", inputs["mask"], "--out-dir", out / "maps"],
                   out, ["maps"], r"error: --out-dir '[^']*maps' is a file; give a folder\.$", capsys)


# ------------------------------------------------------------------------- evaluate's plot files

@pytest.mark.parametrize("plot, label", [("metrics_roc.svg", "ROC plot"), ("metrics_calibration.svg", "Calibration plot")])
def test_evaluate_checks_its_plot_files_before_any_work(inputs, tmp_path, capsys, plot, label):
    out = tmp_path / "out"
    argv = ["evaluate", "--model", SIGNATURE_MODEL, "--table", inputs["patients"], "--outcome", "outcome",
            "--n-boot", "0", "--out", out / "metrics.json"]
    assert_refused(argv, out, ["metrics.json", plot + "/"],
                   rf"error: {label} beside --out '[^']*{re.escape(plot)}' is a folder; give a file name\.$", capsys)


def test_evaluate_writes_the_metrics_and_both_plots(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    code, output = run(["evaluate", "--model", SIGNATURE_MODEL, "--table", inputs["patients"], "--outcome", "outcome",
                        "--n-boot", "0", "--out", out / "metrics.json"], capsys)
    assert code == 0, output
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "metrics_calibration.svg", "metrics_roc.svg"]


# ----------------------------------------------------------------------------------- feature maps

def feature_maps_argv(inputs, out: Path) -> list:
    return ["feature-maps", "--image", inputs["image"], "--mask", inputs["mask"], "--params", inputs["params"],
            "--out-dir", out]


def test_feature_maps_checks_its_provenance_file_before_any_work(inputs, tmp_path, capsys):
    out = tmp_path / "maps"
    assert_refused(feature_maps_argv(inputs, out), out, ["original_firstorder_Mean.nrrd", "feature_maps.provenance.json/"],
                   r"error: Provenance file in --out-dir '[^']*feature_maps\.provenance\.json' is a folder", capsys)


def test_feature_maps_checks_every_map_before_writing_one(inputs, tmp_path, capsys):
    """The map that cannot be written is the last one written: no earlier map may be replaced first."""
    first = tmp_path / "first"
    code, output = run(feature_maps_argv(inputs, first), capsys)
    assert code == 0, output
    written = list(json.loads((first / "feature_maps.provenance.json").read_text(encoding="utf-8"))["maps"])
    assert len(written) == 3
    assert sorted(p.name for p in first.iterdir()) == sorted([f"{n}.nrrd" for n in written] + ["feature_maps.provenance.json"])
    for path in first.iterdir():  # no temporary file left; shared like every other output
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    out = tmp_path / "maps"
    existing = [f"{name}.nrrd" for name in written[:-1]] + [f"{written[-1]}.nrrd/"]
    assert_refused(feature_maps_argv(inputs, out), out, existing,
                   rf"error: Output '[^']*{written[-1]}\.nrrd' is a folder; give a file name\.$", capsys)


def test_an_atomic_write_that_fails_leaves_the_old_file_whole(tmp_path):
    """write_file_atomic (feature maps) and write_text_atomic: a writer failing half-way changes nothing."""
    target = tmp_path / "original_firstorder_Mean.nrrd"
    target.write_text(KEEP, encoding="utf-8")
    seen = []

    def half_then_fail(temp_name: str) -> None:
        seen.append(temp_name)
        Path(temp_name).write_bytes(b"NRRD0004\n# half a map")
        raise InputError("disk full")

    with pytest.raises(InputError, match="disk full"):
        write_file_atomic(target, half_then_fail, keep_suffix=True)
    assert seen[0].endswith(".nrrd") and Path(seen[0]).parent == tmp_path  # SimpleITK picks the writer by suffix
    assert target.read_text(encoding="utf-8") == KEEP
    assert sorted(os.listdir(tmp_path)) == [target.name]
    write_text_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n" and sorted(os.listdir(tmp_path)) == [target.name]


# ----------------------------------------------------------------------------------------- report

def test_report_refuses_clinical_values_without_a_nomogram(inputs, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["report", "--patient", "P1", "--patients", inputs["patients"], "--clinical", "albumin=38",
            "--out", out / "report.html"]
    assert_refused(argv, out, ["report.html"], r"error: --clinical needs --nomogram-model", capsys)
    assert_refused(["nomogram"] + argv, out, [], r"error: --clinical needs --nomogram-model", capsys)
