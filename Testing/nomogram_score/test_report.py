"""The patient report: self-contained HTML checked as text, then the demo report (the whole
``radiomics-response demo`` pipeline) printed to PDF on A4 by headless Chromium through Playwright
(Debian's /usr/bin/chromium, no browser download): at most 3 pages, no element wider than the
printable page. The PDF and one PNG per page are kept in Testing/artifacts for a person to look
at. Browser tests skip without chromium or Playwright."""
from __future__ import annotations

import html as html_lib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from NomogramScoreLib import nomogram as nm
from NomogramScoreLib.demo import demo_report_inputs
from NomogramScoreLib.report import build_report, sidecar_path
from ResponseSignatureLib.models.modelfile import load_model
from ResponseSignatureLib.models.outcome import read_against_cutoff
from ResponseSignatureLib.provenance import make_provenance

REPO = Path(__file__).resolve().parents[2]
DEMO_MODEL = REPO / "NomogramScore" / "Resources" / "Models" / "demo_nomogram.json"
CHROMIUM = "/usr/bin/chromium"
A4_PRINTABLE_PX = (210 - 2 * 11) / 25.4 * 96  # A4 width minus the report's @page margins (11 mm), CSS px


def report_inputs() -> dict:
    inputs = demo_report_inputs()
    model = load_model(DEMO_MODEL)
    result = nm.score_patient(model, inputs.pop("clinical"))
    provenance = make_provenance(settings_hash="0f3c" * 16, extraction_settings={"binWidth": 25, "resampledPixelSpacing": [1, 1, 1]})
    return {**inputs, "nomogram_result": result, "model": model, "provenance": provenance}


def visible_text(page: str) -> str:
    """The report's text outside tags, scripts and the collapsed full provenance record."""
    page = re.sub(r"<details.*?</details>", " ", page, flags=re.S)
    page = re.sub(r"<style.*?</style>", " ", page, flags=re.S)
    return html_lib.unescape(re.sub(r"<[^>]+>", " ", page))


def test_report_html_is_self_contained_and_escaped():
    inputs = report_inputs()
    inputs["patient"] = {**inputs["patient"], "patient_id": "<script>alert('x')</script>"}
    page = build_report(**inputs)
    assert "<script>" not in page and "&lt;script&gt;" in page
    urls = [u for u in re.findall(r"(?:https?:)?//[^\s\"'<>)]+", page) if u != "http://www.w3.org/2000/svg"]
    assert urls == []  # the SVG namespace is the only URL; nothing is fetched
    assert "src=" not in page and "<link" not in page and "@import" not in page
    for ident in ("patient", "summary", "lesions", "lesion-table", "recist", "recist-category", "waterfall", "signature",
                  "nomogram", "points-table", "gauge", "provenance", "provenance-table", "provenance-full", "disclaimer"):
        assert f'id="{ident}"' in page
    assert "Research use only" in page
    assert inputs["model"]["sha256"] in page


def test_report_sections_say_when_data_is_missing():
    page = build_report({"patient_id": "P7"}, provenance={})
    for what in ("Lesion table", "RECIST assessment", "Signature score", "Nomogram prediction", "Assessment"):
        assert f"{what} not available." in page


def test_report_uses_human_labels_and_one_number_format():
    inputs = report_inputs()
    text = visible_text(build_report(**inputs))
    for raw in ("baseline_sum_mm", "baseline sum mm", "recist targets", "percent change", "followup:", "nadir_sum_mm",
                "overall_response", "_mm"):
        assert raw not in text.lower(), raw
    assert "Sum of target diameters at baseline 99.0 mm" in " ".join(text.split())
    result = inputs["nomogram_result"]
    shown = re.search(r"\(95 % CI ([\d.]+) to ([\d.]+) %\)", text)  # one CI format: "to", the unit once
    assert shown and float(shown.group(1)) == pytest.approx(100 * result["ci_low"], abs=0.5)
    assert float(shown.group(2)) == pytest.approx(100 * result["ci_high"], abs=0.5)
    prose = visible_text(re.sub(r"<svg.*?</svg>", " ", build_report(**inputs), flags=re.S))
    assert not re.search(r"\d %\s*[-–]\s*\d", prose)  # never "27 % - 100 %"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory) -> dict:
    """The whole demo pipeline once (synthetic case -> report), as ``radiomics-response demo`` runs it."""
    from NomogramScoreLib.demo_pipeline import run_full_demo

    return run_full_demo(tmp_path_factory.mktemp("demo"))


def test_demo_report_reads_the_prediction_honestly(demo_run):
    page = Path(demo_run["report"]).read_text(encoding="utf-8")
    text = " ".join(visible_text(page).split())
    risk = demo_run["risk"]
    expected = read_against_cutoff(risk["risk"], risk["threshold"], risk["ci_low"], risk["ci_high"])
    # independent rule: a CI spanning the cut-off is indeterminate, never low or high
    spans = risk["ci_low"] < risk["threshold"] <= risk["ci_high"]
    assert (expected.kind == "indeterminate") == spans
    assert re.search(rf'id="summary-nomogram".*?data-reading="{expected.kind}"', page, re.S)
    if spans:
        assert "Indeterminate — the 95 % CI spans the cut-off" in text
        nomogram_part = text[text.index("Nomogram prediction"):text.index("Provenance")]
        assert not re.search(r"\b(low|high) risk\b", nomogram_part, re.IGNORECASE)
    # the waterfall shows every lesion: the new one that makes the case PD is marked, not dropped
    assert 'class="waterfall-new" data-lesion="liver_4"' in page
    import pandas as pd

    assert len(re.findall(r'class="waterfall-label"', page)) == len(pd.read_csv(demo_run["lesions"]))


def test_demo_report_provenance_is_a_short_summary_with_the_full_record_beside_it(demo_run):
    report = Path(demo_run["report"])
    page = report.read_text(encoding="utf-8")
    summary = re.search(r'<table id="provenance-table".*?</table>', page, re.S).group(0)
    assert summary.count("<tr>") <= 15
    assert "volume_weighted" not in summary  # the per-column aggregation methods stay in the full record
    record = json.loads(sidecar_path(report).read_text(encoding="utf-8"))
    for model in record["models"]:
        assert summary.count(model["sha256"]) == 1  # each model once, with its hash
    assert {m["model"] for m in record["models"]} == {"Signature model", "Nomogram model"}
    assert len(record["input_files"]) == 4 and all(len(f["sha256"]) == 64 for f in record["input_files"])
    import hashlib

    first = record["input_files"][0]
    assert hashlib.sha256(Path(first["path"]).read_bytes()).hexdigest() == first["sha256"]
    assert first["sha256"] in summary
    assert re.search(r"Extraction settings.*SHA-256 [0-9a-f]{64}", summary, re.S)
    assert "radiomics-response" in summary and "pyradiomics" in summary
    details = re.search(r'<details id="provenance-full">(.*?)</details>', page, re.S).group(1)
    assert "volume_weighted" in details and " open" not in page[page.index('<details id="provenance-full"'):][:40]


def _playwright():
    if not Path(CHROMIUM).is_file():
        pytest.skip("headless Chromium not installed (Debian: apt-get install -y chromium); browser test skipped")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (test extra, Python >= 3.10)")
    return sync_playwright


def pdf_page_count(data: bytes) -> int:
    """Pages of a PDF written by Chromium: its page objects ('/Type /Page', not '/Pages')."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))


@pytest.mark.browser
def test_demo_report_prints_on_at_most_three_a4_pages_without_clipping(demo_run, artifacts_dir):
    sync_playwright = _playwright()
    report = Path(demo_run["report"])
    pdf = artifacts_dir / "demo_report.pdf"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": round(A4_PRINTABLE_PX), "height": 1100})
            page.goto(report.resolve().as_uri())
            page.emulate_media(media="print")
            widths = page.evaluate("""() => {
                const all = Array.from(document.querySelectorAll('body *'));
                const too_wide = all.filter(e => { const r = e.getBoundingClientRect();
                    return r.width > 0 && (r.right > document.documentElement.clientWidth + 0.5 || r.left < -0.5); })
                    .map(e => e.tagName + '#' + e.id + '.' + e.className);
                return {scroll: document.documentElement.scrollWidth, client: document.documentElement.clientWidth,
                        too_wide: too_wide};
            }""")
            page.pdf(path=str(pdf), format="A4", print_background=True)
        finally:
            browser.close()
    assert widths["client"] == pytest.approx(A4_PRINTABLE_PX, abs=1)
    assert widths["too_wide"] == [] and widths["scroll"] <= widths["client"]
    pages = pdf_page_count(pdf.read_bytes())
    assert 1 <= pages <= 3
    if shutil.which("pdfinfo"):
        info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
        assert f"Pages:           {pages}" in info or re.search(rf"Pages:\s+{pages}\b", info)
    if shutil.which("pdftoppm"):  # one PNG per page, for a person to look at
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(pdf), str(artifacts_dir / "demo_report_page")], check=True)
