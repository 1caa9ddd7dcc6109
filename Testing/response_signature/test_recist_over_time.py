"""RECIST 1.1 over several follow-ups from lesion tables, on worked examples of the EORTC RECIST FAQ.

EORTC: sums 165 -> 63 -> 65 mm stay PR (PR is judged against baseline, PD against the nadir);
100 -> 60 -> 75 mm is PD at the second follow-up (+25 % and +15 mm over the nadir of 60 mm).
"""
from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.lesion_table import recist_over_time


def lesion_table(diameters: dict, followup: dict, new=()):
    """One patient's lesion table (only the columns RECIST reads): baseline vs one follow-up, liver targets."""
    rows = []
    for lesion, before in diameters.items():
        after = followup.get(lesion)
        rows.append({"patient_id": "P1", "lesion_id": lesion, "location": "liver",
                     "status": "disappeared" if after == 0 else "matched", "target": True,
                     "baseline:longest_diameter_mm": before, "baseline:short_axis_mm": before / 2,
                     "baseline:volume_ml": before / 10, "baseline:mean_hu": 80.0,
                     "followup:longest_diameter_mm": after, "followup:short_axis_mm": after / 2,
                     "followup:volume_ml": after / 10, "followup:mean_hu": 80.0})
    for lesion in new:
        rows.append({"patient_id": "P1", "lesion_id": lesion, "location": "liver", "status": "new", "target": False,
                     "baseline:longest_diameter_mm": 0.0, "baseline:short_axis_mm": 0.0, "baseline:volume_ml": 0.0,
                     "baseline:mean_hu": float("nan"), "followup:longest_diameter_mm": 12.0,
                     "followup:short_axis_mm": 8.0, "followup:volume_ml": 1.0, "followup:mean_hu": 70.0})
    return pd.DataFrame(rows)


def test_partial_response_is_kept_while_the_sum_stays_below_progression():
    baseline = {"liver_1": 100.0, "liver_2": 65.0}  # 165 mm
    tables = [lesion_table(baseline, {"liver_1": 40.0, "liver_2": 23.0}),   # 63 mm
              lesion_table(baseline, {"liver_1": 41.0, "liver_2": 24.0})]   # 65 mm
    first, second = recist_over_time(tables)
    assert (first["recist_category"], second["recist_category"]) == ("PR", "PR")
    assert second["nadir_mm"] == pytest.approx(63.0)
    assert second["percent_change_from_nadir"] == pytest.approx(100 * 2 / 63)


def test_progression_is_judged_against_the_nadir_not_the_baseline():
    baseline = {"liver_1": 60.0, "liver_2": 40.0}  # 100 mm
    tables = [lesion_table(baseline, {"liver_1": 36.0, "liver_2": 24.0}),   # 60 mm: -40 % PR
              lesion_table(baseline, {"liver_1": 45.0, "liver_2": 30.0})]   # 75 mm: -25 % vs baseline, +25 %/+15 mm vs nadir
    first, second = recist_over_time(tables)
    assert first["recist_category"] == "PR"
    assert second["recist_category"] == "PD"
    assert second["percent_change_from_baseline"] == pytest.approx(-25.0)
    assert second["percent_change_from_nadir"] == pytest.approx(25.0)


def test_new_lesion_at_a_later_follow_up_and_missing_target():
    baseline = {"liver_1": 50.0, "liver_2": 30.0}
    tables = [lesion_table(baseline, {"liver_1": 48.0, "liver_2": 30.0}),
              lesion_table(baseline, {"liver_1": 47.0, "liver_2": 29.0}, new=["liver_9"])]
    first, second = recist_over_time(tables)
    assert first["recist_category"] == "SD" and second["recist_category"] == "PD"
    assert second["new_lesions"] == "liver_9"
    incomplete = lesion_table(baseline, {"liver_1": 47.0, "liver_2": 29.0})
    incomplete = incomplete[incomplete["lesion_id"] != "liver_2"]
    assert recist_over_time([tables[0], incomplete])[1]["recist_category"] == "NE"
    other_baseline = lesion_table({"liver_1": 55.0, "liver_2": 30.0}, {"liver_1": 47.0, "liver_2": 29.0})
    with pytest.raises(InputError, match="liver_1"):
        recist_over_time([tables[0], other_baseline])


def test_recist_command(tmp_path):
    baseline = {"liver_1": 60.0, "liver_2": 40.0}
    paths = []
    for index, followup in enumerate(({"liver_1": 36.0, "liver_2": 24.0}, {"liver_1": 45.0, "liver_2": 30.0}), start=1):
        paths.append(tmp_path / f"fu{index}.csv")
        lesion_table(baseline, followup).to_csv(paths[-1], index=False)
    finished = subprocess.run([sys.executable, "-m", "ResponseSignatureLib", "recist", *map(str, paths),
                               "--out", str(tmp_path / "recist.csv")], capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert finished.returncode == 0, finished.stderr
    assert "follow-up 2 (fu2.csv): PD" in finished.stdout
    result = pd.read_csv(tmp_path / "recist.csv")
    assert list(result["recist_category"]) == ["PR", "PD"] and set(result["patient_id"]) == {"P1"}
