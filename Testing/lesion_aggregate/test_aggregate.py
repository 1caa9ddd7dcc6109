"""LesionAggregateLib.aggregate: every method against values computed by hand.

The hand table (``lesions()``), volumes in ml, x = delta:original_firstorder_Entropy, p = a lesion
class probability:

    patient lesion location status       base vol  fu vol  delta vol   x     p
    P1      L1     liver    matched       2         1      -1         10    0.9
    P1      L2     liver    matched       6         1      -5          2    0.2
    P1      L3     lung     matched       2         4       2         --    0.6
    P2      L1     lung     matched       3         3.5     0.5       -5    0.7     (one lesion)
    P3      L1     liver    disappeared   1         0      -1         --    0.875   (all disappeared)
    P3      L2     liver    disappeared   3         0      -3         --    0.375
    P4      L1     liver    matched       2         1      -1          4    0.1
    P4      L2     liver    new           0         5       5         --    0.3     (new: 0 ml at baseline)
"""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from LesionAggregateLib import aggregate as agg
from LesionAggregateLib.cli import main
from ResponseSignatureLib import tableio
from ResponseSignatureLib.errors import InputError

X = "delta:original_firstorder_Entropy"
DV = "delta:volume_ml"
NAN = math.nan


def lesions() -> pd.DataFrame:
    rows = [
        ("P1", "L1", "liver", "matched", 2.0, 1.0, -1.0, 10.0, 0.9),
        ("P1", "L2", "liver", "matched", 6.0, 1.0, -5.0, 2.0, 0.2),
        ("P1", "L3", "lung", "matched", 2.0, 4.0, 2.0, NAN, 0.6),
        ("P2", "L1", "lung", "matched", 3.0, 3.5, 0.5, -5.0, 0.7),
        ("P3", "L1", "liver", "disappeared", 1.0, 0.0, -1.0, NAN, 0.875),
        ("P3", "L2", "liver", "disappeared", 3.0, 0.0, -3.0, NAN, 0.375),
        ("P4", "L1", "liver", "matched", 2.0, 1.0, -1.0, 4.0, 0.1),
        ("P4", "L2", "liver", "new", 0.0, 5.0, 5.0, NAN, 0.3),
    ]
    table = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "location", "status", "baseline:volume_ml",
                                        "followup:volume_ml", DV, X, "p"])
    table.insert(4, "target", True)
    table.insert(5, "match_distance_mm", 1.5)
    return table


def column(table: pd.DataFrame, name: str) -> list:
    return table.set_index("patient_id")[name].reindex(["P1", "P2", "P3", "P4"]).tolist()


def assert_values(actual, expected):
    assert len(actual) == len(expected)
    for got, want in zip(actual, expected):
        if isinstance(want, float) and math.isnan(want):
            assert math.isnan(got), (actual, expected)
        else:
            assert got == pytest.approx(want, abs=1e-12), (actual, expected)


# ------------------------------------------------------------------------- the method functions

def test_volume_weighted_mean_leaves_out_missing_values_and_missing_weights():
    assert agg.volume_weighted_mean([10, 2, NAN], [2, 6, 2]) == (pytest.approx(4.0), "")
    # lesion 2 has no volume: out of numerator and denominator -> (2*1 + 2*3) / 4
    assert agg.volume_weighted_mean([1, 5, 3], [2, NAN, 2]) == (pytest.approx(2.0), "")


def test_zero_total_weight_falls_back_to_unweighted_mean_with_a_note():
    value, note = agg.volume_weighted_mean([-1.0, -3.0], [0.0, 0.0])
    assert value == -2.0 and "unweighted mean" in note
    value, note = agg.volume_weighted_mean([NAN, NAN], [1.0, 2.0])
    assert math.isnan(value) and note == "no lesion has a value"


def test_unweighted_methods_by_hand():
    values = [4.0, NAN, -2.0, 7.0, 1.0]
    assert agg.mean(values) == (pytest.approx(2.5), "")            # (4 - 2 + 7 + 1) / 4
    assert agg.median(values) == (pytest.approx(2.5), "")          # (1 + 4) / 2
    assert agg.minimum(values) == (-2.0, "")
    assert agg.maximum(values) == (7.0, "")
    assert agg.total(values) == (pytest.approx(10.0), "")
    assert agg.count(values) == (4.0, "")
    assert agg.count([NAN]) == (0.0, "")
    for function in (agg.mean, agg.median, agg.minimum, agg.maximum, agg.total):
        value, note = function([NAN, NAN])
        assert math.isnan(value) and note == "no lesion has a value"


def test_largest_lesion_value_ties_missing_and_zero_volumes():
    assert agg.largest_lesion_value([1.0, 5.0, 3.0], [2.0, NAN, 1.0]) == (1.0, "")   # lesion 2 has no volume
    assert agg.largest_lesion_value([7.0, 8.0], [2.0, 2.0]) == (7.0, "")             # tie: first lesion
    assert agg.largest_lesion_value([NAN, 8.0], [9.0, 2.0]) == (8.0, "")             # largest has no value
    value, note = agg.largest_lesion_value([1.0, 2.0], [0.0, 0.0])
    assert math.isnan(value) and "volume > 0" in note


def test_size_weighted_vote_by_hand_and_rejects_non_probabilities():
    assert agg.size_weighted_vote([0.9, 0.2, 0.6], [2, 6, 2]) == (pytest.approx(0.42), "")  # 4.2 / 10
    with pytest.raises(InputError, match="between 0 and 1"):
        agg.size_weighted_vote([0.5, 1.2], [1, 1])


# ------------------------------------------------------------------------------ patient_table

def test_patient_table_layout_and_default_columns():
    table = agg.patient_table(lesions())
    assert agg.default_columns(lesions()) == ["baseline:volume_ml", "followup:volume_ml", DV, X]
    assert list(table.columns) == ["patient_id", "n_lesions", "volume_weighted:baseline:volume_ml",
                                   "volume_weighted:followup:volume_ml", f"volume_weighted:{DV}",
                                   f"volume_weighted:{X}", "aggregation_notes"]
    assert column(table, "n_lesions") == [3, 1, 2, 2]
    assert table["n_lesions"].dtype.kind == "i"


def test_volume_weighted_by_baseline_volume():
    table = agg.patient_table(lesions(), columns=[DV, X])
    # P1: (2*-1 + 6*-5 + 2*2) / 10;  P3 (all disappeared): (1*-1 + 3*-3) / 4;  P4: new lesion weighs 0
    assert_values(column(table, f"volume_weighted:{DV}"), [-2.8, 0.5, -2.5, -1.0])
    # P1: L3 has no x -> (2*10 + 6*2) / 8;  P3: no lesion has x
    assert_values(column(table, f"volume_weighted:{X}"), [4.0, -5.0, NAN, 4.0])
    notes = column(table, "aggregation_notes")
    assert notes[0] == "" and notes[1] == ""
    assert notes[2] == f"volume_weighted:{X}: no lesion has a value"


def test_volume_weighted_by_followup_volume_with_zero_total_weight():
    table = agg.patient_table(lesions(), columns=[DV], weight_timepoint="followup")
    # P1: (1*-1 + 1*-5 + 4*2) / 6;  P3: all 0 ml at follow-up -> unweighted (-1 - 3) / 2;  P4: (1*-1 + 5*5) / 6
    assert_values(column(table, f"volume_weighted:{DV}"), [2 / 6, 0.5, -2.0, 4.0])
    assert "unweighted mean" in column(table, "aggregation_notes")[2]


def test_every_unweighted_method_per_patient():
    expected = {
        "mean": [-4 / 3, 0.5, -2.0, 2.0],
        "median": [-1.0, 0.5, -2.0, 2.0],
        "min": [-5.0, 0.5, -3.0, -1.0],
        "max": [2.0, 0.5, -1.0, 5.0],
        "sum": [-4.0, 0.5, -4.0, 4.0],
        "count": [3, 1, 2, 2],
    }
    for method, values in expected.items():
        table = agg.patient_table(lesions(), method=method, columns=[DV])
        assert_values(column(table, f"{method}:{DV}"), values)
    table = agg.patient_table(lesions(), method="count", columns=[X])
    assert column(table, f"count:{X}") == [2, 1, 0, 1]
    table = agg.patient_table(lesions(), method="mean", columns=[X])
    assert_values(column(table, f"mean:{X}"), [6.0, -5.0, NAN, 4.0])


def test_largest_lesion_by_baseline_and_followup_volume():
    table = agg.patient_table(lesions(), method="largest", columns=[DV, X])
    assert_values(column(table, f"largest:{DV}"), [-5.0, 0.5, -3.0, -1.0])   # P1 L2, P3 L2, P4 L1
    assert_values(column(table, f"largest:{X}"), [2.0, -5.0, NAN, 4.0])
    table = agg.patient_table(lesions(), method="largest", columns=[DV], weight_timepoint="followup")
    assert_values(column(table, f"largest:{DV}"), [2.0, 0.5, NAN, 5.0])      # P1 L3 (4 ml), P4 L2 (5 ml)
    assert "volume > 0" in column(table, "aggregation_notes")[2]


def test_size_weighted_vote_and_class():
    table = agg.patient_table(lesions(), method="vote", columns=["p"])
    # P1: (2*.9 + 6*.2 + 2*.6)/10 = .42;  P3: (1*.875 + 3*.375)/4 = .5 exactly -> class 1;  P4: (2*.1 + 0*.3)/2
    assert_values(column(table, "vote:p"), [0.42, 0.7, 0.5, 0.1])
    assert column(table, "vote_class:p") == [0, 1, 1, 0]
    table = agg.patient_table(lesions(), method="vote", columns=["p"], weight_timepoint="followup")
    assert column(table, "vote:p")[2] == pytest.approx((0.875 + 0.375) / 2)   # zero weight: unweighted


def test_location_filter_keeps_every_patient():
    table = agg.patient_table(lesions(), columns=[DV], location="Liver")
    assert column(table, "n_lesions") == [2, 0, 2, 2]
    # P1 liver only: (2*-1 + 6*-5) / 8; P2 has no liver lesion
    assert_values(column(table, f"volume_weighted:{DV}"), [-4.0, NAN, -2.5, -1.0])
    assert column(table, "aggregation_notes")[1] == f"volume_weighted:{DV}: no lesion has a value"
    counted = agg.patient_table(lesions(), method="count", columns=[DV], location="liver")
    assert column(counted, f"count:{DV}") == [2, 0, 2, 2]


def test_per_column_methods():
    table = agg.patient_table(lesions(), method="mean", columns=[DV], methods={"p": "vote", X: "max"})
    assert list(table.columns) == ["patient_id", "n_lesions", f"mean:{DV}", "vote:p", "vote_class:p",
                                   f"max:{X}", "aggregation_notes"]
    assert_values(column(table, f"max:{X}"), [10.0, -5.0, NAN, 4.0])


def test_clear_errors():
    with pytest.raises(InputError, match="unknown aggregation method 'average'"):
        agg.patient_table(lesions(), method="average")
    with pytest.raises(InputError, match="'delta:nope'"):
        agg.patient_table(lesions(), columns=["delta:nope"])
    with pytest.raises(InputError, match="'location' is not numeric"):
        agg.patient_table(lesions(), columns=["location"])
    with pytest.raises(InputError, match="'week8:volume_ml'"):
        agg.patient_table(lesions(), columns=[DV], weight_timepoint="week8")
    with pytest.raises(InputError, match="column 'delta:volume_ml'.*between 0 and 1"):
        agg.patient_table(lesions(), method="vote", columns=[DV])
    # unweighted methods need no volume column
    no_volume = lesions().drop(columns=["baseline:volume_ml"])
    assert column(agg.patient_table(no_volume, method="mean", columns=[DV]), f"mean:{DV}")[1] == 0.5


def test_provenance_and_csv_round_trip(tmp_path):
    table = lesions()
    table["patient_id"] = table["patient_id"].str.replace("P", "00")   # ids like "001" must stay text
    first, second = tmp_path / "a.csv", tmp_path / "b.csv"
    table[table.patient_id <= "002"].to_csv(first, index=False)
    table[table.patient_id > "002"].to_csv(second, index=False)
    combined = agg.read_lesion_tables([first, second])
    patients = agg.patient_table(combined, columns=[DV], location="liver")
    assert patients["patient_id"].tolist() == ["001", "002", "003", "004"]
    provenance = patients.attrs["provenance"]
    assert provenance["methods"] == {DV: "volume_weighted"}
    assert provenance["location"] == "liver" and provenance["weight_column"] == "baseline:volume_ml"
    assert [entry["file"] for entry in provenance["source"]["lesion_tables"]] == [str(first), str(second)]
    out = tmp_path / "patients.csv"
    tableio.write_table(patients, out)
    stored = json.loads((tmp_path / "patients.csv.provenance.json").read_text(encoding="utf-8"))
    assert stored["methods"] == {DV: "volume_weighted"} and "versions" in stored
    again = tableio.read_table(out)
    assert again["patient_id"].tolist() == ["001", "002", "003", "004"]
    assert_values(again[f"volume_weighted:{DV}"].tolist(), [-4.0, NAN, -2.5, -1.0])


def test_same_lesion_in_two_files_is_an_error(tmp_path):
    for name in ("a.csv", "b.csv"):
        lesions().to_csv(tmp_path / name, index=False)
    with pytest.raises(InputError, match="P1/L1 appears more than once"):
        agg.read_lesion_tables([tmp_path / "a.csv", tmp_path / "b.csv"])


def test_cli_aggregate(tmp_path, capsys):
    source = tmp_path / "lesions.csv"
    lesions().to_csv(source, index=False)
    out = tmp_path / "patients.csv"
    code = main(["aggregate", str(source), "--method", "median", "--columns", DV,
                 "--column-method", "p=vote", "--location", "liver", "--out", str(out)])
    assert code == 0
    table = pd.read_csv(out)
    assert_values(table[f"median:{DV}"].tolist(), [-3.0, NAN, -2.0, 2.0])   # P1 liver: median(-1, -5)
    assert_values(table["vote:p"].tolist(), [(1.8 + 1.2) / 8, NAN, 0.5, 0.1])
    assert (tmp_path / "patients.csv.provenance.json").is_file()
    assert main(["aggregate", str(source), "--columns", "nope:x", "--out", str(out)]) == 2
    assert "'nope:x'" in capsys.readouterr().err


def test_cli_aggregate_adds_the_clinical_table(tmp_path, capsys):
    source = tmp_path / "lesions.csv"
    lesions().to_csv(source, index=False)
    ids = sorted(lesions()["patient_id"].astype(str).unique())
    clinical = pd.DataFrame({"patient_id": ids[:-1], "response": [1, 0, 1][:len(ids) - 1],
                             "albumin": [38.5, 41.0, 35.2][:len(ids) - 1]})
    clinical.to_csv(tmp_path / "clinical.csv", index=False)
    out = tmp_path / "patients.csv"
    assert main(["aggregate", str(source), "--clinical-table", str(tmp_path / "clinical.csv"), "--out", str(out)]) == 0
    table = pd.read_csv(out, dtype={"patient_id": str}).set_index("patient_id")
    for _, row in clinical.iterrows():
        assert table.loc[row["patient_id"], "albumin"] == row["albumin"]
        assert table.loc[row["patient_id"], "response"] == row["response"]
    assert math.isnan(table.loc[ids[-1], "albumin"])                      # no clinical row: empty
    assert f"no row in {tmp_path / 'clinical.csv'} for patient(s) {ids[-1]}" in capsys.readouterr().err
    clinical.assign(n_lesions=1).to_csv(tmp_path / "clash.csv", index=False)
    assert main(["aggregate", str(source), "--clinical-table", str(tmp_path / "clash.csv"), "--out", str(out)]) == 2
    assert "n_lesions" in capsys.readouterr().err


# --------------------------------------------------------------------------------- RECIST carry-over

def recist_lesions() -> pd.DataFrame:
    """Two liver targets 20 + 30 mm at baseline shrinking to 10 + 15 mm (-50 %: PR), one lung non-target."""
    rows = [
        ("R1", "T1", "liver", "matched", True, 20.0, 15.0, 4.0, 60.0, 10.0, 8.0, 0.5, 40.0),
        ("R1", "T2", "liver", "matched", True, 30.0, 20.0, 12.0, 70.0, 15.0, 10.0, 1.5, 50.0),
        ("R1", "N1", "lung", "matched", False, 8.0, 6.0, 0.2, -20.0, 8.0, 6.0, 0.2, -20.0),
    ]
    measures = ["longest_diameter_mm", "short_axis_mm", "volume_ml", "mean_hu"]
    columns = ["patient_id", "lesion_id", "location", "status", "target"]
    columns += [f"baseline:{m}" for m in measures] + [f"followup:{m}" for m in measures]
    table = pd.DataFrame(rows, columns=columns)
    for m in measures:
        table[f"delta:{m}"] = table[f"followup:{m}"] - table[f"baseline:{m}"]
        table[f"reldelta:{m}"] = table[f"delta:{m}"] / table[f"baseline:{m}"].abs()
    table["error"] = ""
    return table


RECIST_KEYS = ["recist_targets", "baseline_sum_mm", "followup_sum_mm", "nadir_mm", "percent_change_from_baseline",
               "percent_change_from_nadir", "recist_category", "recist_reason", "volumetric_change_percent",
               "volumetric_category", "choi_category"]


def test_recist_carried_over_from_all_lesions():
    from ResponseSignatureLib.lesion_table import recist_from_lesion_table

    table = recist_lesions()
    patients = agg.patient_table(table, columns=["delta:volume_ml"], location="lung")
    assert patients.loc[0, "n_lesions"] == 1
    row = patients.iloc[0]
    assert row["baseline_sum_mm"] == pytest.approx(50.0)
    assert row["followup_sum_mm"] == pytest.approx(25.0)
    assert row["percent_change_from_baseline"] == pytest.approx(-50.0)
    assert row["recist_category"] == "PR"
    expected = recist_from_lesion_table(table)
    for key in RECIST_KEYS:
        assert key in patients.columns
        if isinstance(expected[key], float) and math.isnan(expected[key]):
            assert math.isnan(row[key])
        else:
            assert row[key] == expected[key]
    assert list(patients.columns)[-1] == "aggregation_notes"
    assert patients.attrs["provenance"]["recist_carried_over"] is True
    without = agg.patient_table(table, columns=["delta:volume_ml"], recist=False)
    assert "recist_category" not in without.columns


@pytest.mark.parametrize("method", list(agg.METHODS))
@pytest.mark.parametrize("location", [None, "liver"])
def test_table_equals_each_patient_aggregated_alone_bit_for_bit(method, location):
    """patient_table takes every patient's values from one float array of the whole table; each
    value must be exactly (bit for bit) what the method's own function gives for that patient's
    lesion column alone. Shuffled rows, 1-12 lesions per patient (numpy sums 8 or more values
    pairwise), missing values and weights."""
    import numpy as np

    rng = np.random.default_rng(19)
    counts = {f"Q{k:02d}": int(n) for k, n in enumerate(rng.integers(1, 13, size=14))}
    rows = [(patient, f"L{j}", rng.choice(["liver", "lung"])) for patient, n in counts.items() for j in range(n)]
    table = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "location"])
    table["baseline:volume_ml"] = rng.uniform(0.0, 50.0, len(table)) * (rng.random(len(table)) > 0.1)
    table.loc[rng.random(len(table)) < 0.05, "baseline:volume_ml"] = NAN
    names = [f"delta:f{k}" for k in range(6)]
    for name in names:
        table[name] = rng.uniform(0.0, 1.0, len(table)) if method == "vote" else rng.normal(0.0, 1e3, len(table))
        table.loc[rng.random(len(table)) < 0.2, name] = NAN
    table = table.sample(frac=1.0, random_state=3).reset_index(drop=True)

    patients = agg.patient_table(table, method=method, columns=names, location=location, recist=False)

    assert patients["patient_id"].tolist() == sorted(counts)
    for _, row in patients.iterrows():
        alone = table[table["patient_id"] == row["patient_id"]].sort_values("lesion_id", kind="stable")
        if location is not None:
            alone = alone[alone["location"] == location]
        assert row["n_lesions"] == len(alone)
        for name in names:
            want, _ = agg.METHODS[method](alone[name].to_numpy(dtype=float),
                                         alone["baseline:volume_ml"].to_numpy(dtype=float))
            got = row[f"{method}:{name}"]
            assert (math.isnan(got) and math.isnan(want)) or got == want, (row["patient_id"], name, got, want)


def formula_row(alone: pd.DataFrame, plan: dict, weights: str) -> tuple[list, str]:
    """One patient's aggregates and aggregation_notes from the per-column formulas, column by column."""
    values, notes = [], []
    for name, method in plan.items():
        value, note = agg.METHODS[method](alone[name].to_numpy(dtype=float), alone[weights].to_numpy(dtype=float))
        values.append(value)
        if note:
            notes.append(f"{method}:{name}: {note}")
    return values, "; ".join(notes)


def awkward_table(rng, probabilities: bool) -> pd.DataFrame:
    """24 patients with 1-12 lesions (numpy sums 8 or more values pairwise), values over 30 decades
    with zeros of both signs, repeats, missing values, all-missing and integer columns; missing, zero, equal
    and negative volumes, two patients whose volumes are all 0 and one whose volumes are all missing."""
    counts = {f"Q{k:02d}": int(n) for k, n in enumerate(rng.integers(1, 13, size=24))}
    counts.update(Q00=1, Q01=8, Q02=12, Q03=10, Q05=9)
    rows = [(patient, f"L{j:02d}", rng.choice(["liver", "lung"])) for patient, n in counts.items() for j in range(n)]
    table = pd.DataFrame(rows, columns=["patient_id", "lesion_id", "location"])
    size = len(table)
    volume = rng.uniform(0.0, 50.0, size)
    ties = rng.random(size) < 0.3
    volume[ties] = rng.choice([1.0, 2.0, 8.0], size)[ties]
    volume[rng.random(size) < 0.1] = 0.0
    volume[rng.random(size) < 0.05] = -1.0                  # nonsense, but the formulas define it
    volume[rng.random(size) < 0.1] = NAN
    patient = table["patient_id"].to_numpy()
    volume[np.isin(patient, ["Q03", "Q04"])] = 0.0
    volume[patient == "Q05"] = NAN
    table["baseline:volume_ml"] = volume
    columns = {}
    for k in range(40):
        if probabilities:
            x = rng.choice([0.0, -0.0, 1.0, 0.5, 0.25], size) if k % 4 == 0 else rng.uniform(0.0, 1.0, size)
        else:
            x = rng.normal(0.0, 1.0, size) * 10.0 ** rng.integers(-15, 16, size)
            if k % 3 == 0:
                x = np.abs(x)                               # minima at zero
            if k % 3 == 1:
                x = -np.abs(x)                              # maxima at zero
            repeats = rng.random(size) < 0.3
            x[repeats] = rng.choice([0.0, -0.0, 3.0, -3.0], size)[repeats]
        x[rng.random(size) < rng.choice([0.0, 0.05, 0.3, 0.7])] = NAN
        if k == 7:
            x[:] = NAN                                      # a column no lesion has
        if k == 8:
            x[np.isin(patient, ["Q01", "Q02"])] = NAN       # no value in the patients with 8 and 12 lesions
        columns[f"delta:f{k:02d}"] = x
    columns["delta:n"] = rng.integers(0, 2, size) if probabilities else rng.integers(-3, 4, size)   # int64
    table = pd.concat([table, pd.DataFrame(columns)], axis=1)
    return table.sample(frac=1.0, random_state=int(rng.integers(1000))).reset_index(drop=True)


def assert_same_bits(got: list, want: list, where):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert np.array_equal(got, want, equal_nan=True), (where, got, want)
    assert np.array_equal(np.signbit(got), np.signbit(want)), (where, got, want)   # -0.0 stays -0.0


@pytest.mark.parametrize("method", [*agg.METHODS, "mixed"])
@pytest.mark.parametrize("location", [None, "liver"])
def test_fast_table_equals_the_formulas_bit_for_bit(method, location):
    """patient_table aggregates many columns at once; every value, sign of zero, empty value and
    note must be exactly those of the method's formula applied to each column of each patient alone."""
    rng = np.random.default_rng(2026 + len(method) + (location is None))
    table = awkward_table(rng, probabilities=method == "vote")
    names = [c for c in table.columns if c.startswith("delta:")]
    if method == "mixed":       # every method beside the others, vote on the columns that are probabilities
        plan = {name: rng.choice([m for m in agg.METHODS if m != "vote"]) for name in names}
        table["p"] = rng.uniform(0.0, 1.0, len(table))
        plan["p"] = "vote"
        patients = agg.patient_table(table, method="mean", columns=[], methods=plan, location=location, recist=False)
    else:
        plan = dict.fromkeys(names, method)
        patients = agg.patient_table(table, method=method, columns=names, location=location, recist=False)

    expected_columns = ["patient_id", "n_lesions"]
    for name, name_method in plan.items():
        expected_columns += [f"{name_method}:{name}"] + ([f"vote_class:{name}"] if name_method == "vote" else [])
    assert list(patients.columns) == expected_columns + ["aggregation_notes"]
    assert patients["patient_id"].tolist() == sorted(table["patient_id"].unique())
    seen_notes = set()
    for _, row in patients.iterrows():
        alone = table[table["patient_id"] == row["patient_id"]].sort_values("lesion_id", kind="stable")
        if location is not None:
            alone = alone[alone["location"] == location]
        want, want_notes = formula_row(alone, plan, "baseline:volume_ml")
        got = [row[f"{name_method}:{name}"] for name, name_method in plan.items()]
        assert_same_bits(got, want, row["patient_id"])
        assert row["aggregation_notes"] == want_notes, row["patient_id"]
        seen_notes.update(note.split(": ", 1)[1] for note in want_notes.split("; ") if note)
        for name, name_method in plan.items():
            if name_method == "vote":
                vote, vote_class = row[f"vote:{name}"], row[f"vote_class:{name}"]
                assert math.isnan(vote_class) if math.isnan(vote) else vote_class == int(vote >= 0.5)
    # the awkward cases were there: empty values and, for the weighted methods, the zero-weight rules
    if method in ("volume_weighted", "vote", "mixed"):
        assert "total lesion volume is 0: unweighted mean used" in seen_notes
    if method == "largest":
        assert "no lesion with a value has a volume > 0" in seen_notes
    if method != "count":
        assert "no lesion has a value" in seen_notes


def test_vote_refusal_names_the_first_column_in_plan_order():
    """Two refused columns with values in different lesions: the error names the first in plan order,
    as the per-column formulas would, whichever set of columns is aggregated first."""
    table = lesions()
    table["a"] = [0.5, 1.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]      # refused, a value in every lesion
    table["b"] = [NAN, 2.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]      # refused, no value in P1's first lesion
    for first, second in (("a", "b"), ("b", "a")):
        with pytest.raises(InputError, match=f"column '{first}': .*between 0 and 1"):
            agg.patient_table(table, method="vote", columns=[first, second])
