"""Bad input, as a new user would give it, to every command: a clear one-line error and nothing lost.

Each row of ``CASES`` runs one real ``radiomics-response`` command (``NomogramScoreLib.cli.main``,
the console script's entry point, in this process; ``test_console_script_in_a_subprocess`` runs a
few through the installed script) on real files written by the ``files`` fixture, and asserts:

- the exit code (2: bad input);
- the first line of the message on stderr (progress-bar lines left out), a regular expression;
- no traceback anywhere in the output;
- no partial output: the case's output folder holds exactly what it held before (no new file, no
  temporary file), and a pre-existing output file (``KEEP``: every file output of a case is
  created beforehand with that content) is untouched, byte for byte and modification time.

``WORKSTATION_CASES`` do the same for the web workstation's file loading (``Session.load_case``,
what the load dialog calls): the message of the InputError it shows, and a scene left as it was.
Problems of one lesion (partly outside the image, NaN voxels) are not failures of the command:
``test_lesion_level_problems_are_errors_not_measurements`` checks them.
"""
from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import SimpleITK as sitk

from NomogramScoreLib.cli import main
from params_helpers import LIGHT_PARAMS_YAML as LIGHT_PARAMS

REPO_ROOT = Path(__file__).resolve().parents[2]
SIGNATURE_MODEL = REPO_ROOT / "ResponseSignature" / "Resources" / "Models" / "demo_signature.json"
NOMOGRAM_MODEL = REPO_ROOT / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"
KEEP = "a result of an earlier run: keep me\n"
SHAPE = (16, 28, 30)                     # (k, j, i) voxels of the synthetic scans
LESIONS = {1: np.s_[4:10, 5:12, 5:13], 2: np.s_[5:11, 15:23, 16:25]}


# ------------------------------------------------------------------------------------ input files

def scan(values: np.ndarray, spacing=(1.0, 1.0, 2.0), origin=(0.0, 0.0, 0.0)) -> sitk.Image:
    image = sitk.GetImageFromArray(values)
    image.SetSpacing(spacing)
    image.SetOrigin(origin)
    return image


def write_inputs(folder: Path) -> dict[str, Path]:
    """Every input file the cases use, good and bad, in ``folder``; returns name -> path."""
    rng = np.random.default_rng(7)
    values = rng.normal(40.0, 12.0, SHAPE).astype(np.float32)
    labels = np.zeros(SHAPE, np.uint8)
    for label, box in LESIONS.items():
        values[box] += 60.0
        labels[box] = label
    files: dict[str, Path] = {}

    def image(name: str, data: np.ndarray, **geometry) -> None:
        files[name] = folder / name
        sitk.WriteImage(scan(data, **geometry), str(files[name]))

    image("ct.nrrd", values)
    image("ct_followup.nrrd", values * 0.9)
    image("seg.nrrd", labels)
    image("blank_seg.nrrd", np.zeros(SHAPE, np.uint8))
    image("far_seg.nrrd", labels, origin=(900.0, 0.0, 0.0))
    image("flat.nrrd", values[0])                                   # one slice: a 2-D image
    for name, data in (("empty.nrrd", b""), ("text.nrrd", b"patient notes, not an image\n"),
                       ("truncated.nrrd", files["ct.nrrd"].read_bytes()[:-4000]),
                       ("binary.csv", bytes(range(256)) * 4), ("empty.csv", b""),
                       ("not_yaml.yaml", b"imageType: [Original\nfeatureClass: {"),
                       ("empty_model.json", b""), ("not_json.json", b"{'model': nope}")):
        files[name] = folder / name
        files[name].write_bytes(data)
    files["params.yaml"] = folder / "params.yaml"
    files["params.yaml"].write_text(LIGHT_PARAMS, encoding="utf-8")
    files["unknown_class.yaml"] = folder / "unknown_class.yaml"
    files["unknown_class.yaml"].write_text(LIGHT_PARAMS.replace("firstorder:", "fristorder:"), encoding="utf-8")
    files["locations_bad.csv"] = folder / "locations_bad.csv"
    files["locations_bad.csv"].write_text("lesion,organ\nlesion_1,liver\n", encoding="utf-8")
    _write_manifests(folder, files)
    _write_tables(folder, files)
    return files


def _write_manifests(folder: Path, files: dict[str, Path]) -> None:
    header = "patient_id,timepoint,image,segmentation\n"
    good = "P1,baseline,ct.nrrd,seg.nrrd\nP1,followup,ct_followup.nrrd,seg.nrrd\n"
    texts = {
        "manifest.csv": header + good,
        "manifest_nocol.csv": "patient_id,timepoint,image\nP1,baseline,ct.nrrd\n",
        "manifest_week.csv": header + "P1,week8,ct.nrrd,seg.nrrd\n",
        "manifest_missing.csv": header + "P1,baseline,nope.nrrd,seg.nrrd\nP1,followup,ct.nrrd,seg.nrrd\n",
        "manifest_twice.csv": header + good + "P1,followup,ct.nrrd,seg.nrrd\n",
        "manifest_header_only.csv": header,
    }
    for name, text in texts.items():
        files[name] = folder / name
        files[name].write_text(text, encoding="utf-8")


def _write_tables(folder: Path, files: dict[str, Path]) -> None:
    """A lesion table, and a patient table with the demo models' inputs and a 0/1 outcome."""
    rng = np.random.default_rng(3)
    lesions = pd.DataFrame({"patient_id": ["P1", "P1", "P2"], "lesion_id": ["lesion_1", "lesion_2", "lesion_1"],
                            "baseline:volume_ml": [2.0, 3.0, 1.5], "delta:volume_ml": [-0.5, 0.2, 0.1]})
    files["lesions.csv"] = folder / "lesions.csv"
    lesions.to_csv(files["lesions.csv"], index=False)
    files["no_patient_id.csv"] = folder / "no_patient_id.csv"
    lesions.drop(columns="patient_id").to_csv(files["no_patient_id.csv"], index=False)
    model = json.loads(SIGNATURE_MODEL.read_text(encoding="utf-8"))
    patients = pd.DataFrame({"patient_id": [f"P{i}" for i in range(1, 21)], "outcome": [0, 1] * 10})
    for column in model["inputs"]:
        patients[column] = rng.normal(0.0, 1.0, len(patients))
    patients["signature_score"] = rng.uniform(0.1, 0.9, len(patients))
    patients["albumin"], patients["lymphocytes"], patients["cea"], patients["stage"] = 38.0, 1.2, 12.0, "III"
    patients["three_valued"] = [0, 1, 2, 1] * 5
    files["patients.csv"] = folder / "patients.csv"
    patients.to_csv(files["patients.csv"], index=False)
    files["patients_no_inputs.csv"] = folder / "patients_no_inputs.csv"
    patients[["patient_id", "outcome"]].to_csv(files["patients_no_inputs.csv"], index=False)
    tampered = json.loads(NOMOGRAM_MODEL.read_text(encoding="utf-8"))
    tampered["threshold"]["value"] = 0.01
    files["tampered_nomogram.json"] = folder / "tampered_nomogram.json"
    files["tampered_nomogram.json"].write_text(json.dumps(tampered), encoding="utf-8")
    signature = json.loads(SIGNATURE_MODEL.read_text(encoding="utf-8"))
    signature["name"] = "renamed after saving"
    files["tampered_signature.json"] = folder / "tampered_signature.json"
    files["tampered_signature.json"].write_text(json.dumps(signature), encoding="utf-8")
    files["signature.json"], files["nomogram.json"] = SIGNATURE_MODEL, NOMOGRAM_MODEL


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    return write_inputs(tmp_path_factory.mktemp("inputs"))


# ------------------------------------------------------------------------------------------ cases

@dataclass
class Case:
    """One bad command line. ``argv`` items: ``{name}`` an input file, ``@name`` a path in the case's
    output folder (``@name`` in ``existing`` is created first: a file with KEEP, or a folder if it
    ends with '/'). ``message``: regular expression the first line of stderr must match."""

    id: str
    argv: list
    message: str
    existing: list = field(default_factory=list)
    code: int = 2


EXTRACT = ["extract", "--baseline", "{ct.nrrd}", "--baseline-seg", "{seg.nrrd}", "--followup", "{ct_followup.nrrd}",
           "--followup-seg", "{seg.nrrd}", "--params", "{params.yaml}", "--out", "@lesions.csv"]


def extract(**replace) -> list:
    """EXTRACT with some options' values replaced (keys: option names without '--', '_' for '-')."""
    argv = list(EXTRACT)
    for option, value in replace.items():
        flag = "--" + option.replace("_", "-")
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


IMAGE = r"error: Image '[^']*{}'"
SEGMENTATION = r"error: Segmentation '[^']*{}'"
CASES = [
    # extract: images
    Case("extract-image-missing", extract(baseline="@nope.nrrd"), IMAGE.format("nope.nrrd") + " does not exist"),
    Case("extract-image-empty-file", extract(baseline="{empty.nrrd}"), IMAGE.format("empty.nrrd") + r" is an empty file \(0 bytes\)"),
    Case("extract-image-not-an-image", extract(followup="{text.nrrd}"), IMAGE.format("text.nrrd") + " is not an image"),
    Case("extract-image-truncated", extract(baseline="{truncated.nrrd}"), IMAGE.format("truncated.nrrd") + " is truncated"),
    Case("extract-image-2d", extract(baseline="{flat.nrrd}"), IMAGE.format("flat.nrrd") + " has 2 dimensions"),
    Case("extract-image-folder-without-dicom", extract(baseline="@"), r"error: Folder '[^']*' holds no DICOM series"),
    # extract: segmentations
    Case("extract-seg-empty-file", extract(baseline_seg="{empty.nrrd}"), SEGMENTATION.format("empty.nrrd") + r" is an empty file"),
    Case("extract-seg-not-an-image", extract(followup_seg="{text.nrrd}"), SEGMENTATION.format("text.nrrd") + " is not an image"),
    Case("extract-seg-truncated", extract(baseline_seg="{truncated.nrrd}"), SEGMENTATION.format("truncated.nrrd") + " is truncated"),
    Case("extract-seg-no-segment", extract(baseline_seg="{blank_seg.nrrd}"), SEGMENTATION.format("blank_seg.nrrd") + " holds no segment"),
    Case("extract-seg-outside-the-image", extract(followup_seg="{far_seg.nrrd}"), SEGMENTATION.format("far_seg.nrrd") + " does not overlap its image"),
    # extract: settings, options, outputs
    Case("extract-params-not-yaml", extract(params="{not_yaml.yaml}"), r"error: .*not_yaml\.yaml"),
    Case("extract-params-unknown-class", extract(params="{unknown_class.yaml}"), r"error: .*fristorder"),
    Case("extract-locations-without-columns", extract(locations="{locations_bad.csv}"), r"error: .*locations_bad\.csv must have the columns lesion_id,location"),
    Case("extract-pair-malformed", extract(pair="lesion_1"), r"error: --pair takes BASELINE=FOLLOWUP"),
    Case("extract-out-is-a-folder", extract(out="@out"), r"error: --out '[^']*out' is a folder; give a file name", ["@out/"]),
    Case("extract-out-under-a-file", extract(out="@lesions.csv/x.csv"), r"error: --out '[^']*x\.csv': '[^']*lesions\.csv' is a file, not a folder", ["@lesions.csv"]),
    # batch
    Case("batch-manifest-missing", ["batch", "@nope.csv", "--out", "@run"], r"error: manifest not found: .*nope\.csv"),
    Case("batch-manifest-empty-file", ["batch", "{empty.csv}", "--out", "@run"], r"error: manifest .*empty\.csv is an empty file"),
    Case("batch-manifest-binary", ["batch", "{binary.csv}", "--out", "@run"], r"error: manifest .*binary\.csv is not a UTF-8 text \(CSV\) file"),
    Case("batch-manifest-no-column", ["batch", "{manifest_nocol.csv}", "--out", "@run"], r"error: manifest .* has no column segmentation"),
    Case("batch-manifest-timepoint", ["batch", "{manifest_week.csv}", "--out", "@run"], r"error: manifest .*line 2: timepoint 'week8' is not one of baseline, followup"),
    Case("batch-manifest-file-missing", ["batch", "{manifest_missing.csv}", "--out", "@run"], r"error: manifest .*line 2: image file not found: .*nope\.nrrd"),
    Case("batch-manifest-duplicate-row", ["batch", "{manifest_twice.csv}", "--out", "@run"], r"error: manifest .*line 4: a second followup row"),
    Case("batch-manifest-no-case", ["batch", "{manifest_header_only.csv}", "--out", "@run"], r"error: manifest .* lists no case"),
    Case("batch-out-is-a-file", ["batch", "{manifest.csv}", "--out", "@run", "--params", "{params.yaml}"],
         r"error: --out '[^']*run' is a file; give a folder", ["@run"]),
    Case("batch-jobs-zero", ["batch", "{manifest.csv}", "--out", "@run", "--jobs", "0"], r"error: jobs must be at least 1"),
    Case("batch-params-not-yaml", ["batch", "{manifest.csv}", "--out", "@run", "--params", "{not_yaml.yaml}"], r"error: .*not_yaml\.yaml"),
    # aggregate
    Case("aggregate-table-missing", ["aggregate", "@nope.csv", "--out", "@patients.csv"], r"error: Table not found: .*nope\.csv", ["@patients.csv"]),
    Case("aggregate-table-empty-file", ["aggregate", "{empty.csv}", "--out", "@patients.csv"], r"error: .*empty\.csv is an empty file", ["@patients.csv"]),
    Case("aggregate-table-binary", ["aggregate", "{binary.csv}", "--out", "@patients.csv"], r"error: .*binary\.csv is not a UTF-8 text \(CSV\) file", ["@patients.csv"]),
    Case("aggregate-no-patient-id", ["aggregate", "{no_patient_id.csv}", "--out", "@patients.csv"], r"error: .*no 'patient_id' column", ["@patients.csv"]),
    Case("aggregate-out-is-a-folder", ["aggregate", "{lesions.csv}", "--out", "@out"], r"error: --out '[^']*out' is a folder; give a file name", ["@out/"]),
    Case("aggregate-column-method-malformed", ["aggregate", "{lesions.csv}", "--column-method", "vote", "--out", "@patients.csv"],
         r"error: --column-method expects COLUMN=METHOD", ["@patients.csv"]),
    # train / apply / evaluate
    Case("train-table-missing", ["train", "--table", "@nope.csv", "--outcome", "outcome", "--method", "rf", "--out", "@model.json"],
         r"error: Table not found", ["@model.json"]),
    Case("train-outcome-absent", ["train", "--table", "{patients.csv}", "--outcome", "relapse", "--method", "rf", "--out", "@model.json"],
         r"error: .*relapse", ["@model.json"]),
    Case("train-outcome-not-binary", ["train", "--table", "{patients.csv}", "--outcome", "three_valued", "--method", "rf", "--out", "@model.json"],
         r"error: .*three_valued", ["@model.json"]),
    Case("train-out-is-a-folder", ["train", "--table", "{patients.csv}", "--outcome", "outcome", "--method", "rf", "--out", "@out"],
         r"error: --out '[^']*out' is a folder", ["@out/"]),
    Case("apply-model-missing", ["apply", "--model", "@nope.json", "--table", "{patients.csv}", "--out", "@scored.csv"],
         r"error: Model file not found", ["@scored.csv"]),
    Case("apply-model-empty-file", ["apply", "--model", "{empty_model.json}", "--table", "{patients.csv}", "--out", "@scored.csv"],
         r"error: .*empty_model\.json is not valid JSON", ["@scored.csv"]),
    Case("apply-model-not-json", ["apply", "--model", "{not_json.json}", "--table", "{patients.csv}", "--out", "@scored.csv"],
         r"error: .*not_json\.json is not valid JSON", ["@scored.csv"]),
    Case("apply-model-tampered", ["apply", "--model", "{tampered_signature.json}", "--table", "{patients.csv}", "--out", "@scored.csv"],
         r"error: .*does not match its SHA-256", ["@scored.csv"]),
    Case("apply-table-lacks-inputs", ["apply", "--model", "{signature.json}", "--table", "{patients_no_inputs.csv}", "--out", "@scored.csv"],
         r"error: Model '.*' needs 4 column\(s\) the table does not have", ["@scored.csv"]),
    Case("apply-out-is-a-folder", ["apply", "--model", "{signature.json}", "--table", "{patients.csv}", "--out", "@out"],
         r"error: --out '[^']*out' is a folder", ["@out/"]),
    Case("apply-patient-out-is-a-folder", ["apply", "--model", "{signature.json}", "--table", "{patients.csv}", "--out", "@scored.csv",
                                           "--patient-out", "@out"], r"error: --patient-out '[^']*out' is a folder", ["@scored.csv", "@out/"]),
    Case("evaluate-outcome-absent", ["evaluate", "--model", "{signature.json}", "--table", "{patients.csv}", "--outcome", "relapse",
                                     "--out", "@metrics.json"], r"error: The table has no outcome column 'relapse'", ["@metrics.json"]),
    Case("evaluate-out-is-a-folder", ["evaluate", "--model", "{signature.json}", "--table", "{patients.csv}", "--outcome", "outcome",
                                      "--out", "@out"], r"error: --out '[^']*out' is a folder", ["@out/"]),
    # nomogram
    Case("nomogram-misspelt-variable", ["nomogram", "score", "--model", "{nomogram.json}", "--clinical", "signature_score=0.5",
                                        "albumin=38", "albumni=3", "lymphocytes=1.2", "cea=12", "stage=III", "--out", "@risk.json"],
         r"error: unknown clinical variable 'albumni'; the nomogram '.*' uses: signature_score, albumin, lymphocytes, cea, stage",
         ["@risk.json"]),
    Case("nomogram-implausible-value", ["nomogram", "score", "--model", "{nomogram.json}", "--clinical", "signature_score=0.5",
                                        "albumin=350", "lymphocytes=1.2", "cea=12", "stage=III", "--out", "@risk.json"],
         r"error: albumin = 350 g/L is outside the plausible range", ["@risk.json"]),
    Case("nomogram-unknown-level", ["nomogram", "score", "--model", "{nomogram.json}", "--clinical", "signature_score=0.5",
                                    "albumin=38", "lymphocytes=1.2", "cea=12", "stage=V", "--out", "@risk.json"],
         r"error: stage = 'V' is not one of the expected levels: II, III, IV", ["@risk.json"]),
    Case("nomogram-missing-value", ["nomogram", "score", "--model", "{nomogram.json}", "--clinical", "signature_score=0.5",
                                    "albumin=38", "cea=12", "stage=III", "--out", "@risk.json"],
         r"error: lymphocytes is missing", ["@risk.json"]),
    Case("nomogram-gauge-is-a-folder", ["nomogram", "score", "--model", "{nomogram.json}", "--clinical", "signature_score=0.5",
                                        "albumin=38", "lymphocytes=1.2", "cea=12", "stage=III", "--out", "@risk.json",
                                        "--gauge", "@out"], r"error: --gauge '[^']*out' is a folder", ["@risk.json", "@out/"]),
    Case("nomogram-tampered-model", ["nomogram", "score", "--model", "{tampered_nomogram.json}", "--clinical", "signature_score=0.5"],
         r"error: .*does not match its SHA-256"),
    Case("nomogram-train-unknown-predictor", ["nomogram", "train", "--table", "{patients.csv}", "--outcome", "outcome",
                                              "--predictors", "signature_score", "albumni", "--out", "@nomogram.json"],
         r"error: .*albumni", ["@nomogram.json"]),
    Case("nomogram-evaluate-table-missing", ["nomogram", "evaluate", "--model", "{nomogram.json}", "--table", "@nope.csv",
                                             "--outcome", "outcome", "--out", "@metrics.json"], r"error: Table not found", ["@metrics.json"]),
    # report
    Case("report-patient-unknown", ["report", "--patient", "P99", "--patients", "{patients.csv}", "--out", "@report.html"],
         r"error: Patient 'P99' is not in the patient table", ["@report.html"]),
    Case("report-patients-missing", ["report", "--patient", "P1", "--patients", "@nope.csv", "--out", "@report.html"],
         r"error: Table not found", ["@report.html"]),
    Case("report-misspelt-variable", ["report", "--patient", "P1", "--patients", "{patients.csv}", "--nomogram-model",
                                      "{nomogram.json}", "--clinical", "albumni=30", "--out", "@report.html"],
         r"error: unknown clinical variable 'albumni'", ["@report.html"]),
    Case("report-tampered-model", ["report", "--patient", "P1", "--patients", "{patients.csv}", "--nomogram-model",
                                   "{tampered_nomogram.json}", "--out", "@report.html"], r"error: .*does not match its SHA-256",
         ["@report.html"]),
    Case("report-out-is-a-folder", ["report", "--patient", "P1", "--patients", "{patients.csv}", "--out", "@out"],
         r"error: --out '[^']*out' is a folder", ["@out/"]),
    # demo
    Case("demo-out-is-a-file", ["demo", "--out", "@demo"], r"error: --out '[^']*demo' is a file; give a folder", ["@demo"]),
]


# ------------------------------------------------------------------------------------------ running

def resolve(argv: list, files: dict[str, Path], out: Path) -> list[str]:
    """Replace ``{name}`` by an input file's path and ``@name`` by a path in the case's output folder."""
    resolved = []
    for item in argv:
        if item.startswith("{") and item.endswith("}"):
            resolved.append(str(files[item[1:-1]]))
        elif item.startswith("@"):
            resolved.append(str(out / item[1:]) if item[1:] else str(out))
        else:
            resolved.append(item)
    return resolved


def prepare_outputs(case: Case, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for item in case.existing:
        path = out / item[1:]
        if item.endswith("/"):
            path.mkdir(parents=True)
        else:
            path.write_text(KEEP, encoding="utf-8")


def snapshot(folder: Path) -> dict[str, tuple]:
    """Every file and folder under ``folder``: relative path -> (bytes, modification time) or 'dir'."""
    found = {}
    for path in sorted(folder.rglob("*")):
        key = str(path.relative_to(folder))
        found[key] = ("dir",) if path.is_dir() else (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def message_lines(stderr: str) -> list[str]:
    """stderr without the progress bar (its lines are redrawn with a carriage return)."""
    return [line for line in stderr.split("\n") if line.strip() and "\r" not in line]


def run_main(argv: list[str], capsys) -> tuple[int, str, str]:
    """``radiomics-response ARGV`` in this process: (exit code, stdout, stderr); an exception fails the test."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    except Exception as error:  # noqa: BLE001 - the point: no traceback may reach the user
        pytest.fail(f"radiomics-response {' '.join(argv)} raised {type(error).__name__}: {error}")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def check_failure(code: int, stdout: str, stderr: str, case: Case) -> None:
    assert "Traceback" not in stdout + stderr
    lines = message_lines(stderr)
    assert lines, f"no message on stderr (exit {code}; stdout {stdout!r})"
    assert re.match(case.message, lines[0]), lines[0]
    assert code == case.code, lines[0]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_one_clear_line_and_loses_nothing(case, files, tmp_path, capsys):
    out = tmp_path / "out"
    prepare_outputs(case, out)
    inputs_before, before = snapshot(files["ct.nrrd"].parent), snapshot(out)
    code, stdout, stderr = run_main(resolve(case.argv, files, out), capsys)
    check_failure(code, stdout, stderr, case)
    assert snapshot(out) == before, "the output folder changed"
    assert snapshot(files["ct.nrrd"].parent) == inputs_before, "an input file changed"


def test_the_battery_is_broad():
    commands = {case.argv[0] for case in CASES}
    assert len(CASES) + len(WORKSTATION_CASES) >= 40
    assert {"extract", "batch", "aggregate", "train", "apply", "evaluate", "nomogram", "report", "demo"} <= commands


SUBPROCESS_CASES = ("extract-image-truncated", "batch-out-is-a-file", "nomogram-misspelt-variable")


@pytest.mark.parametrize("case_id", SUBPROCESS_CASES)
def test_console_script_in_a_subprocess(case_id, files, tmp_path):
    """The same through the installed ``radiomics-response`` script (its own interpreter, real stderr)."""
    script = shutil.which("radiomics-response", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the radiomics-response console script is not installed in this environment")
    case = next(case for case in CASES if case.id == case_id)
    out = tmp_path / "out"
    prepare_outputs(case, out)
    before = snapshot(out)
    done = subprocess.run([script] + resolve(case.argv, files, out), capture_output=True, text=True, timeout=120)
    check_failure(done.returncode, done.stdout, done.stderr, case)
    assert snapshot(out) == before


# -------------------------------------------------------------------------- lesion-level problems

def test_lesion_level_problems_are_errors_not_measurements(files, tmp_path, capsys):
    """A segment partly outside its image and NaN/Inf voxels in a lesion or its filter margin fail that
    lesion (error column, warning line, no measures; the count / fraction given); the other lesion is
    measured; a NaN far from every lesion changes nothing; exit 0."""
    values = sitk.GetArrayFromImage(sitk.ReadImage(str(files["ct.nrrd"])))
    values[LESIONS[2]][0, 0, :3] = np.nan                         # 3 NaN voxels inside lesion_2,
    values[5, 15, 15] = np.inf                                    # 1 beside it (in its filter margin),
    values[0, 0, 0] = np.nan                                      # 1 far from every lesion (harmless)
    nan_ct = tmp_path / "nan.nrrd"
    sitk.WriteImage(scan(values), str(nan_ct))
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(files["seg.nrrd"])))
    shifted = tmp_path / "shifted_seg.nrrd"                       # origin moved 8 voxels left along x
    sitk.WriteImage(scan(labels, origin=(-8.0, 0.0, 0.0)), str(shifted))
    out = tmp_path / "lesions.csv"
    code, stdout, stderr = run_main(resolve(extract(baseline="@nan.nrrd", followup_seg="@shifted_seg.nrrd", out="@lesions.csv"),
                                            files, tmp_path), capsys)
    assert code == 0 and "Traceback" not in stdout + stderr
    table = pd.read_csv(out).set_index("lesion_id")
    nan_error = "lesion 'lesion_2' at baseline: 4 voxels of the image are NaN or infinite (3 inside the lesion, 1 in its"
    outside_error = ("lesion 'lesion_1' at followup: 37.5 % of the segment (126 of 336 voxels) lies outside the image")
    assert table.loc["lesion_2", "error"].startswith(nan_error)
    assert table.loc["lesion_1", "error"].startswith(outside_error)
    assert np.isnan(table.loc["lesion_2", "baseline:volume_ml"]) and np.isnan(table.loc["lesion_1", "followup:volume_ml"])
    assert table.loc["lesion_1", "baseline:volume_ml"] == pytest.approx(6 * 7 * 8 * 2.0 / 1000)
    assert table.loc["lesion_2", "followup:volume_ml"] == pytest.approx(6 * 8 * 9 * 2.0 / 1000)
    warnings = [line.strip() for line in stdout.splitlines() if line.strip().startswith("warning:")]
    assert any(line.startswith("warning: " + nan_error) for line in warnings), warnings
    assert any(line.startswith("warning: " + outside_error) for line in warnings), warnings


def test_segmentation_on_another_grid_is_reported(files, tmp_path, capsys):
    """A label map on a coarser grid is resampled (accepted), with a warning and in the provenance."""
    labels = sitk.GetArrayFromImage(sitk.ReadImage(str(files["seg.nrrd"])))
    coarse = tmp_path / "coarse_seg.nrrd"
    sitk.WriteImage(scan(np.ascontiguousarray(labels[:, ::2, ::2]), spacing=(2.0, 2.0, 2.0), origin=(0.5, 0.5, 0.0)),
                    str(coarse))
    out = tmp_path / "lesions.csv"
    code, stdout, stderr = run_main(resolve(extract(followup_seg="@coarse_seg.nrrd", out="@lesions.csv"), files, tmp_path),
                                    capsys)
    assert code == 0 and "Traceback" not in stdout + stderr
    resampled = ("resampled from 15 x 14 x 16 voxels of 2 x 2 x 2 mm to 30 x 28 x 16 voxels of 1 x 1 x 2 mm "
                 "(nearest neighbour)")
    warning = f"warning: followup segmentation is on another grid than its image: {resampled}"
    assert warning in [line.strip() for line in stdout.splitlines()], stdout
    provenance = json.loads((tmp_path / "lesions.csv.provenance.json").read_text(encoding="utf-8"))
    assert provenance["resampled_segmentations"] == {"followup": resampled}
    assert pd.read_csv(out)["error"].isna().all()


# ---------------------------------------------------------------------------- workstation loading

WORKSTATION_CASES = [
    ("followup_image", "empty.nrrd", IMAGE.format("empty.nrrd")[7:] + r" is an empty file \(0 bytes\)"),
    ("baseline_image", "text.nrrd", IMAGE.format("text.nrrd")[7:] + " is not an image"),
    ("baseline_image", "truncated.nrrd", IMAGE.format("truncated.nrrd")[7:] + " is truncated"),
    ("followup_seg", "truncated.nrrd", SEGMENTATION.format("truncated.nrrd")[7:] + " is truncated"),
    ("baseline_seg", "far_seg.nrrd", SEGMENTATION.format("far_seg.nrrd")[7:] + " does not overlap its image"),
    ("locations", "binary.csv", r"locations file [^ ]*binary\.csv is not a UTF-8 text \(CSV\) file"),
]


@pytest.mark.skipif(importlib.util.find_spec("slicer") is None, reason="slicer-core (the mrml extra) is not installed")
@pytest.mark.parametrize("key, name, message", WORKSTATION_CASES, ids=[f"{k}-{n}" for k, n, _ in WORKSTATION_CASES])
def test_workstation_file_loading(key, name, message, files):
    """The load dialog's bad files: one clear message, and the case already loaded stays as it was."""
    sys.path.insert(0, str(REPO_ROOT / "Web"))
    from RadiomicsResponseWeb import session

    from ResponseSignatureLib import mrml_bridge
    from ResponseSignatureLib.errors import InputError

    good = {"baseline_image": files["ct.nrrd"], "baseline_seg": files["seg.nrrd"],
            "followup_image": files["ct_followup.nrrd"], "followup_seg": files["seg.nrrd"]}
    case = session.Session(mrml_bridge.make_scene(), patient_id="P1")
    case.load_case(good)
    nodes_before = {t: (n.volume.GetID(), n.segmentation.GetID()) for t, n in case.nodes.items()}
    lesions_before = {t: case.lesions(t) for t in case.nodes}
    with pytest.raises(InputError) as raised:
        case.load_case({**good, key: files[name]})
    first_line = str(raised.value).splitlines()[0]
    assert re.match(message, first_line), first_line
    assert len(str(raised.value).splitlines()) == 1
    assert {t: (n.volume.GetID(), n.segmentation.GetID()) for t, n in case.nodes.items()} == nodes_before
    assert {t: case.lesions(t) for t in case.nodes} == lesions_before
