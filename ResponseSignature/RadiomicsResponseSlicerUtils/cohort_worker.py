"""A cohort run in ONE worker process: the command line's ``batch`` run by PythonSlicer.

Why: a process pool started inside the Slicer application does not work reliably (Slicer sets
``sys.executable`` to the PythonSlicer launcher, so multiprocessing's children start through the
launcher; Slicer issue #7445: ``BrokenProcessPool``, ``Process.start()`` hanging). The Slicer
process therefore starts no pool: it starts one worker, ``PythonSlicer`` (Slicer's plain Python,
with Slicer's packages, no Qt event loop), running exactly ``python -m LesionAggregateLib batch``
(``LesionAggregateLib.cli.main``), which runs the cases one after the other (jobs = 1) or in its
own process pool (jobs > 1), as it does on the command line. The worker prints one JSON object per
line (``--progress-format json``): ``{"progress": f, "message": m}`` as cases finish, then
``{"summary": {...}}``. Slicer reads them without blocking (``poll()`` from a timer).

Cancel interrupts the worker (its whole process group: the pool's processes too) and, if it has not
stopped after a grace period, kills it. Nothing finished is lost: the batch writes each case
atomically as it finishes, and running the same manifest and folder again resumes.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Optional, Sequence

#: Run by ``<python> -c``: put the Lib folders first on sys.path, then the command line's main().
BOOTSTRAP = ("import os, sys; sys.path[:0] = [p for p in sys.argv[1].split(os.pathsep) if p]; "
             "from LesionAggregateLib.cli import main; sys.exit(main(sys.argv[2:]))")
#: Exit codes of the command line (ResponseSignatureLib.cli_support.dispatch).
EXIT_OK, EXIT_CASES_FAILED, EXIT_BAD_INPUT, EXIT_CANCELLED = 0, 1, 2, 130


class CohortCancelled(Exception):
    """The run was cancelled; finished cases are kept and a re-run resumes."""


def pythonSlicerExecutable() -> str:
    """Slicer's Python interpreter: ``PythonSlicer`` (on PATH inside Slicer), else ``sys.executable``.

    Inside the Slicer application ``sys.executable`` is the PythonSlicer launcher as well
    (qSlicerCoreApplication sets it, Slicer 5.8 and 5.10).
    """
    return shutil.which("PythonSlicer") or sys.executable


def batchArguments(manifestPath: str, outputDir: str, jobs: int = 1, params: Optional[str] = None,
                   engine: str = "builtin", method: str = "volume_weighted") -> list:
    """Arguments of ``radiomics-response batch`` for one run, with machine-readable progress."""
    arguments = ["batch", str(manifestPath), "--out", str(outputDir), "--jobs", str(int(jobs)),
                 "--engine", engine, "--method", method, "--progress-format", "json"]
    if params:
        arguments += ["--params", str(params)]
    return arguments


class CohortWorker:
    """One running ``batch`` worker process; read its progress with ``poll()``."""

    def __init__(self, command: Sequence[str], env: Optional[dict] = None):
        self.command = list(command)
        self.summary = None
        self.stderrLines = []
        self._events = queue.Queue()
        self._cancelled = False
        environment = dict(os.environ if env is None else env, PYTHONUNBUFFERED="1", PYTHONUTF8="1")
        options = {"start_new_session": True} if os.name == "posix" else {
            "creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
        self.process = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, env=environment, encoding="utf-8",
                                        errors="replace", **options)
        self._readers = [threading.Thread(target=self._readStdout, daemon=True),
                         threading.Thread(target=self._readStderr, daemon=True)]
        for reader in self._readers:
            reader.start()

    @classmethod
    def start(cls, arguments: Sequence[str], libDirs: Sequence[str] = (), python: Optional[str] = None,
              env: Optional[dict] = None) -> "CohortWorker":
        """Start ``LesionAggregateLib.cli.main(arguments)`` in ``python`` (default: PythonSlicer).

        :param libDirs: folders holding ResponseSignatureLib and LesionAggregateLib (put first on
            the worker's sys.path: inside Slicer they are on sys.path only, not in PYTHONPATH).
        """
        command = [python or pythonSlicerExecutable(), "-c", BOOTSTRAP, os.pathsep.join(libDirs), *arguments]
        return cls(command, env=env)

    def _readStdout(self) -> None:
        for line in self.process.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # the human-readable summary line
            if isinstance(event, dict):
                if "summary" in event:
                    self.summary = event["summary"]
                self._events.put(event)

    def _readStderr(self) -> None:
        for line in self.process.stderr:
            self.stderrLines.append(line.rstrip("\n"))
            del self.stderrLines[:-200]

    @property
    def running(self) -> bool:
        """True until the worker process has exited."""
        return self.process.poll() is None

    def poll(self) -> list:
        """The progress events printed since the last call: ``[(fraction, message), ...]`` (no waiting)."""
        events = []
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return events
            if "progress" in event:
                events.append((float(event["progress"]), str(event.get("message", ""))))

    def cancel(self, graceSeconds: float = 10.0) -> None:
        """Interrupt the worker and its pool (Ctrl+C), then kill them if still running after ``graceSeconds``."""
        self._cancelled = True
        if not self.running:
            return
        self._signalGroup(signal.SIGINT if os.name == "posix" else signal.CTRL_BREAK_EVENT)
        try:
            self.process.wait(graceSeconds)
        except subprocess.TimeoutExpired:
            pass
        self._signalGroup(signal.SIGKILL if os.name == "posix" else None)  # the worker or pool processes left
        self.process.wait()

    def _signalGroup(self, signalNumber) -> None:
        try:
            if os.name == "posix":
                os.killpg(self.process.pid, signalNumber)
            elif signalNumber is None:
                self.process.kill()
            else:
                self.process.send_signal(signalNumber)
        except (ProcessLookupError, PermissionError, OSError):
            pass  # already gone

    def wait(self, timeout: Optional[float] = None) -> int:
        """Wait for the worker to exit (and its output to be read); returns the exit code."""
        code = self.process.wait(timeout)
        for reader in self._readers:
            reader.join(5.0)
        return code

    def errorMessage(self) -> str:
        """The worker's one-line error ('error: ...' of the command line), else its last stderr lines."""
        errors = [line for line in self.stderrLines if line.startswith("error:")]
        if errors:
            return errors[-1][len("error:"):].strip()
        return "\n".join(self.stderrLines[-10:]) or f"the worker exited with code {self.process.returncode}"

    def result(self) -> dict:
        """The run summary once the worker has exited (cases that failed are in the summary).

        :raises CohortCancelled: the run was cancelled.
        :raises ValueError: the command line rejected its input (bad manifest, parameter file...).
        :raises RuntimeError: the worker failed otherwise (message from its error output).
        """
        code = self.wait()
        if self._cancelled or code == EXIT_CANCELLED:
            raise CohortCancelled("Cancelled: the finished cases are kept; run again with the same manifest "
                                  "and output folder to resume.")
        if code in (EXIT_OK, EXIT_CASES_FAILED) and self.summary is not None:
            return self.summary
        if code == EXIT_BAD_INPUT:
            raise ValueError(self.errorMessage())
        raise RuntimeError(f"The cohort worker failed (exit code {code}): {self.errorMessage()}")

    def runToEnd(self, progress: Optional[Callable[[float, str], None]] = None,
                 shouldCancel: Optional[Callable[[], bool]] = None, pollSeconds: float = 0.1) -> dict:
        """Wait for the worker, reporting progress and cancelling when asked; returns ``result()``."""
        while self.running:
            self._report(progress)
            if shouldCancel is not None and shouldCancel():
                self.cancel()
                break
            time.sleep(pollSeconds)
        self.wait()
        self._report(progress)
        return self.result()

    def _report(self, progress) -> None:
        for fraction, message in self.poll():
            if progress is not None:
                progress(fraction, message)
