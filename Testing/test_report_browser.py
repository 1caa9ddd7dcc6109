"""The patient report: self-contained HTML checked as text, then rendered by headless Chromium
(Debian package ``chromium``): the rendered DOM holds the key elements and a screenshot is kept in
Testing/artifacts/report.png for a person to look at. Browser tests skip without chromium."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from NomogramScoreLib import nomogram as nm
from NomogramScoreLib.demo import demo_report_inputs
from NomogramScoreLib.report import build_report, write_report
from ResponseSignatureLib.models.modelfile import load_model
from ResponseSignatureLib.provenance import make_provenance

REPO = Path(__file__).resolve().parents[1]
DEMO_MODEL = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"
BROWSERS = ("chromium", "chromium-browser")


def report_inputs() -> dict:
    inputs = demo_report_inputs()
    model = load_model(DEMO_MODEL)
    result = nm.score_patient(model, inputs.pop("clinical"))
    provenance = make_provenance(settings_hash="0f3c" * 16, extraction_settings={"binWidth": 25, "resampledPixelSpacing": [1, 1, 1]})
    return {**inputs, "nomogram_result": result, "model": model, "provenance": provenance}


def test_report_html_is_self_contained_and_escaped():
    inputs = report_inputs()
    inputs["patient"] = {**inputs["patient"], "patient_id": "<script>alert('x')</script>"}
    html = build_report(**inputs)
    assert "<script>" not in html and "&lt;script&gt;" in html
    urls = [u for u in re.findall(r"(?:https?:)?//[^\s\"'<>)]+", html) if u != "http://www.w3.org/2000/svg"]
    assert urls == []  # the SVG namespace is the only URL; nothing is fetched
    assert "src=" not in html and "<link" not in html and "@import" not in html
    for ident in ("patient", "lesions", "lesion-table", "recist", "recist-category", "waterfall", "signature",
                  "nomogram", "points-table", "gauge", "provenance", "provenance-table", "disclaimer"):
        assert f'id="{ident}"' in html
    assert "Research use only" in html
    assert inputs["model"]["sha256"] in html


def test_report_sections_say_when_data_is_missing():
    html = build_report({"patient_id": "P7"}, provenance={})
    for what in ("Lesion table", "RECIST assessment", "Signature score", "Nomogram prediction", "Risk estimate"):
        assert f"{what} not available." in html


def find_browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium); browser test skipped")


def run_browser(browser: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    command = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync",
               f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=120)


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tmp_path, artifacts_dir):
    browser = find_browser()
    page = write_report(**report_inputs(), path=artifacts_dir / "report.html")
    url = page.resolve().as_uri()
    dom = run_browser(browser, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    rendered = dom.stdout
    assert re.search(r'<svg[^>]*class="risk-gauge"', rendered)
    assert 'id="gauge-needle"' in rendered and 'id="gauge-ci"' in rendered
    assert len(re.findall(r'<tr class="lesion-row"', rendered)) == 4
    assert re.search(r'<span id="recist-category"[^>]*>PR</span>', rendered)
    assert re.search(r'<svg[^>]*class="nomogram-chart"', rendered) and re.search(r'<svg[^>]*class="waterfall-chart"', rendered)
    assert len(re.findall(r'<tr class="points-row"', rendered)) == 5
    assert "Research use only" in rendered

    screenshot = artifacts_dir / "report.png"
    if screenshot.exists():
        screenshot.unlink()
    shot = run_browser(browser, tmp_path / "profile-shot", f"--screenshot={screenshot}", "--window-size=1100,2700",
                       "--hide-scrollbars", url)
    assert shot.returncode == 0, shot.stderr[-2000:]
    data = screenshot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert (width, height) == (1100, 2700)
    assert len(data) > 50_000  # a blank page compresses to a few kB
