"""Start the workstation in a child process and drive it with Playwright and Debian's chromium.

Used by the end-to-end browser test and the workstation benchmark (test code: not shipped in the
wheel). No browser is downloaded:
Playwright only drives the system chromium (``CHROMIUM``). The server always listens on
127.0.0.1 and a free port, and ``running_workstation`` stops it whatever happens.
"""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCE_PATHS = [REPO_ROOT / name for name in ("Web", "ResponseSignature", "LesionAggregate", "NomogramScore")]
CHROMIUM = os.environ.get("RADIOMICS_RESPONSE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def missing_requirements() -> str:
    """Why the browser test cannot run here ('' if it can)."""
    import importlib.util

    for module in ("trame", "trame_slicer", "playwright"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed (pip install 'radiomics-response[web]' and playwright)"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"chromium not found at {CHROMIUM} (apt-get install chromium)"
    return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _environment() -> dict:
    env = dict(os.environ)
    paths = [str(p) for p in SOURCE_PATHS] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")
    return env


def wait_for_address(log_path: Path, process: subprocess.Popen, timeout_s: float) -> str:
    """The address (with its access token) the workstation prints once it serves, as a user reads it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the workstation exited with code {process.returncode} before serving")
        found = re.search(r"workstation: open (http://\S+)", Path(log_path).read_text(encoding="utf-8", errors="replace"))
        if found:
            return found.group(1)
        time.sleep(0.25)
    raise RuntimeError(f"the workstation printed no address within {timeout_s:.0f} s (see {log_path})")


def wait_for_http(url: str, process: subprocess.Popen, timeout_s: float) -> None:
    """Wait until the server answers (RuntimeError if it exits or takes longer than timeout_s)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the workstation exited with code {process.returncode} before serving")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            time.sleep(0.25)
    raise RuntimeError(f"the workstation did not answer at {url} within {timeout_s:.0f} s")


@contextlib.contextmanager
def running_workstation(out_dir: Path, demo: bool = True, timeout_s: float = 120.0) -> Iterator[dict]:
    """Run ``python -m RadiomicsResponseWeb`` on 127.0.0.1:<free port>; yields ``url`` (the printed
    address, with the access token), ``base_url`` (without it), ``token``, log, seconds to ready."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    command = [sys.executable, "-m", "RadiomicsResponseWeb", "--port", str(port), "--host", "127.0.0.1",
               "--no-browser", "--out", str(out_dir)] + (["--demo"] if demo else [])
    log_path = out_dir / "workstation.log"
    start = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=_environment(), cwd=str(out_dir))
        try:
            url = wait_for_address(log_path, process, timeout_s)
            wait_for_http(url, process, timeout_s)
            base_url, _, token = url.partition("?token=")
            yield {"url": url, "base_url": base_url, "token": token, "port": port, "log": log_path,
                   "ready_s": time.monotonic() - start, "process": process}
        finally:
            stop(process)


def stop(process: subprocess.Popen) -> None:
    """Terminate the server process (kill it if it does not stop within 10 s)."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextlib.contextmanager
def chromium_page(width: int = 1600, height: int = 1000):
    """A Playwright page in Debian's headless chromium (closed on exit)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()


# ----------------------------------------------------------------------------- page helpers
VIEW_IMAGES = "img.image-display-area"


def wait_for_views(page, timeout_ms: int = 60000) -> None:
    """Wait until every slice view shows a rendered image."""
    page.wait_for_function(
        f"""() => {{
            const images = Array.from(document.querySelectorAll('{VIEW_IMAGES}'));
            return images.length > 0 && images.every(i => i.complete && i.naturalWidth > 16);
        }}""",
        timeout=timeout_ms,
    )


def wait_for_lesions(page, count: int, timeout_ms: int = 60000) -> None:
    """Wait until the lesion panel lists ``count`` lesions."""
    page.wait_for_function(f"() => document.querySelectorAll('#rr-lesions [data-segment]').length === {count}",
                           timeout=timeout_ms)


def largest_view_box(page) -> dict:
    """Bounding box of the largest slice view (the axial view of the reading layout)."""
    boxes = [image.bounding_box() for image in page.query_selector_all(VIEW_IMAGES)]
    boxes = [box for box in boxes if box]
    return max(boxes, key=lambda box: box["width"] * box["height"])


def compute_and_wait(page, timeout_ms: int = 120000) -> None:
    """Click Compute and wait for the lesion table to show."""
    page.click("#rr-compute")
    page.wait_for_selector("#rr-lesion-table tbody tr", timeout=timeout_ms)
    page.wait_for_function("() => !document.querySelector('#rr-cancel')", timeout=timeout_ms)
