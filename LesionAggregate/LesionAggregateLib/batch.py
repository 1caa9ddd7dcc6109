"""Cohort runs: a manifest of cases -> one lesion table and one patient table for the whole cohort.

**Manifest** (CSV, one row per patient and time point)::

    patient_id,timepoint,image,segmentation,locations
    P001,baseline,P001/ct0.nrrd,P001/ct0.seg.nrrd,P001/locations.csv
    P001,followup,P001/ct1.nrrd,P001/ct1.seg.nrrd,

``timepoint`` is ``baseline`` or ``followup`` (each patient needs exactly one of each); ``image`` is
an image file or a DICOM series folder, ``segmentation`` a ``.seg.nrrd`` or a label map;
``locations`` (optional column, on either row) a CSV ``lesion_id,location``. Relative paths are
relative to the manifest's folder. A malformed manifest (missing column, unknown time point,
duplicate row, missing file) raises InputError naming the line, column and file, before anything runs.

**One case = one patient** (both time points), computed by
``ResponseSignatureLib.pipeline.run_case_files``. Output folder::

    DIR/cases/<patient>/lesions.csv (+ .provenance.json)   the case's lesion table
    DIR/cases/<patient>/case.json                          status (done|failed), inputs, fingerprint, timing
    DIR/cases/<patient>/dicom/                             with dicom_out: baseline_seg.dcm, followup_seg.dcm,
                                                           followup_sr.dcm (ResponseSignatureLib.dicom_export)
    DIR/lesions.csv (+ .provenance.json)                   all finished cases, sorted by patient_id, lesion_id
    DIR/patients.csv (+ .provenance.json)                  aggregate.patient_table of DIR/lesions.csv
    DIR/errors.csv                                         patient_id, stage, message
    DIR/settings.json                                      the folder's settings fingerprint (see below)
    DIR/batch.lock                                         present while a run uses the folder

Every file is written atomically (temporary file + ``os.replace``), ``case.json`` last, so a case
is finished exactly when its ``case.json`` says ``done``. A failed case is recorded (``case.json``
status ``failed`` and a row of ``errors.csv``; stage ``input`` for unreadable/invalid inputs,
``compute`` for any other error, ``worker`` if the worker process died) and the run goes on.
Per-lesion problems of finished cases are listed in ``errors.csv`` with stage ``lesion``, inputs
accepted but changed (a segmentation resampled onto its image's grid) with stage ``warning``.

**DICOM output** (``dicom_out=True``, ``batch --dicom-out``): each case also gets a DICOM SEG per time
point and the follow-up's TID 1500 SR, written before its ``case.json``. Its images must be DICOM
series folders: a case with NRRD/NIfTI images fails (stage ``input``) before any work, the others
go on. ``dicom_out`` is part of each case's fingerprint: a case finished without DICOM is computed
again by a run with it; a case computed again without it has its earlier ``dicom/`` moved to
``dicom-superseded-<UTC time>/``.

**Resume.** A re-run skips every case whose ``case.json`` says ``done`` and whose *fingerprint*
still matches: the input files (path, size and modification time; every file of a DICOM folder),
the SHA-256 of the extraction settings and the versions of radiomics-response and pyradiomics.
Failed and unfinished cases are computed again. The final tables are rebuilt from the case files,
so they are the same whether the run was interrupted or not.

**One run at a time, one settings fingerprint per folder.** A run holds an operating-system lock
on ``DIR/batch.lock`` (which names its pid, host, start time and command) from before its first
case until its tables are written; a second run on the same folder is refused with an InputError
naming the running one. The kernel releases the lock when a run dies (even by SIGKILL): the next run
finds the file unlocked, says that the previous run stopped without finishing, and resumes.
``DIR/settings.json`` records the folder's *settings fingerprint* (SHA-256 of the extraction
settings with the engine, and of the radiomics-response and pyradiomics versions). A run whose
fingerprint differs is refused (InputError naming both fingerprints and what differs) unless
``restart=True`` (``--restart``), which first moves the folder's results (``cases/``, the tables,
``settings.json``) into ``DIR/previous-<UTC time>/``: results are never replaced or deleted silently.

**Parallelism.** ``jobs=1`` runs the cases one after the other in this process (and passes
``progress``/``should_cancel`` into each case; each case measures its lesions in the pipeline's
default lesion threads, SimpleITK with its default threads). ``jobs=N`` uses a
``ProcessPoolExecutor`` of N worker processes, started once and reused for every case, one case per
worker at a time (memory is bounded by N cases), each with ``cpu_count // N`` lesion threads and
SimpleITK threads. On POSIX the workers come from the ``forkserver`` start method (``spawn``
elsewhere): forking a parent that already runs threads (ITK's thread pool, a Dask client, a GUI)
can deadlock the child. The fork server is started at the beginning of the run and imports the
pipeline once (``PRELOADED``), while this process reads the manifest; each worker is then a fork
of it, ready in milliseconds instead of importing numpy, SimpleITK, scipy and pandas itself
(1-3 s each on a busy 2-core machine, against 0.2-1 s per case: see
Testing/benchmarks/bench_batch.py).

**Memory.** Each case's record (``case.json``) holds ``peak_rss_mb``, the peak resident memory
of the process that computed it while it ran (see ``PeakMemory``); the progress message of each
finished case shows it with the case's time. ``scheduler=ADDRESS`` submits the same per-case function
to a Dask distributed cluster (``distributed.Client(ADDRESS)``); its workers must see the input
files and DIR at the same paths (shared file system) and have this package installed.
**Cancellation** (``should_cancel``) stops submitting cases, cancels those not started and raises
OperationCancelled; cases already running finish in the background and are kept.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shlex
import socket
import sys
import threading
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd

from ResponseSignatureLib.errors import InputError, OperationCancelled
from ResponseSignatureLib.outputs import check_output_folder
from ResponseSignatureLib.progress import CancelCallback, ProgressCallback, report, scaled
from ResponseSignatureLib.provenance import make_provenance, settings_hash, versions
from ResponseSignatureLib.tableio import csv_rows, read_table, read_text, write_json, write_table

from .aggregate import METHODS, patient_table

MANIFEST_COLUMNS = ("patient_id", "timepoint", "image", "segmentation")
TIMEPOINTS = ("baseline", "followup")
ERROR_COLUMNS = ["patient_id", "stage", "message"]
POLL_SECONDS = 0.1
LOCK_NAME = "batch.lock"
DICOM_DIR = "dicom"
SETTINGS_NAME = "settings.json"
#: modules the fork server imports once, before it forks the workers (with the main module, as by default)
PRELOADED = ("__main__", "ResponseSignatureLib.pipeline", "LesionAggregateLib.batch")
#: seconds between two samples of the resident memory while a case runs (see PeakMemory)
MEMORY_SAMPLE_SECONDS = 0.01
#: what a run writes into DIR: moved together into DIR/previous-<time>/ by restart
RESULT_NAMES = ("cases", SETTINGS_NAME) + tuple(
    name + suffix for name in ("lesions.csv", "patients.csv", "errors.csv") for suffix in ("", ".provenance.json"))

logger = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------- manifest

def read_manifest(manifest_path: str | os.PathLike) -> list[dict[str, Any]]:
    """Validate a manifest and return one case per patient (sorted by patient_id).

    A case is a dict: ``patient_id``, ``case_dir`` (folder name under DIR/cases), ``baseline_image``,
    ``baseline_seg``, ``followup_image``, ``followup_seg``, ``locations`` (absolute paths as text,
    ``locations`` None if not given). Raises InputError naming the line/column/file at fault.
    """
    path = Path(manifest_path)
    rows = _manifest_rows(path)
    cases: dict[str, dict[str, Any]] = {}
    for line, row in rows:
        _add_row(cases, row, line, path)
    for patient_id, case in cases.items():
        missing = [t for t in TIMEPOINTS if f"{t}_image" not in case]
        if missing:
            raise InputError(f"manifest {path}: patient '{patient_id}' has no {' and no '.join(missing)} row")
    result = [cases[patient_id] for patient_id in sorted(cases)]
    _check_case_dirs(result, path)
    return result


def _manifest_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) of a manifest CSV with the required columns."""
    if not path.exists():
        raise InputError(f"manifest not found: {path}")
    columns, rows = csv_rows(read_text(path, "manifest"), path, "manifest")
    missing = [c for c in MANIFEST_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"manifest {path} has no column {', '.join(missing)} "
                         f"(expected {', '.join(MANIFEST_COLUMNS)}[, locations])")
    rows_with_lines = [(index + 2, row) for index, row in enumerate(rows) if any(row.values())]
    if not rows_with_lines:
        raise InputError(f"manifest {path} lists no case")
    return rows_with_lines


def _add_row(cases: dict[str, dict[str, Any]], row: dict[str, str], line: int, manifest: Path) -> None:
    """Add one manifest row (one time point of one patient) to its case, checking it."""
    where = f"manifest {manifest}, line {line}"
    patient_id = row["patient_id"]
    if not patient_id:
        raise InputError(f"{where}: empty patient_id")
    timepoint = row["timepoint"].lower()
    if timepoint not in TIMEPOINTS:
        raise InputError(f"{where}: timepoint '{row['timepoint']}' is not one of {', '.join(TIMEPOINTS)}")
    case = cases.setdefault(patient_id, {"patient_id": patient_id, "locations": None})
    if f"{timepoint}_image" in case:
        raise InputError(f"{where}: a second {timepoint} row for patient '{patient_id}'")
    case[f"{timepoint}_image"] = _existing(row, "image", manifest, where)
    case[f"{timepoint}_seg"] = _existing(row, "segmentation", manifest, where)
    if row.get("locations"):
        locations = _existing(row, "locations", manifest, where)
        if case["locations"] not in (None, locations):
            raise InputError(f"{where}: patient '{patient_id}' has two different locations files")
        case["locations"] = locations


def _existing(row: dict[str, str], column: str, manifest: Path, where: str) -> str:
    """The absolute path in ``row[column]`` (relative to the manifest's folder); it must exist."""
    if not row.get(column):
        raise InputError(f"{where}: column '{column}' is empty")
    path = Path(row[column]).expanduser()
    if not path.is_absolute():
        path = manifest.resolve().parent / path
    if not path.exists():
        raise InputError(f"{where}: {column} file not found: {path}")
    return str(path)


def _check_case_dirs(cases: list[dict[str, Any]], manifest: Path) -> None:
    """Give each case a folder name that is safe on every file system; two patients may not share one."""
    seen: dict[str, str] = {}
    for case in cases:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", case["patient_id"]).strip(".") or "_"
        if name.lower() in seen:
            raise InputError(f"manifest {manifest}: patients '{seen[name.lower()]}' and '{case['patient_id']}' "
                             f"would share the output folder '{name}'; rename one")
        seen[name.lower()] = case["patient_id"]
        case["case_dir"] = name


# ------------------------------------------------------------------------------------ fingerprint

def file_fingerprint(path: str) -> dict[str, Any]:
    """Path, size and modification time of a file; for a folder (DICOM series), of every file in it."""
    target = Path(path)
    if target.is_dir():
        files = sorted(p for p in target.rglob("*") if p.is_file())
        return {"path": str(target), "files": [_stat(p, target) for p in files]}
    return _stat(target, None)


def _stat(path: Path, root: Path | None) -> dict[str, Any]:
    info = path.stat()
    name = str(path.relative_to(root)) if root else str(path)
    return {"path": name, "size": info.st_size, "mtime_ns": info.st_mtime_ns}


def case_fingerprint(case: dict[str, Any], settings_sha256: str, dicom_out: bool = False) -> dict[str, Any]:
    """What a finished case depends on: its input files, the extraction settings and the code versions;
    with ``dicom_out``, also that its DICOM SEGs and SR were written (process_case reads it there)."""
    inputs = {key: file_fingerprint(case[key]) for key in
              ("baseline_image", "baseline_seg", "followup_image", "followup_seg", "locations") if case.get(key)}
    code = {k: v for k, v in versions().items() if k in ("radiomics-response", "pyradiomics")}
    fingerprint = {"inputs": inputs, "extraction_settings_sha256": settings_sha256, "versions": code}
    if dicom_out:
        fingerprint["dicom_out"] = True
    return fingerprint


def _read_case_record(out_dir: Path, case: dict[str, Any]) -> dict[str, Any] | None:
    path = out_dir / "cases" / case["case_dir"] / "case.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def is_finished(out_dir: Path, case: dict[str, Any], fingerprint: dict[str, Any]) -> bool:
    """True if the case's case.json says done, with this fingerprint, and its lesions.csv exists."""
    record = _read_case_record(out_dir, case)
    return (record is not None and record.get("status") == "done" and record.get("fingerprint") == fingerprint
            and (out_dir / "cases" / case["case_dir"] / "lesions.csv").is_file())


# ------------------------------------------------------------------------------------- one case

def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def process_case(case: dict[str, Any], out_dir: str, params: dict, fingerprint: dict[str, Any], engine: str,
                 progress: ProgressCallback = None, should_cancel: CancelCallback = None,
                 lesion_workers: int | None = None) -> dict[str, Any]:
    """Compute one case and write its lesions.csv and case.json (atomically); return the case record.

    Runs in a worker process (or in this process for jobs=1). Every error except cancellation is
    caught and recorded as a failed case. ``lesion_workers``: the pipeline's lesion threads (None:
    its default; a process pool passes its share of the cores). When ``fingerprint`` says
    ``dicom_out``, the case's DICOM SEGs and SR go to ``dicom/`` before case.json (images that
    are not DICOM series folders fail the case before any work).
    """
    from ResponseSignatureLib.pipeline import run_case_files

    case_dir = Path(out_dir) / "cases" / case["case_dir"]
    case_dir.mkdir(parents=True, exist_ok=True)
    for leftover in case_dir.rglob(".*.tmp"):     # from a run killed while writing
        leftover.unlink()
    dicom_out = bool(fingerprint.get("dicom_out"))
    record = {"patient_id": case["patient_id"], "inputs": {k: v for k, v in case.items() if k != "case_dir"},
              "fingerprint": fingerprint, "started_utc": _utc_now(), "worker": f"{socket.gethostname()}:{os.getpid()}"}
    start = time.perf_counter()
    memory = PeakMemory()
    try:
        _set_aside_earlier_dicom(case_dir, dicom_out, record)
        if dicom_out:
            from ResponseSignatureLib.dicom_export import require_series_folders

            require_series_folders({t: case[f"{t}_image"] for t in TIMEPOINTS})
        with memory:
            result = run_case_files(case["baseline_image"], case["baseline_seg"], case["followup_image"],
                                    case["followup_seg"], params=params, patient_id=case["patient_id"], engine=engine,
                                    locations=case["locations"], progress=progress, should_cancel=should_cancel,
                                    workers=lesion_workers)
        if dicom_out:
            record["dicom"] = _write_case_dicom(result, case, case_dir / DICOM_DIR)
        table = result.table
        table.attrs["provenance"] = result.provenance
        write_table(table, case_dir / "lesions.csv")
        record.update(status="done", n_lesions=int(len(table)), lesion_errors=list(result.errors),
                      warnings=list(result.warnings))
    except OperationCancelled:
        raise
    except Exception as error:  # noqa: BLE001 - a failed case is recorded and the run goes on
        record.update(status="failed", stage="input" if isinstance(error, InputError) else "compute",
                      message=_message(error), traceback=traceback.format_exc())
    record.update(finished_utc=_utc_now(), seconds=round(time.perf_counter() - start, 3), peak_rss_mb=memory.peak_mb)
    write_json(case_dir / "case.json", record)
    return record


def _write_case_dicom(result, case: dict[str, Any], folder: Path) -> dict[str, str]:
    """The case's DICOM SEG per time point and follow-up SR in ``folder`` (each file atomically);
    returns their paths relative to the case folder, for case.json."""
    from ResponseSignatureLib.dicom_export import export_case

    paths = export_case(result, {t: case[f"{t}_image"] for t in TIMEPOINTS},
                        {t: case[f"{t}_seg"] for t in TIMEPOINTS}, folder)
    return {name: f"{folder.name}/{Path(path).name}" for name, path in paths.items()}


def _set_aside_earlier_dicom(case_dir: Path, dicom_out: bool, record: dict[str, Any]) -> None:
    """A case computed again without DICOM output: its earlier ``dicom/`` no longer describes its
    result; move it to ``dicom-superseded-<UTC time>/`` (never deleted). With DICOM output the new
    files replace the old ones, as the new lesions.csv replaces the old one."""
    earlier = case_dir / DICOM_DIR
    if dicom_out or not earlier.is_dir():
        return
    target = case_dir / f"{DICOM_DIR}-superseded-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"
    os.replace(earlier, target)
    record["superseded_dicom"] = target.name


class PeakMemory:
    """Peak resident memory (MB) of this process while a ``with`` block runs: ``peak_mb`` after it.

    Linux: exact (the kernel's high-water mark, VmHWM) when the block raises the process's peak,
    which the first case of a process always does; otherwise the block stayed below an earlier
    case's peak and its own is the largest resident size (VmRSS) sampled every
    MEMORY_SAMPLE_SECONDS by a thread (a spike between two samples can be missed). The high-water
    mark is read, never reset (resetting it would hide the peak from getrusage and /usr/bin/time).
    None where /proc is missing (macOS, Windows).
    """

    def __init__(self):
        self.peak_mb: float | None = None
        self._sampled = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> "PeakMemory":
        self._high_before = _memory_kb("VmHWM")
        if self._high_before is not None:
            self._sampled = _memory_kb("VmRSS") or 0
            self._thread = threading.Thread(target=self._sample, name="case-memory", daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(MEMORY_SAMPLE_SECONDS):
            self._sampled = max(self._sampled, _memory_kb("VmRSS") or 0)

    def __exit__(self, *exc) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join()
        high = _memory_kb("VmHWM") or 0
        peak = high if high > self._high_before else max(self._sampled, _memory_kb("VmRSS") or 0)
        self.peak_mb = round(peak / 1024.0, 1)


def _memory_kb(field: str) -> int | None:
    """A memory field of /proc/self/status (VmRSS, VmHWM) in kB; None where there is no such file."""
    try:
        with open("/proc/self/status", encoding="ascii") as stream:
            for line in stream:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def compute_case(*args, **kwargs) -> tuple[dict[str, Any], pd.DataFrame | None]:
    """process_case, then the case's lesions.csv read back as the cohort tables will read it
    (``_case_table``; None if the case failed): with N workers the N case tables are read side by
    side, not one after the other at the end of the run (~35 ms per 460-column table)."""
    record = process_case(*args, **kwargs)
    if record.get("status") != "done":
        return record, None
    try:
        return record, _case_table(Path(args[1]), args[0])
    except InputError:               # read (and reported) again when the cohort tables are written
        return record, None


def _case_table(out_dir: Path, case: dict[str, Any]) -> pd.DataFrame:
    """A finished case's lesions.csv as the cohort tables use it: its provenance without what its
    columns mean (``columns``, ~120 kB per case; the cohort tables document their columns once:
    24 copies made their sidecars 3.6 MB each and writing them the slowest serial step of a run)."""
    table = read_table(out_dir / "cases" / case["case_dir"] / "lesions.csv")
    provenance = table.attrs.get("provenance")
    if isinstance(provenance, dict):
        table.attrs["provenance"] = {key: value for key, value in provenance.items() if key != "columns"}
    return table


def _message(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text if isinstance(error, InputError) else f"{type(error).__name__}: {text}"


def _worker_failure(case: dict[str, Any], out_dir: Path, fingerprint: dict[str, Any], error: BaseException) -> dict:
    """Record a case whose worker died (or whose task was lost) as failed, from the parent."""
    record = {"patient_id": case["patient_id"], "status": "failed", "stage": "worker", "fingerprint": fingerprint,
              "message": f"the worker process running this case stopped ({_message(error)}); "
                         "it may have run out of memory. Re-run to retry.",
              "finished_utc": _utc_now()}
    write_json(out_dir / "cases" / case["case_dir"] / "case.json", record)
    return record


# ------------------------------------------------------------------------------------- the run

def run_batch(
    manifest_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    jobs: int = 1,
    params: Any = None,
    scheduler: str | None = None,
    progress: ProgressCallback = None,
    should_cancel: CancelCallback = None,
    aggregation_method: str = "volume_weighted",
    engine: str = "builtin",
    restart: bool = False,
    dicom_out: bool = False,
) -> dict[str, Any]:
    """Run (or resume) every case of a manifest and write the cohort tables; return a summary.

    ``params``: pyradiomics YAML path, preset name or dict (``ResponseSignatureLib.extraction.load_params``).
    ``engine``: feature engine, 'builtin' or 'pyradiomics' (part of the resume fingerprint).
    ``restart``: move the folder's earlier results into ``DIR/previous-<UTC time>/`` and start afresh.
    ``dicom_out``: also write each case's DICOM SEGs and SR (``DIR/cases/<patient>/dicom/``).
    Summary keys: ``cases, done, failed, computed, skipped, seconds, lesions_csv, patients_csv,
    errors_csv, fingerprint, moved_to`` (None unless results were moved). Raises InputError for a
    bad manifest, a folder in use by another run or holding another settings' results;
    OperationCancelled when cancelled.
    """
    start = time.perf_counter()
    if int(jobs) > 1 and not scheduler:
        _start_fork_server()            # its imports overlap ours and the manifest checks
    from ResponseSignatureLib.extraction import FeatureExtractor, load_params

    if aggregation_method not in METHODS or aggregation_method == "vote":
        raise InputError(f"aggregation method '{aggregation_method}' cannot aggregate every lesion column; "
                         f"choose one of {', '.join(m for m in METHODS if m != 'vote')} "
                         "(use 'aggregate --method vote --columns ...' for class probabilities)")
    if int(jobs) < 1:
        raise InputError(f"jobs must be at least 1, got {jobs}")
    cases = read_manifest(manifest_path)
    settings = load_params(params)
    FeatureExtractor(settings, engine=engine)  # unknown or missing engine: fail before any case runs
    if dicom_out:
        from ResponseSignatureLib.dicom_io import require_dicom

        require_dicom()                        # pydicom/highdicom missing: fail before any case runs
    settings_sha256 = settings_hash({"params": settings, "engine": engine})
    out = check_output_folder(out_dir)
    with FolderLock(out):
        record = folder_settings(settings, engine, settings_sha256)
        moved_to = claim_folder(out, record, restart)
        (out / "cases").mkdir(exist_ok=True)
        fingerprints = {case["patient_id"]: case_fingerprint(case, settings_sha256, dicom_out) for case in cases}
        todo = [case for case in cases if not is_finished(out, case, fingerprints[case["patient_id"]])]
        context = _RunContext(todo, out, settings, engine, fingerprints, len(cases) - len(todo), progress, should_cancel)
        if todo and scheduler:
            _run_dask(context, scheduler)
        elif todo and jobs > 1:
            _run_pool(context, jobs)
        elif todo:
            _run_serial(context)
        summary = _write_outputs(out, cases, aggregation_method, settings, settings_sha256, manifest_path,
                                 context.tables)
    summary.update(computed=len(todo), skipped=len(cases) - len(todo), seconds=round(time.perf_counter() - start, 3),
                   fingerprint=record["fingerprint"], moved_to=str(moved_to) if moved_to else None)
    return summary


# ----------------------------------------------------------------------- one run per output folder

class FolderLock:
    """An operating-system lock on ``DIR/batch.lock`` for the duration of a run (a context manager).

    The file names the holder (pid, host, UTC start time, command) so that a refused run can say who
    holds the folder. The kernel drops the lock when its process ends, however it ends; a lock file
    left by a run that died is therefore unlocked, and the next run takes it over (``previous``
    holds what the dead run had written; a warning says that it stopped without finishing).
    POSIX ``flock``; ``msvcrt.locking`` on Windows.
    """

    def __init__(self, folder: Path):
        self.path = Path(folder) / LOCK_NAME
        self.previous: dict | None = None
        self._fd: int | None = None

    def __enter__(self) -> "FolderLock":
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            return self._take()
        except OSError as error:
            raise InputError(f"cannot use the output folder '{self.path.parent}': {error.strerror or error}.") from None

    def _take(self) -> "FolderLock":
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if not _try_lock(fd):
                holder = _read_lock(fd)
                os.close(fd)
                raise InputError(f"output folder '{self.path.parent}' is in use by another run: {_describe(holder)}. "
                                 "Wait for it to finish, or choose another --out.")
            if _same_file(fd, self.path):
                break
            os.close(fd)             # the holder removed the file between our open and our lock: again
        self._fd = fd
        self.previous = _read_lock(fd) or None
        if self.previous:
            logger.warning("a previous run (%s) stopped without finishing; resuming from its finished cases.",
                           _describe(self.previous))
        command = getattr(sys, "orig_argv", None) or sys.argv   # orig_argv (3.10+) keeps 'python -m ...'
        holder = {"pid": os.getpid(), "host": socket.gethostname(),
                  "started_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "command": shlex.join(command) if command and command[0] else "(library call)"}
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, (json.dumps(holder) + "\n").encode("utf-8"))
        os.fsync(fd)
        return self

    def __exit__(self, *exc_info) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        if os.name == "nt":          # Windows cannot remove an open file
            os.close(fd)
            os.unlink(self.path)
        else:                        # remove while still holding the lock: nobody takes a removed file
            os.unlink(self.path)
            os.close(fd)


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock without waiting; False if another process holds it."""
    try:
        import fcntl
    except ImportError:              # Windows: lock one byte far beyond the text, so the text stays readable
        import msvcrt

        os.lseek(fd, 1 << 30, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _same_file(fd: int, path: Path) -> bool:
    """True if ``path`` still names the open file ``fd`` (POSIX; always True where inodes are unknown)."""
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return not here.st_ino or (here.st_ino, here.st_dev) == (there.st_ino, there.st_dev)


def _read_lock(fd: int) -> dict:
    """What a lock file says about its holder ({} if empty or unreadable)."""
    os.lseek(fd, 0, os.SEEK_SET)
    try:
        data = json.loads(os.read(fd, 65536).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _describe(holder: dict) -> str:
    if not holder:
        return "no details written yet"
    return (f"pid {holder.get('pid', '?')} on host {holder.get('host', '?')}, started {holder.get('started_utc', '?')}, "
            f"command: {holder.get('command', '?')}")


def folder_settings(settings: dict, engine: str, settings_sha256: str) -> dict[str, Any]:
    """The settings record of an output folder: what the case results depend on besides the inputs."""
    code = {k: v for k, v in versions().items() if k in ("radiomics-response", "pyradiomics")}
    return {"fingerprint": _fingerprint(settings_sha256, code), "extraction_settings_sha256": settings_sha256,
            "engine": engine, "versions": code, "extraction_settings": settings, "created_utc": _utc_now()}


def _fingerprint(settings_sha256: str, code_versions: dict) -> str:
    return settings_hash({"extraction_settings_sha256": settings_sha256, "versions": code_versions})


def _folder_record(out: Path) -> dict[str, Any] | None:
    """The settings record of the results in ``out``: settings.json, else rebuilt from a case.json; None if none."""
    path = out / SETTINGS_NAME
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise InputError(f"{path} is damaged ({error}); move it away or use --restart.") from None
        if isinstance(record, dict) and isinstance(record.get("fingerprint"), str):
            return record
        raise InputError(f"{path} holds no settings fingerprint; move it away or use --restart.")
    for case_file in sorted(out.glob("cases/*/case.json")):
        try:
            fingerprint = json.loads(case_file.read_text(encoding="utf-8"))["fingerprint"]
            settings_sha256, code = fingerprint["extraction_settings_sha256"], fingerprint["versions"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        return {"fingerprint": _fingerprint(settings_sha256, code), "extraction_settings_sha256": settings_sha256,
                "versions": code, "engine": "(not recorded)"}
    return None


def claim_folder(out: Path, record: dict[str, Any], restart: bool) -> Path | None:
    """Make ``out`` this run's folder: refuse another settings' results, or move them away on restart.

    Returns the ``previous-<UTC time>`` folder the earlier results were moved to (None if nothing moved).
    """
    existing = _folder_record(out)
    moved_to = None
    if restart and (existing is not None or any((out / name).exists() for name in RESULT_NAMES)):
        moved_to = _move_results(out)
        existing = None
    elif existing is not None and existing["fingerprint"] != record["fingerprint"]:
        raise InputError(
            f"output folder '{out}' holds the results of other settings (fingerprint {existing['fingerprint'][:12]}) "
            f"than this run's (fingerprint {record['fingerprint'][:12]}): {_differences(existing, record)}. "
            "Choose another --out, or add --restart to move the earlier results into a previous-<time> "
            "sub-folder and start again.")
    if existing is None:
        write_json(out / SETTINGS_NAME, record)
    return moved_to


def _differences(old: dict, new: dict) -> str:
    """What differs between two folder settings records, in words."""
    found = []
    if old.get("extraction_settings_sha256") != new["extraction_settings_sha256"]:
        engines = f" (engine {old.get('engine')} -> {new['engine']})" if old.get("engine") != new["engine"] else ""
        found.append(f"extraction settings differ{engines}")
    for name, version in new["versions"].items():
        before = (old.get("versions") or {}).get(name)
        if before != version:
            found.append(f"{name} {before} -> {version}")
    return "; ".join(found) or "settings differ"


def _move_results(out: Path) -> Path:
    """Move what earlier runs wrote into ``out/previous-<UTC time>/`` (never deleted); return that folder."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target, number = out / f"previous-{stamp}", 1
    while target.exists():
        number += 1
        target = out / f"previous-{stamp}-{number}"
    target.mkdir()
    for name in RESULT_NAMES:
        if (out / name).exists():
            os.replace(out / name, target / name)
    logger.warning("moved the earlier results of '%s' into '%s'.", out, target)
    return target


class _RunContext:
    """What every runner needs: the cases to compute, where, with what, and whom to tell."""

    def __init__(self, todo, out, settings, engine, fingerprints, skipped, progress, should_cancel):
        self.todo, self.out, self.settings, self.engine, self.fingerprints = todo, out, settings, engine, fingerprints
        self.skipped, self.progress, self.should_cancel = skipped, progress, should_cancel
        self.finished = 0
        self.tables: dict[str, pd.DataFrame] = {}   # patient_id -> lesions.csv as read back by compute_case

    def arguments(self, case: dict[str, Any]) -> tuple:
        return case, str(self.out), self.settings, self.fingerprints[case["patient_id"]], self.engine

    def case_done(self, record: dict[str, Any], table: pd.DataFrame | None = None) -> None:
        """Count a finished case (keeping its table for the cohort tables) and report progress over
        the cases of this run (so the ETA is right)."""
        if table is not None:
            self.tables[record["patient_id"]] = table
        self.finished += 1
        status = "failed" if record.get("status") != "done" else "done"
        if record.get("seconds") is not None:
            peak = record.get("peak_rss_mb")
            status += f" ({record['seconds']:.1f} s" + (f", peak {peak:.0f} MB)" if peak is not None else ")")
        report(self.progress, self.finished / max(len(self.todo), 1),
               f"{self.finished}/{len(self.todo)} cases ({self.skipped} already done): {record['patient_id']} {status}")

    def cancelled(self) -> OperationCancelled:
        return OperationCancelled(f"Cancelled by the user after {self.finished} of {len(self.todo)} cases; "
                                  "finished cases are kept, re-run the same command to resume.")


def _run_serial(context: _RunContext) -> None:
    """jobs=1: the cases one after the other in this process."""
    for index, case in enumerate(context.todo):
        if context.should_cancel is not None and context.should_cancel():
            raise context.cancelled()
        try:
            record, table = compute_case(*context.arguments(case), progress=_case_progress(context, index, case),
                                         should_cancel=context.should_cancel)
        except OperationCancelled:
            raise context.cancelled() from None
        context.case_done(record, table)


def _case_progress(context: _RunContext, index: int, case: dict[str, Any]) -> ProgressCallback:
    """Progress inside case ``index`` of a serial run, as its share of the whole run."""
    part = scaled(context.progress, index / len(context.todo), (index + 1) / len(context.todo))
    if part is None:
        return None
    return lambda fraction, message: part(fraction, f"{case['patient_id']}: {message}")


def _start_method() -> str:
    import multiprocessing

    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


def _start_fork_server() -> None:
    """Start the fork server now, importing PRELOADED there while this process prepares the run.

    Only the first fork server of a process takes the list (later calls change nothing); a module
    that cannot be imported there is imported by each worker instead, as without preloading.
    """
    if _start_method() != "forkserver":
        return
    import multiprocessing
    from multiprocessing import forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(PRELOADED))
    forkserver.ensure_running()


def _limit_threads(threads: int) -> None:
    """Worker initializer: SimpleITK may use ``threads`` threads (so N workers do not oversubscribe)."""
    import SimpleITK as sitk

    sitk.ProcessObject.SetGlobalDefaultNumberOfThreads(threads)


def _run_pool(context: _RunContext, jobs: int) -> None:
    """jobs=N: a process pool; at most 2N cases queued, so cancelling is quick and memory bounded."""
    import multiprocessing

    threads = max(1, (os.cpu_count() or 1) // jobs)

    def new_pool() -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(_start_method()),
                                   initializer=_limit_threads, initargs=(threads,))

    pools = [new_pool()]

    def submit(case):
        try:
            return pools[-1].submit(compute_case, *context.arguments(case), lesion_workers=threads)
        except BrokenProcessPool:        # a worker died: its cases are recorded as failed, go on
            pools.append(new_pool())
            return pools[-1].submit(compute_case, *context.arguments(case), lesion_workers=threads)

    try:
        _drive(context, submit, window=2 * jobs)
    except BaseException:
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
        raise
    for pool in pools:
        pool.shutdown(wait=True)


def _run_dask(context: _RunContext, scheduler: str) -> None:
    """scheduler=ADDRESS: the same per-case function on a Dask distributed cluster."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError("--scheduler needs the 'distributed' package (pip install 'radiomics-response[dask]')") from None
    try:
        client = Client(scheduler, timeout="30s")
    except (OSError, TimeoutError) as error:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {error}") from None
    try:
        futures: list = []

        def submit(case):
            future = client.submit(compute_case, *context.arguments(case), pure=False,
                                   key=f"radiomics-case-{case['case_dir']}-{os.getpid()}-{time.time_ns()}")
            futures.append(future)
            return future

        try:
            _drive(context, submit, window=len(context.todo) or 1)
        finally:
            client.cancel([f for f in futures if not f.done()])
    finally:
        client.close()


def _drive(context: _RunContext, submit: Callable, window: int) -> None:
    """Submit cases (at most ``window`` in flight), collect them as they finish, stop on cancel.

    Works with concurrent.futures and Dask futures alike (both have ``done()`` and ``result()``).
    """
    pending = list(context.todo)
    in_flight: dict[Any, dict[str, Any]] = {}
    while pending or in_flight:
        if context.should_cancel is not None and context.should_cancel():
            for future in in_flight:
                future.cancel()
            raise context.cancelled()
        while pending and len(in_flight) < window:
            case = pending.pop(0)
            in_flight[submit(case)] = case
        finished = [future for future in in_flight if future.done()]
        if not finished:
            time.sleep(POLL_SECONDS)
            continue
        for future in finished:
            case = in_flight.pop(future)
            try:
                record, table = future.result()
            except Exception as error:  # noqa: BLE001 - worker died or task lost: record, go on
                record, table = _worker_failure(case, context.out, context.fingerprints[case["patient_id"]], error), None
            context.case_done(record, table)


# ------------------------------------------------------------------------------- cohort tables

def _write_outputs(out: Path, cases: list[dict[str, Any]], method: str, settings: dict, settings_sha256: str,
                   manifest_path, read_back: dict[str, pd.DataFrame] | None = None) -> dict[str, Any]:
    """Assemble DIR/lesions.csv, DIR/patients.csv and DIR/errors.csv from the case folders.

    ``read_back``: case lesion tables this run's workers already read back from their lesions.csv
    (compute_case); the other finished cases' tables are read here.
    """
    tables, errors, case_provenance = [], [], {}
    done = failed = 0
    for case in cases:
        record = _read_case_record(out, case) or {"status": "failed", "stage": "worker",
                                                  "message": "the case did not finish (no case.json)"}
        if record.get("status") == "done":
            table = (read_back or {}).get(case["patient_id"])
            if table is None:
                table = _case_table(out, case)
            case_provenance[case["patient_id"]] = table.attrs.get("provenance")
            tables.append(table)
            done += 1
            errors += [[case["patient_id"], "lesion", e.get("message", "")] for e in record.get("lesion_errors", [])]
            errors += [[case["patient_id"], "warning", message] for message in record.get("warnings", [])]
        else:
            failed += 1
            errors.append([case["patient_id"], record.get("stage", "compute"), record.get("message", "")])
    provenance = make_provenance(stage="batch", manifest=str(Path(manifest_path).resolve()),
                                 extraction_settings=settings, extraction_settings_sha256=settings_sha256,
                                 cases=case_provenance)
    lesions = _cohort_lesions(tables)
    lesions.attrs["provenance"] = provenance
    write_table(lesions, out / "lesions.csv")
    patients = _cohort_patients(lesions, method)
    write_table(patients, out / "patients.csv")
    errors_table = pd.DataFrame(errors, columns=ERROR_COLUMNS)
    write_table(errors_table, out / "errors.csv")
    return {"cases": len(cases), "done": done, "failed": failed, "lesions_csv": str(out / "lesions.csv"),
            "patients_csv": str(out / "patients.csv"), "errors_csv": str(out / "errors.csv")}


def _cohort_lesions(tables: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """All case lesion tables stacked, sorted by patient_id then lesion_id (deterministic)."""
    if not tables:
        return pd.DataFrame(columns=["patient_id", "lesion_id"])
    lesions = pd.concat(tables, ignore_index=True, sort=False)
    lesions = lesions.sort_values(["patient_id", "lesion_id"], key=lambda s: s.astype(str), kind="stable")
    return lesions.reset_index(drop=True)


def _cohort_patients(lesions: pd.DataFrame, method: str) -> pd.DataFrame:
    """The cohort patient table (every numeric lesion column aggregated with ``method``)."""
    if lesions.empty:
        empty = pd.DataFrame(columns=["patient_id", "n_lesions"])
        empty.attrs["provenance"] = make_provenance(stage="aggregate", note="no finished case")
        return empty
    return patient_table(lesions, method=method)
