"""Tests of the catalogues (:mod:`skyhunt.catalogues`): matching, metrics, ensembles, files, steps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from astropy.table import Table

from skyhunt import io
from skyhunt.catalogues import pipeline as steps
from skyhunt.catalogues.crossmatch import match_one_to_one, pairs_within
from skyhunt.catalogues.ensembles import FLOOR, add_ranks, combine
from skyhunt.catalogues.files import MF_MASS_COLUMNS, VETTED, catalogue_units, read_catalogue, write_catalogue
from skyhunt.catalogues.metrics import (
    average_precision,
    best_scores,
    completeness_purity,
    n_at_purity,
    threshold_at_purity,
    true_entries,
)
from tests.catalogue_fixtures import (
    CATALOGUES_CFG,
    FOOTPRINT,
    MASS_UNITS,
    POSITIVE,
    SPLITS,
    candidate_masses,
    synthetic_sky,
    write,
    write_sky,
)

ARCMIN_DEG = 1 / 60


def separation_arcmin(ra1, dec1, ra2, dec2):
    """Brute-force great-circle separation (haversine), arcmin, every pair (n1, n2)."""
    r1, d1, r2, d2 = (np.radians(np.asarray(a, float)) for a in (ra1, dec1, ra2, dec2))
    dr, dd = r1[:, None] - r2[None, :], d1[:, None] - d2[None, :]
    h = np.sin(dd / 2) ** 2 + np.cos(d1)[:, None] * np.cos(d2)[None, :] * np.sin(dr / 2) ** 2
    return np.degrees(2 * np.arcsin(np.sqrt(h))) * 60


def random_lists(rng, n1, n2, spread_arcmin=6.0):
    ra1, dec1 = 5 + rng.uniform(0, spread_arcmin, n1) / 60, 30 + rng.uniform(0, spread_arcmin, n1) / 60
    ra2, dec2 = 5 + rng.uniform(0, spread_arcmin, n2) / 60, 30 + rng.uniform(0, spread_arcmin, n2) / 60
    return ra1, dec1, ra2, dec2


def test_pairs_within_equal_brute_force_separations():
    rng = np.random.default_rng(1)
    ra1, dec1, ra2, dec2 = random_lists(rng, 40, 50)
    i, j, sep = pairs_within(ra1, dec1, ra2, dec2, 1.0)
    brute = separation_arcmin(ra1, dec1, ra2, dec2)
    bi, bj = np.nonzero(brute <= 1.0)
    assert set(zip(i, j, strict=True)) == set(zip(bi, bj, strict=True)) and i.size > 20
    np.testing.assert_allclose(sep, brute[i, j], rtol=1e-9, atol=1e-9)


def test_cross_match_is_one_to_one_and_order_independent():
    rng = np.random.default_rng(2)
    ra1, dec1, ra2, dec2 = random_lists(rng, 60, 70, spread_arcmin=5.0)  # crowded: many conflicts
    i, j, sep = match_one_to_one(ra1, dec1, ra2, dec2, 1.0)
    assert np.unique(i).size == i.size and np.unique(j).size == j.size and i.size > 20
    assert np.all(sep <= 1.0)
    # no unmatched pair within the radius is left whose two members are both free
    free1, free2 = np.setdiff1d(np.arange(60), i), np.setdiff1d(np.arange(70), j)
    assert not np.any(separation_arcmin(ra1[free1], dec1[free1], ra2[free2], dec2[free2]) <= 1.0)
    pairs = {(ra1[a], ra2[b]) for a, b in zip(i, j, strict=True)}
    for seed in range(3):
        p1, p2 = np.random.default_rng(seed).permutation(60), np.random.default_rng(seed + 9).permutation(70)
        k, m, _ = match_one_to_one(ra1[p1], dec1[p1], ra2[p2], dec2[p2], 1.0)
        assert {(ra1[p1][a], ra2[p2][b]) for a, b in zip(k, m, strict=True)} == pairs
        k, m, _ = match_one_to_one(ra2[p2], dec2[p2], ra1[p1], dec1[p1], 1.0)  # lists swapped
        assert {(ra1[p1][b], ra2[p2][a]) for a, b in zip(k, m, strict=True)} == pairs


def test_cross_match_takes_the_closest_pair_first():
    # entry 0 of list 1 is 0.5' from both list-2 entries; entry 1 of list 1 is 0.2' from entry 1
    ra1, dec1 = np.array([10.0, 10.0]), np.array([0.0, 0.7 * ARCMIN_DEG])
    ra2, dec2 = np.array([10.0, 10.0]), np.array([-0.5 * ARCMIN_DEG, 0.5 * ARCMIN_DEG])
    i, j, sep = match_one_to_one(ra1, dec1, ra2, dec2, 1.0)
    assert list(zip(i, j, strict=True)) == [(0, 0), (1, 1)]
    np.testing.assert_allclose(sep, [0.5, 0.2], atol=1e-6)


def brute_completeness_purity(score, ra, dec, halos_q, halos_heavy, thresholds, r):
    """Loops over every entry and halo."""
    d_q = separation_arcmin(ra, dec, halos_q["ra"], halos_q["dec"])
    d_m = separation_arcmin(ra, dec, halos_heavy["ra"], halos_heavy["dec"])
    rows = []
    for t in thresholds:
        sel = [k for k in range(score.size) if score[k] >= t]
        found = sum(
            any(score[k] >= t and d_q[k, h] <= r for k in range(score.size)) for h in range(len(halos_q))
        )
        pq = sum(any(d_q[k] <= r) for k in sel) / len(sel) if sel else np.nan
        pm = sum(any(d_m[k] <= r) for k in sel) / len(sel) if sel else np.nan
        rows.append((len(sel), found, found / len(halos_q), pq, pm))
    return np.array(rows, float)


def test_completeness_and_purity_equal_brute_force_counts():
    halos, _, _, candidates = synthetic_sky(n_halos=60, n_false=15)
    q = halos[halos["m_vir"] >= POSITIVE["m_vir_min"]]
    q = q[q["z"] >= POSITIVE["z_min"]]
    heavy = halos[halos["m500c"] >= 1.2e14]
    ra, dec, score = candidates["ra"], candidates["dec"], candidates["snr"].to_numpy()
    thresholds = np.concatenate([[0.0, 100.0], np.unique(score)[::9]])  # entry scores included: ties count
    curve = completeness_purity(
        thresholds,
        score,
        true_entries(ra, dec, q["ra"], q["dec"], 1.0),
        true_entries(ra, dec, heavy["ra"], heavy["dec"], 1.0),
        best_scores(q["ra"], q["dec"], ra, dec, score, 1.0),
    )
    got = curve[["n_entries", "n_found", "completeness", "purity_qualifying", "purity_mass"]].to_numpy(float)
    np.testing.assert_allclose(got, brute_completeness_purity(score, ra, dec, q, heavy, thresholds, 1.0))
    mid = curve.iloc[len(curve) // 2]
    assert 0 < mid["completeness"] < 1 and 0 < mid["purity_qualifying"] < 1


def test_threshold_at_purity_and_n_found_equal_brute_force():
    rng = np.random.default_rng(4)
    val_score = rng.uniform(0, 1, 80)
    val_true = rng.uniform(size=80) < val_score  # purity rises with the score
    test_best = np.where(rng.uniform(size=50) < 0.7, rng.uniform(0, 1, 50), -np.inf)
    for level in (0.9, 0.8, 0.6):
        brute = min(s for s in val_score if np.mean(val_true[val_score >= s]) >= level)
        assert threshold_at_purity(val_score, val_true, level) == brute
        res = n_at_purity(val_score, val_true, test_best, level, 20, np.random.default_rng(0))
        assert res["threshold"] == brute
        assert res["n"] == sum(1 for b in test_best if b >= brute)
        assert res["draws"].shape == (20,) and res["draws"].min() < res["n"] + 20
    assert threshold_at_purity(np.array([1.0, 2.0]), np.array([False, False]), 0.9) == np.inf


def test_average_precision_of_a_hand_made_example():
    # truth at three places; entries: TP (0.9), FP (0.8), TP (0.7), a duplicate of the first (0.6), FP
    truth_ra, truth_dec = np.array([1.0, 2.0, 3.0]), np.zeros(3)
    ra = np.array([1.0, 5.0, 2.0, 1.0 + 0.5 * ARCMIN_DEG, 6.0])
    score = np.array([0.9, 0.8, 0.7, 0.6, 0.5])
    # precision 1, 1/2, 2/3, 2/4, 2/5 at recall 1/3, 1/3, 2/3, 2/3, 2/3: AP = 1/3 + 1/3 * 2/3
    ap = average_precision(ra, np.zeros(5), score, truth_ra, truth_dec, 1.0)
    assert ap == pytest.approx(5 / 9)
    # the order of the entries does not matter; a perfect catalogue has AP 1
    p = np.array([3, 1, 4, 0, 2])
    assert average_precision(ra[p], np.zeros(5), score[p], truth_ra, truth_dec, 1.0) == pytest.approx(5 / 9)
    assert average_precision(truth_ra, truth_dec, [3, 2, 1], truth_ra, truth_dec, 1.0) == 1.0


def test_average_precision_equals_a_brute_force_loop():
    rng = np.random.default_rng(5)
    truth_ra, truth_dec = 5 + rng.uniform(0, 0.3, 30), rng.uniform(0, 0.3, 30)
    ra = np.concatenate([truth_ra[:20] + 0.3 * ARCMIN_DEG, 5 + rng.uniform(0, 0.3, 15)])
    dec = np.concatenate([truth_dec[:20], rng.uniform(0, 0.3, 15)])
    score = rng.uniform(size=35)
    d = separation_arcmin(ra, dec, truth_ra, truth_dec)
    used, tp = set(), []
    for k in np.argsort(-score):
        free = [t for t in np.argsort(d[k]) if d[k, t] <= 1.0 and t not in used]
        tp.append(bool(free))
        used.update(free[:1])
    tp = np.array(tp)
    precision, recall = np.cumsum(tp) / np.arange(1, 36), np.cumsum(tp) / 30
    brute = sum((recall[k] - (recall[k - 1] if k else 0)) * precision[k:].max() for k in range(35))
    assert average_precision(ra, dec, score, truth_ra, truth_dec, 1.0) == pytest.approx(brute)


def toy_catalogue(ra, score, split="test", cls="cluster"):
    n = len(ra)
    return pd.DataFrame(
        {
            "ra": np.asarray(ra, float),
            "dec": np.zeros(n),
            "score": np.asarray(score, float),
            "class": cls,
            "split": split,
        }
    )


def test_ensemble_keeps_single_method_entries_with_the_floor_score():
    mf = toy_catalogue([1.0, 2.0, 3.0], [6.0, 5.0, 9.0])
    det = toy_catalogue([1.0 + 0.4 * ARCMIN_DEG, 4.0], [0.7, 0.9], cls="cluster_radio")
    table = add_ranks(combine(mf, det, 1.0))
    assert len(table) == 4
    both = table[table["found_by"] == "both"].iloc[0]
    assert (
        both["ra"] == 1.0 and both["score_mf"] == 6.0 and both["score_detector"] == 0.7
    )  # the MF's position
    assert both["ra_detector"] == pytest.approx(1.0 + 0.4 * ARCMIN_DEG) and both["class"] == "cluster_radio"
    assert both["separation_arcmin"] == pytest.approx(0.4, abs=1e-6)
    mf_only = table[table["found_by"] == "mf"]
    assert sorted(mf_only["ra"]) == [2.0, 3.0] and np.all(mf_only["score_detector"] == FLOOR)
    assert np.all(np.isnan(mf_only["ra_detector"])) and set(mf_only["class"]) == {"cluster"}
    det_only = table[table["found_by"] == "detector"].iloc[0]
    assert det_only["ra"] == 4.0 and det_only["score_mf"] == FLOOR and np.isnan(det_only["ra_mf"])
    # ranks within the split: the floor ties at the lowest rank
    assert det_only["q_mf"] == pytest.approx(1 / 4) and det_only["q_detector"] == 1.0
    np.testing.assert_allclose(mf_only["q_detector"], 2 / 4)


def test_ranks_are_taken_within_each_split():
    mf = pd.concat([toy_catalogue([1.0, 2.0], [6.0, 5.0]), toy_catalogue([7.0], [4.0], split="validation")])
    table = add_ranks(combine(mf, toy_catalogue([], []), 1.0))
    assert list(table.sort_values("ra")["q_mf"]) == [1.0, 0.5, 1.0]


def test_fits_catalogue_round_trips_with_units(tmp_path):
    paths = write_sky(tmp_path)
    out = {"fits": tmp_path / "mf.fits", "parquet": tmp_path / "mf.parquet"}
    steps.run_catalogue_mf(
        footprint=FOOTPRINT,
        splits=SPLITS,
        stage="dust",
        candidates=paths["candidates"],
        masses=paths["masses"],
        **out,
    )
    table = Table.read(out["fits"])
    parquet, units = io.read_table(out["parquet"])
    assert list(table.colnames) == list(catalogue_units("mf")) == list(parquet.columns)
    assert str(table["ra"].unit) == "deg" and str(table["scale_arcmin"].unit) == "arcmin"
    assert table.meta["METHOD"] == "mf" and table.meta["STAGE"] == "dust"
    assert json.loads(table.meta["CONFIG"]) == {"splits": SPLITS}
    assert units["ra"] == "deg" and io.read_table_meta(out["parquet"])["method"] == "mf"
    for c in ("ra", "dec", "snr", "score"):
        np.testing.assert_array_equal(np.asarray(table[c]), parquet[c].to_numpy())
    np.testing.assert_array_equal(np.asarray(table["split"]).astype(str), parquet["split"].to_numpy())
    assert np.all(np.diff(parquet["score"].to_numpy()) <= 0)
    pd.testing.assert_frame_equal(
        read_catalogue(out["fits"], "mf"), read_catalogue(out["parquet"], "mf"), check_dtype=False
    )


def detector_inputs(paths) -> dict:
    """run_catalogue_detector's arguments but the outputs, on the synthetic sky."""
    return {
        "stage": "dust",
        "match_radius_arcmin": 1.0,
        "detections": paths["detections"],
        "halos": paths["halos"],
        "cnn_masses": paths["cnn_masses"],
    }


def run_all(tmp_path, paths, seed=11) -> dict:
    """Every catalogue step on the synthetic sky; returns the output paths."""
    out = {
        m: {k: tmp_path / f"{m}.{k}" for k in ("fits", "parquet")}
        for m in ("mf", "detector", "ens_prod", "ens_learned")
    }
    steps.run_catalogue_mf(
        footprint=FOOTPRINT,
        splits=SPLITS,
        stage="dust",
        candidates=paths["candidates"],
        masses=paths["masses"],
        **out["mf"],
    )
    steps.run_catalogue_detector(**detector_inputs(paths), **out["detector"])
    steps.run_catalogue_ensembles(
        match_radius_arcmin=1.0,
        positive=POSITIVE,
        l2=1.0,
        stage="dust",
        mf=out["mf"]["parquet"],
        detector=out["detector"]["parquet"],
        halos=paths["halos"],
        prod_fits=out["ens_prod"]["fits"],
        prod_parquet=out["ens_prod"]["parquet"],
        learned_fits=out["ens_learned"]["fits"],
        learned_parquet=out["ens_learned"]["parquet"],
    )
    # vetted MF catalogues (issue 17): the MF's entries with a probability that follows the SNR
    mf = read_catalogue(out["mf"]["parquet"], "mf")
    p = 1.0 - np.exp(-mf["snr"].to_numpy() / 10.0)
    for m in VETTED:
        out[m] = {k: tmp_path / f"{m}.{k}" for k in ("fits", "parquet")}
        vetted = mf.assign(score=p, p_cnn=p, p_classical=p)
        write_catalogue(vetted, m, {"stage": "dust", "config": {}}, out[m]["fits"], out[m]["parquet"])
    files = {
        "metrics": tmp_path / "metrics.json",
        "curves": tmp_path / "curves.parquet",
        "md": tmp_path / "c.md",
    }
    steps.run_catalogue_metrics(
        catalogues=CATALOGUES_CFG,
        positive=POSITIVE,
        footprint=FOOTPRINT,
        splits=SPLITS,
        seed=seed,
        stage="dust",
        mf=out["mf"]["parquet"],
        detector=out["detector"]["parquet"],
        ens_prod=out["ens_prod"]["parquet"],
        ens_learned=out["ens_learned"]["parquet"],
        vetted_cnn=out["vetted_cnn"]["parquet"],
        vetted_classical=out["vetted_classical"]["parquet"],
        halos=paths["halos"],
        objects=paths["objects"],
        detections=paths["detections"],
        **files,
    )
    return {**{f"{m}.{k}": p for m, d in out.items() for k, p in d.items()}, **files}


def test_catalogue_steps_end_to_end_and_the_headline_count(tmp_path):
    paths = write_sky(tmp_path)
    out = run_all(tmp_path, paths)
    det = read_catalogue(out["detector.parquet"], "detector")
    assert set(det["class"]) == {"cluster", "cluster_radio"}
    metrics = json.loads(out["metrics"].read_text(), parse_constant=lambda c: pytest.fail(f"not JSON: {c}"))
    # brute-force N at 80 % purity of the MF catalogue: threshold on validation, count on test
    halos, _, _, _ = synthetic_sky()
    q = halos[(halos["m_vir"] >= 2e14) & (halos["z"] >= 0.25)]
    from tests.catalogue_fixtures import split

    qs = split(q["ra"])
    mf = read_catalogue(out["mf.parquet"], "mf")
    val = mf[mf["split"] == "validation"]
    d_val = separation_arcmin(val["ra"], val["dec"], q["ra"], q["dec"])
    true = (d_val <= 1.0).any(1)
    t = min(s for s in val["score"] if true[val["score"].to_numpy() >= s].mean() >= 0.8)
    test = mf[(mf["split"] == "test") & (mf["score"] >= t)]
    d_test = separation_arcmin(test["ra"], test["dec"], q["ra"][qs == "test"], q["dec"][qs == "test"])
    res = metrics["methods"]["mf"]["n_at_purity"]["qualifying"]["0.8"]
    assert res["threshold"] == t and res["n"] == int((d_test <= 1.0).any(0).sum()) > 0
    assert res["n_lo"] <= res["n"] <= res["n_hi"]
    assert metrics["n_qualifying_test"] == int(np.sum(qs == "test"))
    # the detector finds 80 % of the objects with true scores above the false: a high mAP
    assert 0.6 < metrics["detector_ap"]["map"] <= 1.0
    assert "CNN detector" in out["md"].read_text()
    learned = read_catalogue(out["ens_learned.parquet"], "ens_learned")
    assert set(learned["found_by"]) == {"both", "mf", "detector"}
    assert np.all((learned["score"] > 0) & (learned["score"] < 1))


def test_mass_columns_equal_the_mass_table_entry_by_entry(tmp_path):
    """The MF catalogue's masses are rule mf_masses' rows of the same candidates, with solMass
    units and the redshift's origin in the header; an ensemble entry carries its MF entry's mass."""
    paths = write_sky(tmp_path)
    out = run_all(tmp_path, paths)
    masses = candidate_masses(io.read_table(paths["candidates"])[0])
    table = Table.read(out["mf.fits"])
    assert table["z"].unit is None
    assert all(str(table[c].unit) == "solMass" for c in ("m500c", "m500c_lo", "m500c_hi"))
    assert "true redshift" in json.loads(table.meta["MASSES"])["redshift"]
    mf = read_catalogue(out["mf.parquet"], "mf")
    key = masses.set_index(["ra", "dec"])
    got = mf.set_index(["ra", "dec"]).loc[key.index]  # entry by entry, the catalogue sorted by score
    for c in MF_MASS_COLUMNS:
        np.testing.assert_array_equal(got[c].to_numpy(), key[c].to_numpy())
    assert np.isnan(mf["m500c"]).any() and np.isfinite(mf["m500c"]).any()
    _, units = io.read_table(out["mf.parquet"])
    assert units["m500c"].startswith("M_sun")
    ens = read_catalogue(out["ens_prod.parquet"], "ens_prod")
    by_mf = ens[ens["found_by"] != "detector"].set_index(["ra_mf", "dec_mf"])
    np.testing.assert_array_equal(
        by_mf["m500c_mf"].to_numpy(), mf.set_index(["ra", "dec"]).loc[by_mf.index, "m500c"].to_numpy()
    )
    assert np.isnan(ens.loc[ens["found_by"] == "detector", "m500c_mf"]).all()
    ens_fits = Table.read(out["ens_prod.fits"])
    assert all(str(ens_fits[f"{c}_mf"].unit) == "solMass" for c in ("m500c", "m500c_lo", "m500c_hi"))
    # a mass table of other candidates fails naming it
    shuffled = masses.iloc[::-1].reset_index(drop=True)
    write(paths["masses"], shuffled, MASS_UNITS)
    with pytest.raises(io.InputFileError, match="masses.parquet.*not the candidates"):
        run_all(tmp_path / "bad", paths)


def test_detector_masses_are_the_cnn_masses_of_the_matched_halos(tmp_path):
    """Each detector entry carries the CNN mass table's row of the halo it matches within 1' (NaN
    without one), as M500c and exp(ln M -/+ sigma) in solMass; the ensembles carry it as *_detector;
    a CNN mass table with a halo twice fails naming the file."""
    paths = write_sky(tmp_path)
    out = run_all(tmp_path, paths)
    halos, _, _, _ = synthetic_sky()
    cnn = io.read_table(paths["cnn_masses"])[0].set_index("halo_id")
    det = read_catalogue(out["detector.parquet"], "detector")
    d = separation_arcmin(det["ra"], det["dec"], halos["ra"], halos["dec"])
    near = d <= 1.0
    heaviest = np.where(near, halos["m_vir"].to_numpy()[None, :], -1.0).argmax(axis=1)
    hid = np.where(near.any(axis=1), halos["halo_id"].to_numpy()[heaviest], -1)
    want = cnn["m500c"].reindex(hid).to_numpy()
    np.testing.assert_array_equal(det["m500c"].to_numpy(), want)
    has = np.isfinite(want)
    assert 0 < has.sum() < len(det)
    np.testing.assert_allclose(det["m500c_hi"][has] / det["m500c"][has], np.exp(0.2))
    np.testing.assert_allclose(det["m500c_lo"][has] / det["m500c"][has], np.exp(-0.2))
    np.testing.assert_array_equal(
        det["z"].to_numpy(),
        np.where(hid >= 0, halos.set_index("halo_id")["z"].reindex(hid).to_numpy(), np.nan),
    )
    table = Table.read(out["detector.fits"])
    assert all(str(table[c].unit) == "solMass" for c in ("m500c", "m500c_lo", "m500c_hi"))
    assert "true redshift" in json.loads(table.meta["MASSES"])["redshift"]
    ens = read_catalogue(out["ens_learned.parquet"], "ens_learned")
    by_det = ens[ens["found_by"] != "mf"].set_index(["ra_detector", "dec_detector"])
    np.testing.assert_array_equal(
        by_det["m500c_detector"].to_numpy(),
        det.set_index(["ra", "dec"]).loc[by_det.index, "m500c"].to_numpy(),
    )
    assert np.isnan(ens.loc[ens["found_by"] == "mf", "m500c_detector"]).all()
    twice = io.read_table(paths["cnn_masses"])[0]
    write(paths["cnn_masses"], pd.concat([twice, twice.iloc[:1]]))
    with pytest.raises(io.InputFileError, match=r"cnn_masses\.parquet.*two rows"):
        run_all(tmp_path / "bad", paths)


def test_same_inputs_and_seed_give_identical_files(tmp_path):
    paths = write_sky(tmp_path)
    a, b = run_all(tmp_path / "a", paths), run_all(tmp_path / "b", paths)
    for k in a:
        assert a[k].read_bytes() == b[k].read_bytes(), k
    c = run_all(tmp_path / "c", paths, seed=12)
    assert c["metrics"].read_bytes() != a["metrics"].read_bytes()  # the seed drives the bootstrap


def test_missing_column_fails_naming_the_file(tmp_path):
    paths = write_sky(tmp_path)
    table, _ = io.read_table(paths["detections"])
    write(paths["detections"], table.drop(columns="pos_err_arcmin"))
    with pytest.raises(io.InputFileError, match=r"detections\.parquet.*pos_err_arcmin"):
        steps.run_catalogue_detector(
            **detector_inputs(paths), fits=tmp_path / "d.fits", parquet=tmp_path / "d.parquet"
        )


def test_unknown_position_error_is_kept_and_an_infinite_one_fails(tmp_path):
    """NaN pos_err_arcmin (no matched validation entry of the class) passes into the catalogue;
    an infinite one fails naming the file."""
    paths = write_sky(tmp_path)
    table, _ = io.read_table(paths["detections"])
    err = table["pos_err_arcmin"].to_numpy(float).copy()
    err[:2] = np.nan
    write(paths["detections"], table.assign(pos_err_arcmin=err))
    kwargs = detector_inputs(paths)
    steps.run_catalogue_detector(**kwargs, fits=tmp_path / "d.fits", parquet=tmp_path / "d.parquet")
    out, _ = io.read_table(tmp_path / "d.parquet")
    assert (
        np.isnan(out["pos_err_arcmin"].to_numpy(float)).sum()
        == np.isin(
            np.flatnonzero(np.isnan(err)),
            np.flatnonzero(np.isin(table["class"], ["cluster", "cluster_radio"])),
        ).sum()
    )
    err[:2] = np.inf
    write(paths["detections"], table.assign(pos_err_arcmin=err))
    with pytest.raises(io.InputFileError, match=r"detections\.parquet: column pos_err_arcmin is infinite"):
        steps.run_catalogue_detector(**kwargs, fits=tmp_path / "e.fits", parquet=tmp_path / "e.parquet")


def test_nan_score_fails_naming_the_file(tmp_path):
    paths = write_sky(tmp_path)
    table, _ = io.read_table(paths["candidates"])
    table.loc[3, "snr"] = np.nan
    write(paths["candidates"], table)
    with pytest.raises(io.InputFileError, match=r"candidates\.parquet.*snr.*NaN"):
        steps.run_catalogue_mf(
            footprint=FOOTPRINT,
            splits=SPLITS,
            stage="dust",
            candidates=paths["candidates"],
            masses=paths["masses"],
            fits=tmp_path / "m.fits",
            parquet=tmp_path / "m.parquet",
        )


def test_corrupt_catalogue_fails_naming_the_file(tmp_path):
    paths = write_sky(tmp_path)
    out = run_all(tmp_path, paths)
    for name in ("ens_prod.fits", "ens_prod.parquet"):
        data = out[name].read_bytes()
        out[name].write_bytes(data[: len(data) // 2])
        with pytest.raises(io.InputFileError, match=name.replace(".", r"\.")):
            read_catalogue(out[name], "ens_prod")
    # one flipped byte in the FITS table data: its checksum catches it
    data = bytearray(out["mf.fits"].read_bytes())
    data[-200] ^= 0xFF
    out["mf.fits"].write_bytes(bytes(data))
    with pytest.raises(io.InputFileError, match=r"mf\.fits.*checksum"):
        read_catalogue(out["mf.fits"], "mf")


def test_unknown_detector_class_fails_naming_the_file(tmp_path):
    paths = write_sky(tmp_path)
    table, _ = io.read_table(paths["detections"])
    table.loc[0, "class"] = "galaxy"
    write(paths["detections"], table)
    with pytest.raises(io.InputFileError, match=r"detections\.parquet.*galaxy"):
        steps.read_detections(paths["detections"])


def test_detector_cutout_scores_follow_the_mf_protocol_exactly(tmp_path):
    """Detector entries reach cutouts as MF detections with SNR = probability would (DeepSZ 2.3)."""
    from skyhunt.mf.pipeline import run_match_mf
    from tests.catalogue_fixtures import CUTOUTS, write_index

    paths = write_sky(tmp_path)
    index = write_index(tmp_path / "index.parquet")
    out = run_all(tmp_path, paths)
    matching = {"radius_arcmin": 1.0}
    cutouts = {k: CUTOUTS[k] for k in ("size_arcmin", "npix", "stride_arcmin")}
    common = {
        "cutouts": cutouts,
        "matching": matching,
        "halos": paths["halos"],
        "index": tmp_path / "index.parquet",
    }
    steps.run_detector_cutout_scores(
        **common, catalogue=out["detector.parquet"], cutout_scores=tmp_path / "cs.parquet"
    )
    det = read_catalogue(out["detector.parquet"], "detector")
    write(tmp_path / "as_mf.parquet", det.assign(snr=det["prob"]))
    run_match_mf(**common, candidates=tmp_path / "as_mf.parquet", cutout_snr_table=tmp_path / "mf.parquet")
    got, units = io.read_table(tmp_path / "cs.parquet")
    mf, _ = io.read_table(tmp_path / "mf.parquet")
    assert list(got.columns) == ["cutout_id", "split", "prob", "halo_id", "n_detections"] and "prob" in units
    np.testing.assert_array_equal(got["prob"], mf["snr"])
    for c in ("cutout_id", "split", "halo_id", "n_detections"):
        np.testing.assert_array_equal(got[c], mf[c])
    assert len(got) == len(index) and 0 < np.sum(got["prob"] > 0) < len(got)
    # every cutout score is one of the entries' probabilities, or 0
    assert set(got["prob"][got["prob"] > 0]) <= set(det["prob"])


def test_detector_edge_counts_equal_brute_force(tmp_path):
    from skyhunt.cutouts.grid import CutoutGeometry, Grid
    from skyhunt.cutouts.labels import holding_cutout
    from tests.catalogue_fixtures import CUTOUTS, write_index

    paths = write_sky(tmp_path)
    index = write_index(tmp_path / "index.parquet")
    out = run_all(tmp_path, paths)
    rng = np.random.default_rng(0)
    prob = rng.uniform(size=len(index))
    write(tmp_path / "cnn.parquet", pd.DataFrame({"cutout_id": index["cutout_id"], "probability": prob}))
    methods = {m: {"threshold": 0.5} for m in ("mf", "cnn", "detector", "and", "prod", "learned")}
    (tmp_path / "t.json").write_text(json.dumps({"stage": "dust", "methods": methods}))
    args = {
        "cutouts": {k: CUTOUTS[k] for k in ("size_arcmin", "npix", "stride_arcmin", "positive")},
        "interval": 0.68,
        "edge_bin_arcmin": 0.5,
        "stage": "dust",
        "catalogue": out["detector.parquet"],
        "metrics": out["metrics"],
        "halos": paths["halos"],
        "index": tmp_path / "index.parquet",
        "cnn": tmp_path / "cnn.parquet",
        "thresholds": tmp_path / "t.json",
    }
    steps.run_detector_edge(**args, edge=tmp_path / "edge.parquet")
    edge, _ = io.read_table(tmp_path / "edge.parquet")
    meta = io.read_table_meta(tmp_path / "edge.parquet")
    # brute force: qualifying halos held by a validation or test cutout
    halos, _, _, _ = synthetic_sky()
    q = halos[(halos["m_vir"] >= 2e14) & (halos["z"] >= 0.25)]
    cut = holding_cutout(Grid.from_index(index, 6.0), CutoutGeometry(8.0, 32), q["ra"], q["dec"])
    keep = (cut >= 0) & np.isin(index["split"].to_numpy()[np.maximum(cut, 0)], ["validation", "test"])
    q, cut = q[keep], cut[keep]
    det = read_catalogue(out["detector.parquet"], "detector")
    det = det[det["score"] >= meta["detector_threshold"]]
    found = (separation_arcmin(q["ra"], q["dec"], det["ra"], det["dec"]) <= 1.0).any(1)
    assert edge["n_halos"].sum() == len(q) > 20
    assert edge["detector_found"].sum() == found.sum()
    assert edge["classifier_found"].sum() == np.sum(prob[cut] >= 0.5)
    assert meta["detector_purity"] == 0.8 and edge["distance_hi_arcmin"].max() <= 4.5
    # thresholds of another stage fail naming the file
    (tmp_path / "t.json").write_text(json.dumps({"stage": "ksz", "methods": methods}))
    with pytest.raises(io.InputFileError, match=r"t\.json"):
        steps.run_detector_edge(**args, edge=tmp_path / "edge2.parquet")


def test_halos_beyond_the_footprint_make_entries_true_but_are_not_counted():
    halos = pd.DataFrame(
        {
            "halo_id": [0, 1],
            "ra": [0.5, 0.01],
            "dec": [0.5, -0.005],  # halo 1 lies just outside the footprint's dec_min = 0
            "z": [0.5, 0.5],
            "m_vir": [3e14, 3e14],
            "m500c": [2e14, 2e14],
            "in_footprint": [True, False],
            "split": ["test", "test"],
        }
    )
    entries = toy_catalogue([0.5, 0.01], [6.0, 5.0]).assign(dec=[0.5, 0.0])
    entries = pd.concat([entries, entries.assign(split="validation")], ignore_index=True)
    qualifying = steps.qualifying_halos(halos, POSITIVE)
    curves, res = steps.method_metrics(entries, halos, qualifying, CATALOGUES_CFG, "t", 0)
    test = curves[curves["split"] == "test"]
    assert np.all(test["purity_qualifying"] == 1.0) and np.all(test["n_qualifying"] == 1)
    assert list(test["completeness"]) == [1.0, 1.0] and res["qualifying"]["0.9"]["n"] == 1


def test_a_purity_never_reached_gives_a_null_threshold_and_no_clusters():
    halos = pd.DataFrame(
        {"halo_id": [0], "ra": [0.5], "dec": [0.5], "z": [0.5], "m_vir": [3e14], "m500c": [2e14]}
    ).assign(in_footprint=True, split="test")
    entries = toy_catalogue([0.2, 0.3], [6.0, 5.0], split="validation").assign(dec=0.5)  # both false
    _, res = steps.method_metrics(
        entries, halos, steps.qualifying_halos(halos, POSITIVE), CATALOGUES_CFG, "t", 0
    )
    assert res["qualifying"]["0.9"]["threshold"] is None and res["qualifying"]["0.9"]["n"] == 0
    text = steps.metrics_markdown(
        {
            "stage": "dust",
            "interval": 0.68,
            "match_radius_arcmin": 1.0,
            "purity_m500c_min": 1e14,
            "n_qualifying_test": 1,
            "methods": {"mf": {"n_at_purity": res}},
            "detector_ap": {
                "split": "test",
                "ap": dict.fromkeys(steps.DETECTOR_CLASSES),
                "n_objects": dict.fromkeys(steps.DETECTOR_CLASSES, 0),
                "map": None,
            },
        }
    )
    assert "never reached" in text
