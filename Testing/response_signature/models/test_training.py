"""Training and numpy inference of response signatures.

* numpy inference from the saved JSON equals scikit-learn / lifelines predictions within 1e-9
  for logistic, elastic-net logistic, random forest and Cox models;
* the ICC(2,1) of the reproducibility filter reproduces Shrout & Fleiss (1979) Table 2;
* on a synthetic cohort with planted signal (3 informative reproducible features, 1 informative
  non-reproducible feature, a near-duplicate, 30 noise features) the Dercle pipeline selects
  planted reproducible features only and reaches AUC > 0.8 on held-out patients; on a null cohort
  the nested cross-validated AUC (whole pipeline refitted per outer fold) stays near 0.5;
* perturbation repeats (erode/dilate/noise) with the project's FeatureExtractor.
Small cohorts, few trees, n_jobs=1: the whole file runs in well under a minute.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ResponseSignatureLib.errors import InputError
from ResponseSignatureLib.models import load_model, predict_scores, save_model
from ResponseSignatureLib.models import training
from ResponseSignatureLib.models.demo import synthetic_cohort, synthetic_lesion_table
from ResponseSignatureLib.models.evaluation import auc_value
from ResponseSignatureLib.models.inference import design_matrix

FAST = {"n_trees": 40, "search_trees": 15, "max_candidates": 6}


def wrap(kind: str, model: dict, inputs, preprocessing=None, level="patient", **extra) -> dict:
    doc = {"name": f"test {kind}", "version": "1", "kind": kind, "level": level, "inputs": list(inputs),
           "preprocessing": preprocessing or {}, "model": model,
           "threshold": {"value": 0.5, "method": "fixed", "direction": ">="}, "model_card": {}}
    doc.update(extra)
    return doc


def saved(doc: dict, tmp_path) -> dict:
    """Through the file: save (hash), load (verify) — the numpy side uses only the JSON."""
    save_model(doc, tmp_path / "model.json")
    return load_model(tmp_path / "model.json")


def random_table(n=120, p=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, p)) * [1, 10, 0.1, 3, 1][:p] + [0, 50, 0, -2, 5][:p]
    y = (rng.random(n) < 1 / (1 + np.exp(-(x[:, 0] - 0.1 * (x[:, 1] - 50) + 5 * x[:, 2])))).astype(int)
    table = pd.DataFrame(x, columns=[f"f{i}" for i in range(p)])
    table.insert(0, "patient_id", [f"p{i}" for i in range(n)])
    return table, y


# --------------------------------------------------------------------------------------------
# numpy == scikit-learn / lifelines
# --------------------------------------------------------------------------------------------
def test_logistic_matches_sklearn(tmp_path):
    from sklearn.linear_model import LogisticRegression

    table, y = random_table()
    features = ["f0", "f1", "f2"]
    estimator = LogisticRegression(C=10.0, max_iter=1000).fit(table[features].to_numpy(), y)
    model = saved(wrap("logistic", training.export_logistic(estimator, features), features), tmp_path)
    new, _ = random_table(50, seed=1)
    np.testing.assert_allclose(predict_scores(model, new), estimator.predict_proba(new[features].to_numpy())[:, 1],
                               rtol=0, atol=1e-9)


def test_elastic_net_with_preprocessing_matches_sklearn(tmp_path):
    """Log + z-score + location dummies from the model file, then the elastic-net fit."""
    table, y = random_table(150, seed=2)
    table["f1"] = np.abs(table["f1"])  # a positive feature like most radiomic ones
    table["location"] = np.random.default_rng(3).choice(["liver", "lung", "node", "other"], size=len(table))
    features = ["f0", "f1", "f2", "f3"]
    prep = training._log_zscore(table, features)
    # independent check of the stored preprocessing: offset 1 - min, mean/sd (ddof=1) of the log
    logged = np.log(table["f1"] - table["f1"].min() + 1)
    assert prep["standardize"]["f1"] == pytest.approx([logged.mean(), logged.std(ddof=1)], rel=1e-12)
    prep["one_hot"] = {"location": {"levels": ["liver", "lung", "node"], "reference": "other"}}
    names = features + ["location=liver", "location=lung", "location=node"]
    probe = wrap("logistic", {"features": names}, features + ["location"], prep)
    x = design_matrix(probe, table)
    estimator, cv, _ = training.fit_elasticnet(x, y, np.arange(len(y)).astype(str), seed=0, folds=3,
                                               cs=(0.1, 1.0), l1_ratios=(0.5,))
    assert cv["l1_ratio"] == 0.5
    model = saved(wrap("logistic", training.export_logistic(estimator, names), features + ["location"], prep), tmp_path)
    np.testing.assert_allclose(predict_scores(model, table), estimator.predict_proba(x)[:, 1], rtol=0, atol=1e-9)


def test_random_forest_matches_sklearn(tmp_path):
    table, y = random_table(150, seed=4)
    features = ["f0", "f1", "f2", "f3"]
    forest = training.make_forest(25, seed=0).fit(table[features].to_numpy(), y)
    model = saved(wrap("random_forest", training.export_random_forest(forest, features), features), tmp_path)
    new, _ = random_table(80, seed=5)
    for frame in (table, new):  # training rows sit exactly on split midpoints' neighbours
        expected = forest.predict_proba(frame[features].to_numpy())[:, 1]
        np.testing.assert_allclose(predict_scores(model, frame), expected, rtol=0, atol=1e-9)


def test_cox_matches_lifelines(tmp_path):
    rng = np.random.default_rng(6)
    n = 150
    table = pd.DataFrame({"score": rng.normal(size=n), "cea": rng.lognormal(1, 0.5, size=n),
                          "stage": rng.integers(1, 4, size=n).astype(float)})
    hazard = np.exp(0.8 * table["score"] + 0.1 * table["cea"] + 0.3 * table["stage"])
    table["time"] = rng.exponential(1 / hazard)
    table["event"] = (rng.random(n) < 0.8).astype(int)
    features = ["score", "cea", "stage"]
    fitter = training.fit_cox(table, "time", "event", features)
    model = saved(wrap("cox", training.export_cox(fitter, features), features), tmp_path)
    np.testing.assert_allclose(predict_scores(model, table), fitter.predict_partial_hazard(table[features]).to_numpy(),
                               rtol=1e-9, atol=0)
    lp_model = dict(model, model=dict(model["model"], score="linear_predictor"))
    np.testing.assert_allclose(predict_scores(lp_model, table),
                               fitter.predict_log_partial_hazard(table[features]).to_numpy(), rtol=0, atol=1e-9)
    # S(t | x) = S0(t) ** partial hazard, S0 stored in the file
    times = np.asarray(model["model"]["baseline_survival"]["times"])
    s0 = np.asarray(model["model"]["baseline_survival"]["survival"])
    t = times[len(times) // 2]
    expected = fitter.predict_survival_function(table[features].iloc[:3], times=[t]).to_numpy()[0]
    np.testing.assert_allclose(s0[len(times) // 2] ** predict_scores(model, table.iloc[:3]), expected, rtol=1e-9)


# --------------------------------------------------------------------------------------------
# filters
# --------------------------------------------------------------------------------------------
def test_icc_matches_shrout_fleiss_table():
    """Shrout & Fleiss, Psychol Bull 1979;86:420, Table 2 (6 targets x 4 judges): ICC(2,1) = .29."""
    ratings = np.array([[9, 2, 5, 8], [6, 1, 3, 2], [8, 4, 6, 8], [7, 1, 2, 6], [10, 5, 6, 9], [6, 2, 4, 7]])
    assert training.icc_a1(ratings) == pytest.approx(0.29, abs=0.005)
    assert training.icc_a1(np.column_stack([ratings[:, 0]] * 3)) == pytest.approx(1.0)


def test_redundancy_keeps_best_ranked_of_correlated_group():
    rng = np.random.default_rng(0)
    a = rng.normal(size=100)
    table = pd.DataFrame({"a": a, "a_copy": a + 0.01 * rng.normal(size=100), "b": rng.normal(size=100)})
    assert training.redundancy_filter(table, ["a_copy", "b", "a"]) == ["a_copy", "b"]
    assert training.redundancy_filter(table, ["a", "a_copy", "b"]) == ["a", "b"]


def test_training_input_errors():
    table, y = random_table(30)
    table["outcome"] = y
    with pytest.raises(InputError, match="method"):
        training.train_signature(table, "outcome", method="svm")
    with pytest.raises(InputError, match="0/1"):
        training.train_signature(table.assign(outcome=2), "outcome", method="rf")
    lesions = table.assign(lesion_id="l1")
    with pytest.raises(InputError, match="aggregate"):
        training.train_signature(lesions, "outcome", method="dercle")


# --------------------------------------------------------------------------------------------
# the acceptance cohorts
# --------------------------------------------------------------------------------------------
def test_dercle_finds_planted_reproducible_signal(tmp_path):
    train = synthetic_cohort(n_patients=200, n_noise_features=30, seed=11)
    held_out = synthetic_cohort(n_patients=200, n_noise_features=30, seed=12)  # other patients, same model
    model = training.train_signature(train.table, "outcome", method="dercle", icc_table=train.repeats,
                                     feature_columns=train.features, seed=0, outer_folds=0, **FAST)
    allowed = set(train.planted) | set(train.redundant)
    selected = set(model["inputs"])
    assert selected <= allowed, f"selected {selected}: noise or non-reproducible features"
    assert len(selected) >= 2
    assert train.unreliable[0] not in selected  # informative but not reproducible: filtered out
    icc_report = model["model_card"]["selection"]["reproducibility"]
    assert icc_report["applied"] and icc_report["n_dropped"] >= len(train.unreliable)
    model = saved(model, tmp_path)
    scores = predict_scores(model, held_out.table)
    assert auc_value(held_out.table["outcome"], scores) > 0.8


def test_null_cohort_cross_validated_auc_near_half():
    cohort = synthetic_cohort(n_patients=150, n_noise_features=30, seed=21, planted={}, unreliable_coefficient=0)
    model = training.train_signature(cohort.table, "outcome", method="dercle", icc_table=cohort.repeats,
                                     feature_columns=cohort.features, seed=0, outer_folds=3, **FAST)
    cv = model["model_card"]["performance"]["cv_auc"]
    assert abs(cv["auc"] - 0.5) < 0.15, cv
    assert cv["auc_ci_low"] < 0.5 + 0.05  # the CI does not claim signal
    held_out = synthetic_cohort(n_patients=150, n_noise_features=30, seed=22, planted={}, unreliable_coefficient=0)
    assert abs(auc_value(held_out.table["outcome"], predict_scores(model, held_out.table)) - 0.5) < 0.15


def test_elasticnet_lesion_level_model(tmp_path):
    """Lesion table: location covariate, patient-grouped CV, mixed-model refit, mean-of-lesions."""
    cohort = synthetic_cohort(n_patients=60, n_noise_features=4, seed=31, n_unreliable=0, redundant_copy=False)
    lesions = synthetic_lesion_table(cohort, seed=31)
    held_out = synthetic_lesion_table(synthetic_cohort(n_patients=60, n_noise_features=4, seed=32, n_unreliable=0,
                                                       redundant_copy=False), seed=32)
    model = training.train_signature(lesions, "outcome", method="elasticnet", seed=0, outer_folds=3,
                                     feature_columns=cohort.features, threshold_method="sens_at_spec50")
    assert model["level"] == "lesion" and model["patient_score"] == "mean_of_lesions"
    assert "BinomialBayesMixedGLM" in model["model_card"]["selection"]["mixed_model"]
    assert model["model_card"]["performance"]["cv_auc"]["auc"] > 0.75  # nested, grouped by patient
    model = saved(model, tmp_path)
    from ResponseSignatureLib.models import apply_model, patient_scores

    patients = patient_scores(model, apply_model(model, held_out))
    truth = held_out.groupby("patient_id")["outcome"].first().loc[patients["patient_id"]]
    assert auc_value(truth, patients["score"]) > 0.75


# --------------------------------------------------------------------------------------------
# perturbation repeats with the project's extractor
# --------------------------------------------------------------------------------------------
def test_perturbation_repeats_with_feature_extractor():
    import SimpleITK as sitk

    from ResponseSignatureLib.extraction import FeatureExtractor
    from ResponseSignatureLib.models.perturbation import cohort_repeats, perturbation_repeats

    size = 32
    k, j, i = np.mgrid[:size, :size, :size]
    inside = (k - 16) ** 2 + (j - 16) ** 2 + (i - 16) ** 2 <= 7 ** 2
    rng = np.random.default_rng(0)
    array = np.where(inside, 60.0, -50.0) + rng.normal(0, 15, inside.shape)
    image = sitk.GetImageFromArray(array.astype(np.float32))
    mask = sitk.GetImageFromArray(inside.astype(np.uint8))
    mask.CopyInformation(image)
    params = {"imageType": {"Original": {}}, "featureClass": {"shape": ["VoxelVolume"], "firstorder": ["Mean"]},
              "setting": {"binWidth": 25, "label": 1}}
    repeats = perturbation_repeats(image, mask, FeatureExtractor(params), n_noise=2, noise_sd_hu=10, seed=0)
    assert list(repeats["repeat"]) == ["original", "eroded", "dilated", "noise_1", "noise_2"]
    volume = repeats.set_index("repeat")["original_shape_VoxelVolume"]
    assert volume["eroded"] < volume["original"] < volume["dilated"]
    assert volume["noise_1"] == volume["original"]
    mean = repeats.set_index("repeat")["original_firstorder_Mean"]
    assert mean["noise_1"] != mean["original"] and abs(mean["noise_1"] - mean["original"]) < 2

    # a cohort of lesions -> long table -> ICC per patient-table column (suffix mapping)
    cases = [("p1", "L1", image, mask), ("p2", "L1", image, sitk.BinaryDilate(mask, [2, 2, 2]))]
    table = cohort_repeats(cases, FeatureExtractor(params), n_noise=1)
    assert list(table.columns[:3]) == ["patient_id", "lesion_id", "repeat"] and len(table) == 8
    iccs = training.feature_iccs(table, ["volume_weighted:delta:original_firstorder_Mean"])
    assert -1 <= iccs["volume_weighted:delta:original_firstorder_Mean"] <= 1


def test_icc_subjects_are_lesions_and_names_map_by_suffix():
    cohort = synthetic_cohort(n_patients=40, n_noise_features=1, seed=3)
    repeats = cohort.repeats
    iccs = training.feature_iccs(repeats, ["volume_weighted:delta:feature_01", "unreliable_01", "absent"])
    assert iccs["volume_weighted:delta:feature_01"] > 0.9 and iccs["unreliable_01"] < 0.5
    assert "absent" not in iccs
    kept, report = training.reproducibility_filter(repeats, ["feature_02", "unreliable_02", "absent"], 0.75)
    assert kept == ["feature_02"] and report["no_icc"] == ["absent"]


# --------------------------------------------------------------------------------------------
# leakage: what default training may use
# --------------------------------------------------------------------------------------------
def leaky_patient_table(seed: int = 51) -> pd.DataFrame:
    """A patient table as a researcher has it: radiomics columns named like the patient table's,
    plus an id-like number, a copy of the outcome coded the other way round and a clinical value."""
    cohort = synthetic_cohort(n_patients=60, n_noise_features=4, seed=seed, n_unreliable=0, redundant_copy=False)
    table = cohort.table.rename(columns={f: f"volume_weighted:delta:original_firstorder_{f}" for f in cohort.features})
    table["subject_number"] = np.arange(1, len(table) + 1)
    table["no_benefit"] = 1 - table["outcome"]
    table["albumin"] = np.random.default_rng(seed).normal(38, 5, len(table))
    return table


def test_default_training_uses_radiomics_columns_only_and_says_why(tmp_path, capsys):
    """A copied outcome and an id-like column are in the table: default train selects neither."""
    from ResponseSignatureLib.models.cli import main as cli_main

    table = leaky_patient_table()
    table.to_csv(tmp_path / "patients.csv", index=False)
    assert cli_main(["train", "--table", str(tmp_path / "patients.csv"), "--outcome", "outcome", "--method", "rf",
                     "--n-trees", "20", "--outer-folds", "0", "--out", str(tmp_path / "model.json")]) == 0
    model = load_model(tmp_path / "model.json")
    assert all(column.startswith("volume_weighted:delta:") for column in model["inputs"]), model["inputs"]
    excluded = model["model_card"]["excluded_columns"]
    assert excluded["other_outcome"] == ["no_benefit"] and excluded["identifier"] == ["subject_number"]
    assert excluded["not_a_radiomics_feature"] == ["albumin"]
    printed = capsys.readouterr().out
    assert "not used, another coding of the outcome: no_benefit" in printed
    assert "not used, identifier: subject_number" in printed

    # named on purpose: refused, naming the column and why
    for column, why in (("no_benefit", "another coding of the outcome"), ("subject_number", "identifier")):
        with pytest.raises(InputError, match=f"'{column}'.*{why}"):
            training.train_signature(table, "outcome", method="rf", feature_columns=[column, "albumin"],
                                     outer_folds=0, n_trees=10)


def test_perfectly_separating_feature_refused_unless_allowed():
    table = leaky_patient_table(seed=52)
    leak = "volume_weighted:delta:original_firstorder_Leak"
    table[leak] = table["outcome"] * 10.0 + np.random.default_rng(0).random(len(table))  # cases above all controls
    assert training.leakage_reason(table, leak, "outcome", "patient_id", table["outcome"].to_numpy()).startswith(
        "separates outcome perfectly")
    model = training.train_signature(table, "outcome", method="rf", outer_folds=0, n_trees=10)
    assert leak not in model["inputs"] and model["model_card"]["excluded_columns"]["separates_outcome"] == [leak]
    with pytest.raises(InputError, match="separates outcome perfectly.*--allow-separation"):
        training.train_signature(table, "outcome", method="rf", feature_columns=[leak], outer_folds=0, n_trees=10)
    allowed = training.train_signature(table, "outcome", method="rf", feature_columns=[leak], outer_folds=0,
                                       n_trees=10, allow_separation=True)
    assert allowed["inputs"] == [leak]


def test_radiomics_column_names():
    for name in ("delta:original_firstorder_Entropy", "volume_weighted:reldelta:zhao_shapeindex_SI4",
                 "baseline:log-sigma-2-0-mm-3D_glcm_Idm", "mean:followup2:wavelet-LLH_ngtdm_Contrast"):
        assert training.is_radiomics_column(name), name
    for name in ("patient_id", "no_benefit", "albumin", "baseline_sum_mm", "recist_category", "n_lesions",
                 "delta:volume_ml", "volume_weighted:baseline:longest_diameter_mm", "count:delta:original_shape_Sphericity",
                 "vote:score", "os_months"):
        assert not training.is_radiomics_column(name), name


def test_shipped_demo_signature_is_what_its_recipe_trains():
    """The model card's recipe (demo_cohort, rf, its settings) trains the shipped demo signature again."""
    from ResponseSignatureLib.models.demo import DEMO_FEATURES, DEMO_NAME, demo_cohort, default_demo_path

    shipped = load_model(default_demo_path())
    assert shipped["name"] == DEMO_NAME and shipped["inputs"] == list(DEMO_FEATURES)
    settings = shipped["model_card"]["settings"]
    cohort = demo_cohort(shipped["model_card"]["training_cohort"]["n_patients"], settings["seed"])
    rebuilt = training.train_signature(cohort.table, "outcome", method="rf", feature_columns=list(DEMO_FEATURES),
                                       threshold_method="fixed", seed=settings["seed"], n_trees=settings["n_trees"],
                                       max_depth=settings["max_depth"], min_samples_leaf=settings["min_samples_leaf"],
                                       outer_folds=0)
    held_out = demo_cohort(200, seed=7).table
    shipped_scores, rebuilt_scores = predict_scores(shipped, held_out), predict_scores(rebuilt, held_out)
    assert np.corrcoef(shipped_scores, rebuilt_scores)[0, 1] > 0.95  # same forest up to scikit-learn versions
    assert auc_value(held_out["outcome"], shipped_scores) > 0.8
