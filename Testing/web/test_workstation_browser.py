"""The web workstation: its session layer headless, and the whole workflow in a real browser.

The browser test starts ``python -m RadiomicsResponseWeb --demo`` on 127.0.0.1 and a free port,
drives Debian's chromium with Playwright (no browser download), adds a lesion on the follow-up
with Slicer's segment editor (add segment, name, location, Paint in the axial view, undo, redo),
computes, and checks the lesion table and the result panels against the libraries run headless
on the files the workstation wrote. Screenshots: Testing/artifacts/workstation_*.png.

The browser tests open the address the workstation prints (it carries the launch's access
token); ``test_workstation_refuses_requests_without_the_token_and_foreign_origins`` checks that a
request without the token and a WebSocket opened by another page (another origin, even with the
token's cookie in the browser) are refused, while the workstation's own page connects.

The tests skip with a message when what they need (slicer-core; trame-slicer, playwright,
chromium) is missing.
"""
from __future__ import annotations

import contextlib
import importlib.util
import math
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "Web"))

import workstation_harness as harness  # noqa: E402
from ResponseSignatureLib.formatting import MISSING, change_percent, number, quantity  # noqa: E402

NEW_LESION = "liver_5"
# Where to paint, in mm from the image centre (LPS x, y): inside the follow-up liver, more than
# 15 mm (the matching tolerance) from every other lesion, so that the painted lesion is 'new'.
PAINT_AT_MM = (-20.0, 18.0)
FIELD_OF_VIEW_MM = 128.0  # the demo image is 160 x 0.8 mm wide and high; the views are fitted to it
CLINICAL_VALUES = {"albumin": "38", "lymphocytes": "1.2", "cea": "12"}
CLINICAL_STAGE = "III"


# ------------------------------------------------------------------------------ headless part
@pytest.mark.skipif(importlib.util.find_spec("slicer") is None, reason="slicer-core (the mrml extra) is not installed")
def test_session_round_trip_matches_pipeline(tmp_path):
    """Files -> MRML nodes -> pipeline gives what the pipeline gives on the files; names/locations edit."""
    from ResponseSignatureLib import mrml_bridge, pipeline
    from ResponseSignatureLib.errors import InputError
    from ResponseSignatureLib.sample_data import make_sample_case

    from RadiomicsResponseWeb import session

    paths = make_sample_case(tmp_path / "case")
    case = session.Session(mrml_bridge.make_scene(), patient_id="demo")
    case.load_case(paths)
    assert [lesion["name"] for lesion in case.lesions("baseline")] == ["liver_1", "liver_2", "liver_3", "node_1"]
    first = case.lesions("followup")[0]["segment_id"]
    case.rename("followup", first, "lung_9")
    case.set_location("followup", first, "Lung")
    assert case.lesions("followup")[0]["name"] == "lung_9" and case.location("followup", first) == "lung"
    with pytest.raises(InputError, match="already called"):
        case.rename("followup", first, "liver_2")
    case.rename("followup", first, "liver_1")
    case.set_location("followup", first, "liver")

    inputs = case.pipeline_inputs()
    result = session.compute(inputs)
    expected = pipeline.run_case_files(paths["baseline_image"], paths["baseline_seg"], paths["followup_image"],
                                       paths["followup_seg"], patient_id="demo", locations=paths["locations"])
    columns = ["lesion_id", "location", "status", "baseline:volume_ml", "followup:longest_diameter_mm"]
    assert result.table[columns].equals(expected.table[columns])
    assert result.recist == expected.recist

    # The work folder holds a case that loads again with the same lesions and locations.
    written = {path.name: path for path in session.write_result(result, tmp_path / "out", inputs)}
    assert set(written) == {"demo_lesions.csv", "demo_baseline.seg.nrrd", "demo_followup.seg.nrrd", "demo_locations.csv"}
    assert (tmp_path / "out" / "demo_lesions.csv.provenance.json").is_file()
    again = session.Session(mrml_bridge.make_scene(), patient_id="demo")
    again.load_case({"baseline_image": paths["baseline_image"], "baseline_seg": written["demo_baseline.seg.nrrd"],
                     "followup_image": paths["followup_image"], "followup_seg": written["demo_followup.seg.nrrd"],
                     "locations": written["demo_locations.csv"]})
    assert session.compute(again.pipeline_inputs()).table[columns].equals(result.table[columns])


# ------------------------------------------------------------------------------- access control
OPEN_WEBSOCKET = """(url) => new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.onopen = () => { socket.close(); resolve('open'); };
    socket.onerror = () => resolve('refused');
    setTimeout(() => resolve('no answer'), 15000);
})"""


@contextlib.contextmanager
def foreign_site():
    """Another web page on this computer: a plain HTTP server on another port (another origin)."""
    import functools
    import http.server
    import tempfile
    import threading

    folder = tempfile.mkdtemp()
    Path(folder, "index.html").write_text("<html><body>another site</body></html>", encoding="utf-8")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


def http_status(url: str, headers: dict | None = None) -> tuple[int, str]:
    """(status, body) of a GET (no redirect followed by hand: urllib follows them)."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def test_access_rules_without_a_server():
    """The guard's decisions (what the middleware answers 403 to), including --no-token."""
    from RadiomicsResponseWeb import access

    token = access.new_token()
    assert len(token) >= 40 and token != access.new_token()
    guard = access.AccessGuard(token)
    own = {"Host": "127.0.0.1:8765", "Origin": "http://127.0.0.1:8765"}
    cookie = {access.COOKIE_PREFIX + "8765": token}
    assert guard.refusal(own, {"token": token}, {}) == ""
    assert guard.refusal(own, {}, cookie) == ""
    assert guard.refusal({"Host": "localhost:8765", "Authorization": f"token {token}"}, {}, {}) == ""
    assert guard.refusal(own, {}, {}) == access.REFUSED_TOKEN
    assert guard.refusal(own, {"token": token[:-1]}, {access.COOKIE_PREFIX + "9999": token}) == access.REFUSED_TOKEN
    assert "another web page" in guard.refusal({**own, "Origin": "http://127.0.0.1:9999"}, {"token": token}, cookie)
    assert "another web page" in guard.refusal({**own, "Origin": "null"}, {"token": token}, {})
    assert "answers only to" in guard.refusal({"Host": "rebound.example:8765"}, {"token": token}, {})
    open_guard = access.AccessGuard(None)                      # --no-token: Origin and Host still checked
    assert open_guard.refusal(own, {}, {}) == ""
    assert "another web page" in open_guard.refusal({**own, "Origin": "http://evil.example"}, {}, {})
    assert access.AccessGuard(token, loopback_only=False).refusal({"Host": "ws1.hospital:8765"}, {"token": token}, {}) == ""
    assert access.launch_url("127.0.0.1", 8765, token) == f"http://127.0.0.1:8765/?token={token}"
    assert access.launch_url("::1", 8765, None) == "http://[::1]:8765/"


@pytest.mark.browser
def test_workstation_refuses_requests_without_the_token_and_foreign_origins(tmp_path):
    reason = harness.missing_requirements()
    if reason:
        pytest.skip(f"the browser test needs the web extra and chromium: {reason}")
    with harness.running_workstation(tmp_path / "workstation", demo=False) as server:
        base, token = server["base_url"], server["token"]
        assert len(token) >= 40 and server["url"] == f"{base}?token={token}"
        status, body = http_status(base + "index.html")
        assert status == 403 and "needs its access token" in body
        assert http_status(base + "index.html?token=" + token[::-1])[0] == 403
        assert http_status(base + "index.html", {"Authorization": "token " + token})[0] == 200
        assert http_status(server["url"])[0] == 200
        assert http_status(base + "index.html?token=" + token, {"Origin": "http://127.0.0.1:1"})[0] == 403
        assert http_status(base + "index.html?token=" + token, {"Host": "rebound.example:80"})[0] == 403
        websocket = base.replace("http://", "ws://") + "ws"
        with harness.chromium_page() as first, foreign_site() as foreign:
            refused = first.goto(base)                                 # a visit without the token
            assert refused.status == 403 and "needs its access token" in first.inner_text("body")
            browser = first.context.browser.new_context()
            page = browser.new_page()
            page.goto(server["url"], timeout=60000)                   # the printed address: sets the cookie
            page.wait_for_selector("#rr-load-demo", timeout=60000)    # rendered over the page's WebSocket
            assert page.evaluate(OPEN_WEBSOCKET, websocket) == "open"
            other = browser.new_page()                                # same browser, the cookie is there
            other.goto(foreign)
            assert other.evaluate(OPEN_WEBSOCKET, websocket) == "refused"
            browser.close()


# ------------------------------------------------------------------------------- browser part
def _shot(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"workstation_{name}.png"))


def _paint_stroke(page, at_mm) -> None:
    """A small painted disc around ``at_mm`` (LPS mm from the image centre) in the axial view."""
    box = harness.largest_view_box(page)
    scale = min(box["width"], box["height"]) / FIELD_OF_VIEW_MM
    cx = box["x"] + box["width"] / 2 + at_mm[0] * scale   # patient right (LPS -x) is on screen left
    cy = box["y"] + box["height"] / 2 + at_mm[1] * scale  # anterior (LPS -y) is up
    page.mouse.move(cx - 10, cy - 10)
    page.mouse.move(cx, cy, steps=5)  # hover first: the view learns where the brush is
    page.wait_for_timeout(300)
    page.mouse.down()
    for step in range(17):
        angle = 2 * math.pi * step / 16
        page.mouse.move(cx + 3 * scale * math.cos(angle), cy + 3 * scale * math.sin(angle), steps=2)
    page.mouse.move(cx, cy, steps=2)
    page.mouse.up()


def _is_empty(page, lesion: str) -> bool:
    """The lesion panel's 'empty' mark of a lesion (the server found no voxel in its segment)."""
    return page.evaluate(
        """(name) => { const row = Array.from(document.querySelectorAll('#rr-lesions [data-segment]'))
                         .find(r => r.querySelector('.rr-lesion-name input').value === name);
                       return !!row.querySelector('.rr-lesion-empty'); }""", lesion)


def _wait_empty(page, lesion: str, empty: bool, timeout_ms: int = 30000) -> None:
    page.wait_for_function(
        """([name, empty]) => { const row = Array.from(document.querySelectorAll('#rr-lesions [data-segment]'))
                                  .find(r => r.querySelector('.rr-lesion-name input').value === name);
                                return !!row && !!row.querySelector('.rr-lesion-empty') === empty; }""",
        arg=[lesion, empty], timeout=timeout_ms)


def _paint(page, lesion: str, at_mm, attempts: int = 3) -> None:
    """Choose Slicer's Paint effect and paint until the server has voxels in the lesion's segment."""
    paint = page.locator("button:has(i.mdi-brush)").first
    paint.click()
    page.wait_for_function("(b) => b.classList.contains('v-btn--active')", arg=paint.element_handle(), timeout=30000)
    for _ in range(attempts):  # a busy 2-core machine may drop a stroke's first events: try again
        _paint_stroke(page, at_mm)
        try:
            _wait_empty(page, lesion, False, timeout_ms=10000)
            return
        except Exception:  # playwright's TimeoutError: paint again
            continue
    assert not _is_empty(page, lesion), f"painting in the axial view left '{lesion}' empty"


def _table_rows(page) -> dict:
    """The lesion tables as shown (RECIST measures, then volume and density): lesion -> {header
    title: cell text}; a nested header's title is 'group / column' (e.g. 'Volume (ml) / Baseline')."""
    rows = {}
    for ident in ("#rr-recist-measures", "#rr-volume-measures"):
        for lesion, cells in _shown_table(page, ident + " table").items():
            rows.setdefault(lesion, {}).update(cells)
    return rows


def _shown_table(page, selector: str) -> dict:
    rows = page.evaluate(
        """(selector) => {
            const table = document.querySelector(selector);
            const grid = [];  // header cells by (row, column), spans filled in
            Array.from(table.querySelectorAll('thead tr')).forEach((tr, r) => {
                grid[r] = grid[r] || [];
                let c = 0;
                for (const th of tr.cells) {
                    while (grid[r][c] !== undefined) c++;
                    for (let dr = 0; dr < th.rowSpan; dr++) for (let dc = 0; dc < th.colSpan; dc++) {
                        grid[r + dr] = grid[r + dr] || [];
                        grid[r + dr][c + dc] = th;
                    }
                    c += th.colSpan;
                }
            });
            const heads = grid[grid.length - 1].map((_, c) => [...new Set(grid.map(row => row[c]))]
                .map(th => th.innerText.trim()).join(' / '));
            return Array.from(table.querySelectorAll('tbody tr')).map(tr => {
                const cells = Array.from(tr.querySelectorAll('td')).map(td => td.innerText.trim());
                return Object.fromEntries(heads.map((h, i) => [h, cells[i]]));
            });
        }""", selector)
    return {row["Lesion"]: row for row in rows}


def _recist_shown(page) -> dict:
    return page.evaluate(
        """() => Object.fromEntries(Array.from(document.querySelectorAll('#rr-recist tr[data-key]'))
                 .map(tr => [tr.dataset.key, tr.querySelectorAll('td')[1].innerText.trim()]))"""
    )


def _lesion_names(page) -> list:
    return page.evaluate("() => Array.from(document.querySelectorAll('#rr-lesions .rr-lesion-name input')).map(i => i.value)")


def _add_named_lesion(page, name: str, location: str) -> None:
    """Add a segment with the segment editor, then name it and set its location in the lesion panel."""
    count = len(_lesion_names(page))
    page.click(".v-navigation-drawer .v-card-actions button")  # the segment editor's 'Add segment'
    harness.wait_for_lesions(page, count + 1)
    row = page.locator("#rr-lesions [data-segment]").nth(count)
    row.locator(".rr-lesion-name input").fill(name)
    row.locator(".rr-lesion-name input").press("Enter")
    page.wait_for_function(  # the segment editor's own list shows the new name too
        f"() => Array.from(document.querySelectorAll('.v-navigation-drawer input')).some(i => i.value === '{name}')",
        timeout=30000)
    row.locator(".rr-lesion-location").click()
    page.locator(".v-overlay-container .v-list-item", has_text=location).first.click()


def _fill_clinical_form(page) -> None:
    for name, value in CLINICAL_VALUES.items():
        page.locator(f"#rr-nomogram [data-field='{name}'] input").fill(value)
    page.locator("#rr-nomogram [data-field='stage'] .v-select").click()
    page.locator(".v-overlay-container .v-list-item", has_text=CLINICAL_STAGE).first.click()
    page.click("#rr-score")
    page.wait_for_selector("#rr-gauge svg", timeout=30000)


@pytest.mark.browser
@pytest.mark.slow
def test_demo_paint_compute_in_browser(tmp_path, artifacts_dir):
    reason = harness.missing_requirements()
    if reason:
        pytest.skip(f"the browser test needs the web extra and chromium: {reason}")
    out_dir = tmp_path / "workstation"
    with harness.running_workstation(out_dir, demo=True) as server, harness.chromium_page() as page:
        page.goto(server["url"], timeout=60000)
        harness.wait_for_lesions(page, 4)  # the demo follow-up: liver_1, liver_2, node_1, liver_4
        harness.wait_for_views(page)
        page.wait_for_timeout(2000)        # the views are fitted to their size once the page is up
        _shot(page, artifacts_dir, "1_demo_loaded")

        _add_named_lesion(page, NEW_LESION, "liver")
        _paint(page, NEW_LESION, PAINT_AT_MM)
        _shot(page, artifacts_dir, "2a_painted")
        page.locator("button:has(i.mdi-undo)").first.click()
        _wait_empty(page, NEW_LESION, True)
        _shot(page, artifacts_dir, "2b_undone")
        page.locator("button:has(i.mdi-redo)").first.click()
        _wait_empty(page, NEW_LESION, False)

        page.click("#rr-compute")
        page.wait_for_selector("#rr-cancel", timeout=30000)  # busy: progress bar and Cancel shown
        page.wait_for_function("() => document.querySelector('#rr-progress-text').innerText.includes(':')",
                               timeout=60000)           # e.g. 'baseline: liver_2'
        _shot(page, artifacts_dir, "3_progress")
        page.wait_for_selector("#rr-lesion-table tbody tr", timeout=120000)
        page.wait_for_function("() => !document.querySelector('#rr-cancel')", timeout=120000)
        page.wait_for_timeout(1000)
        _shot(page, artifacts_dir, "4_computed")
        rows = _table_rows(page)
        recist = _recist_shown(page)
        has_waterfall = page.locator("#rr-waterfall svg").count() == 1
        page.evaluate("() => document.querySelector('#rr-waterfall').scrollIntoView({block: 'end'})")
        page.wait_for_timeout(300)
        _shot(page, artifacts_dir, "5_recist_waterfall")
        shown = _later_panels(page, artifacts_dir)

        page.click("#rr-tp-baseline")
        harness.wait_for_lesions(page, 4)
        page.wait_for_timeout(1500)
        baseline_names = _lesion_names(page)
        _shot(page, artifacts_dir, "7_baseline")

        page.click("#rr-load")  # a file that does not exist: a clear message, the case stays loaded
        page.locator(".v-dialog input").nth(0).fill(str(out_dir / "missing.nrrd"))
        page.locator(".v-dialog input").nth(2).fill(str(out_dir / "demo_case" / "followup.nrrd"))
        page.click("#rr-load-files")
        page.wait_for_selector("#rr-message:has-text('not found')", timeout=30000)
        load_error = page.inner_text("#rr-message")
        still_loaded = _lesion_names(page)
        _shot(page, artifacts_dir, "8_load_error")

        coarse = _coarser_segmentation(out_dir / "demo_case", tmp_path)  # accepted, resampled: the page says so
        if page.locator(".v-dialog input").count() == 0:
            page.click("#rr-load")
        for index, path in enumerate((out_dir / "demo_case" / "baseline.nrrd", coarse, out_dir / "demo_case" / "followup.nrrd",
                                      out_dir / "demo_case" / "followup.seg.nrrd")):
            page.locator(".v-dialog input").nth(index).fill(str(path))
        page.click("#rr-load-files")
        page.wait_for_selector("#rr-message:has-text('another grid')", timeout=60000)
        resampled_message = page.inner_text("#rr-message")
        _shot(page, artifacts_dir, "9_resampled_warning")

    _check_lesion_results(out_dir, rows, recist, has_waterfall)
    assert baseline_names == ["liver_1", "liver_2", "liver_3", "node_1"]
    assert "missing.nrrd" in load_error and still_loaded == baseline_names
    assert resampled_message.startswith("Images loaded. The baseline segmentation is on another grid than its image: "
                                        "resampled from ")
    _check_later_stages(out_dir, shown)


def _coarser_segmentation(case: Path, folder: Path) -> Path:
    """The case's baseline lesions as a label map on a grid of twice the voxel size."""
    import SimpleITK as sitk

    from ResponseSignatureLib import imageio

    image = imageio.read_image(case / "baseline.nrrd")
    labels = folder / "baseline_labels.nrrd"
    imageio.write_segments(imageio.read_segments(case / "baseline.seg.nrrd", image), image, labels)
    fine = sitk.ReadImage(str(labels))
    coarse = sitk.Resample(fine, [n // 2 for n in fine.GetSize()], sitk.Transform(), sitk.sitkNearestNeighbor,
                           fine.GetOrigin(), [2 * s for s in fine.GetSpacing()], fine.GetDirection(), 0, fine.GetPixelID())
    sitk.WriteImage(coarse, str(folder / "baseline_coarse.nrrd"))
    return folder / "baseline_coarse.nrrd"


def _later_panels(page, artifacts_dir: Path) -> dict:
    """Read the patient, signature and nomogram panels (each must be there: no stage is optional)."""
    shown = {name: page.locator(f"#rr-{name}").count() == 1 for name in ("patient", "signature", "nomogram")}
    if shown["patient"]:
        page.locator("#rr-patient").scroll_into_view_if_needed()
        shown["patient_text"] = page.inner_text("#rr-patient")
    if shown["signature"]:
        shown["signature_text"] = page.inner_text("#rr-signature")
    if shown["nomogram"]:
        _fill_clinical_form(page)
        page.locator("#rr-gauge").scroll_into_view_if_needed()
        shown["gauge_text"] = page.inner_text("#rr-gauge")
    _shot(page, artifacts_dir, "6_later_stages")
    return shown


def _check_lesion_results(out_dir: Path, rows: dict, recist: dict, has_waterfall: bool) -> None:
    """The browser's lesion table and RECIST panel against the table it wrote and a headless run."""
    from ResponseSignatureLib import pipeline
    from ResponseSignatureLib.tableio import read_provenance, read_table

    saved = sorted(out_dir.glob("*_lesions.csv"))
    assert saved, "the workstation did not write the lesion table into its work folder"
    written = read_table(saved[0]).set_index("lesion_id")
    painted = written.loc[NEW_LESION]
    assert painted["status"] == "new" and painted["location"] == "liver"
    assert painted["followup:volume_ml"] > 0.05, "the painted lesion is (nearly) empty: paint or redo failed"
    assert set(rows) == {"liver_1", "liver_2", "liver_3", "node_1", "liver_4", NEW_LESION}
    assert rows[NEW_LESION]["Status"] == "new" and rows[NEW_LESION]["Location"] == "liver"
    assert rows[NEW_LESION]["Volume (ml) / Follow-up"] == number(painted["followup:volume_ml"], 1)
    assert rows[NEW_LESION]["Change in RECIST diameter"] == "new lesion"
    assert rows["liver_3"]["Status"] == "disappeared" and rows["liver_3"]["Change in RECIST diameter"] == "-100.0 %"
    assert rows["node_1"]["Location"] == "lymph node" and rows["liver_1"]["Status"] == "seen at both"
    assert recist["recist_category"] == "PD (progressive disease)"
    assert "liver_4" in recist["recist_reason"] and NEW_LESION in recist["recist_reason"]
    assert has_waterfall

    # The demo files through pipeline.run_case_files, without the browser and MRML, with the
    # extraction settings the workstation used: same values for the lesions drawn in the demo.
    case = out_dir / "demo_case"
    settings = read_provenance(saved[0])["extraction_settings"]
    expected = pipeline.run_case_files(case / "baseline.nrrd", case / "baseline.seg.nrrd", case / "followup.nrrd",
                                       case / "followup.seg.nrrd", patient_id="demo", params=settings,
                                       locations=case / "locations.csv")
    table = expected.table.set_index("lesion_id")
    for lesion in ("liver_1", "liver_2", "liver_3", "node_1", "liver_4"):
        for title, column, digits in (("Longest diameter (mm)", "longest_diameter_mm", 1), ("Short axis (mm)", "short_axis_mm", 1),
                                      ("Volume (ml)", "volume_ml", 1), ("Mean density (HU)", "mean_hu", 0)):
            for head, timepoint in (("Baseline", "baseline"), ("Follow-up", "followup")):
                assert rows[lesion][f"{title} / {head}"] == number(table.loc[lesion, f"{timepoint}:{column}"], digits)
        relative = table.loc[lesion, "reldelta:volume_ml"]
        assert rows[lesion]["Volume change"] == (MISSING if math.isnan(relative) else change_percent(100 * relative))
        feature = "delta:original_firstorder_Entropy"
        assert _same(written.loc[lesion, feature], table.loc[lesion, feature])
    from ResponseSignatureLib import imageio

    followup = imageio.read_image(case / "followup.nrrd")  # the painted lesion was saved with the others
    saved_names = [segment.name for segment in imageio.read_segments(out_dir / "demo_followup.seg.nrrd", followup)]
    assert saved_names == ["liver_1", "liver_2", "node_1", "liver_4", NEW_LESION]
    assert recist["baseline_sum_mm"] == quantity(expected.recist["baseline_sum_mm"], "mm", 1)
    assert recist["followup_sum_mm"] == quantity(expected.recist["followup_sum_mm"], "mm", 1)
    assert recist["percent_change_from_baseline"] == change_percent(expected.recist["percent_change_from_baseline"])


def _check_later_stages(out_dir: Path, shown: dict) -> None:
    """Every later panel is shown, with the values the libraries give on the table the workstation wrote."""
    missing = [name for name in ("patient", "signature", "nomogram") if not shown[name]]
    assert not missing, f"result panel(s) not shown: {', '.join(missing)} (see workstation.log)"
    from LesionAggregateLib.aggregate import patient_table
    from NomogramScoreLib import nomogram
    from NomogramScoreLib.demo_pipeline import shipped_model
    from ResponseSignatureLib.models import inference, load_model
    from ResponseSignatureLib.tableio import read_table

    lesions = read_table(sorted(out_dir.glob("*_lesions.csv"))[0])
    patients = patient_table(lesions, method="volume_weighted")
    assert f"{int(patients.loc[0, 'n_lesions'])}" in shown["patient_text"]
    signature = load_model(shipped_model("ResponseSignatureLib", "demo_signature.json"))
    score = float(inference.apply_model(signature, patients).loc[0, "score"])
    assert f"Score {score:.3f}" in shown["signature_text"]
    from ResponseSignatureLib.formatting import with_ci

    values = {**CLINICAL_VALUES, "stage": CLINICAL_STAGE, "signature_score": score}
    result = nomogram.score_patient(nomogram.load_nomogram(shipped_model("NomogramScoreLib", "demo_nomogram.json")),
                                    values)
    assert f"{result['outcome']['label']}: {with_ci(result['risk'], result['ci_low'], result['ci_high'])}" in shown["gauge_text"]
    assert result["reading"]["text"] in shown["gauge_text"]


def _same(a, b) -> bool:
    """Equal to 1e-9 relative, or both missing (NaN)."""
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
