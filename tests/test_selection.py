"""Selection function by injection (issue 16): the injections, the completeness and its products."""

from __future__ import annotations

import hashlib
import json

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from astropy.io import fits

from skyhunt import io
from skyhunt.catalogues.ensembles import add_ranks, combine
from skyhunt.catalogues.files import (
    CATALOGUES,
    DETECTOR_MASS_COLUMNS,
    ENSEMBLE_COLUMNS,
    MF_MASS_COLUMNS,
    write_catalogue,
)
from skyhunt.cutouts.grid import CutoutGeometry
from skyhunt.cutouts.layout import split_of
from skyhunt.detector import pipeline as detector_pipeline
from skyhunt.evaluation.ensembles import LogisticCombination, choose_thresholds, predict
from skyhunt.evaluation.pipeline import ENSEMBLE_SCORE_UNITS
from skyhunt.mf.matching import cutout_snr
from skyhunt.mf.tiles import make_layout
from skyhunt.selection import completeness as comp
from skyhunt.selection import cutout_finders, finders, masslimit, methods, pipeline
from skyhunt.selection.files import (
    CompletenessGrid,
    read_completeness,
    write_completeness,
    write_mass_limit_map,
)
from skyhunt.selection.inject import draw_positions
from skyhunt.sky import components
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.pipeline import write_band_map
from skyhunt.sky.spectra import T_CMB_K, tsz_spectrum
from tests.catalogue_fixtures import write_index
from tests.conftest import small_config

N_INJECT = 5
#: A HEALPix pixel at nside 1024 (3.4'): peaks of clusters sampled this coarsely move by up to half of one.
MATCH_ARCMIN = 3.5


def _sha256(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


#: The toy detector's threshold on the 148 GHz decrement, in units of the pixel noise.
TOY_SIGMA = 6.0


def toy_detect(module, layout, interp, maps, footprint, peaks):
    """A toy finder in the detector's place: the 148 GHz decrements below -TOY_SIGMA pixel noise,
    the deepest first, none within 10' of a deeper one; prob = depth / (10 TOY_SIGMA), at most 1."""
    v = maps[:, 1].astype(float)
    sigma = 1.4826 * np.median(np.abs(v - np.median(v)))
    vec = np.array(hp.pix2vec(interp.nside, interp.pixels))
    order = np.argsort(v)
    order = order[v[order] < -TOY_SIGMA * sigma]
    taken = []
    for i in order:
        if all(vec[:, i] @ vec[:, j] < np.cos(np.radians(10.0 / 60.0)) for j in taken):
            taken.append(i)
    ra, dec = hp.pix2ang(interp.nside, interp.pixels[taken], lonlat=True)
    prob = np.minimum(-v[taken] / (10 * TOY_SIGMA * sigma), 1.0)
    return pd.DataFrame({"ra": ra, "dec": dec, "class": "cluster", "prob": prob})


def _reference_ensemble(path, footprint, splits) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A main-run learned-ensemble catalogue: toy MF (SNR 4-40) and detector (0.05-1) entries
    (returned), combined and ranked as rule catalogue_ensembles does."""
    rng = np.random.default_rng(8)
    fp = Footprint.from_config(footprint)

    def entries(n, lo, hi):
        ra = rng.uniform(fp.ra_min, fp.ra_max, n)
        return pd.DataFrame(
            {
                "ra": ra,
                "dec": rng.uniform(fp.dec_min, fp.dec_max, n),
                "score": rng.uniform(lo, hi, n),
                "class": "cluster",
                "split": split_of(ra, fp, splits),
            }
        )

    mf, det = entries(300, 4.0, 40.0), entries(300, 0.05, 1.0)
    table = add_ranks(combine(mf, det, 1.0))
    weights = {"q_detector": 3.0, "q_mf": 4.0, "q_detector_q_mf": 1.0}
    model = LogisticCombination(-5.0, tuple(weights.values()))
    write_catalogue(
        table.assign(
            score=model(table["q_detector"].to_numpy(), table["q_mf"].to_numpy()),
            **{f"{c}_mf": np.nan for c in MF_MASS_COLUMNS},
            **{f"{c}_detector": np.nan for c in DETECTOR_MASS_COLUMNS},
        ),
        "ens_learned",
        {"stage": "cmb_tsz", "config": {"intercept": -5.0, "weights": weights}},
        path.with_suffix(".fits"),
        path,
    )
    return mf, det


@pytest.fixture(scope="module")
def injected_run(tmp_path_factory):
    """One batch of injections into white-noise maps (nside 1024, 3 x 3 deg), the MF run on them.

    The MF step is wrapped so that the test sees the injected maps it was given (in memory)."""
    tmp = tmp_path_factory.mktemp("inject")
    cfg = small_config(size_deg=3.0)
    sky = cfg["sky"]
    fp = Footprint.from_config(sky["footprint"])
    pixels = fp.pixels(sky["nside"])
    rng = np.random.default_rng(3)
    maps = []
    for band in sky["bands"]:
        path = tmp / f"cmb_tsz_{band['name']}.fits"
        write_band_map(
            path,
            pixels,
            components.noise_map(band["noise_uk_arcmin"], sky["nside"], pixels.size, rng),
            sky["nside"],
            band,
            "cmb_tsz",
        )
        maps.append(path)
    halos = tmp / "halos.parquet"
    io.write_table(
        halos,
        {"ra": np.array([11.5]), "dec": np.array([0.5]), "m500c": np.array([5e14])},
        {"ra": "deg", "dec": "deg", "m500c": "M_sun"},
    )
    selection = dict(cfg["selection"], injections=N_INJECT, edge_arcmin=15.0, separation_arcmin=15.0)
    selection["grid"] = dict(selection["grid"], m500c_min=3e14, m500c_max=1e15, z_edges=[0.3, 0.8])
    selection["avoid"] = {"m500c_min": 1e14, "radius_arcmin": 20.0}
    before = [_sha256(p) for p in maps]
    mtimes = [p.stat().st_mtime_ns for p in maps]
    seen = {}
    real_mf, real_detect, real_load = (
        pipeline.filter_maps,
        finders.detect,
        detector_pipeline.load_detector,
    )

    def spy(pixels, values, **kwargs):
        seen["pixels"], seen["values"] = pixels, values.copy()
        return real_mf(pixels, values, **kwargs)

    def spy_detect(module, layout, interp, maps, footprint, peaks):
        seen["detector_values"] = maps.copy()
        found = toy_detect(module, layout, interp, maps, footprint, peaks)
        seen["detector"] = found
        return found

    ensemble = tmp / "ens_learned.parquet"
    _reference_ensemble(ensemble, sky["footprint"], cfg["cutouts"]["splits"])
    pipeline.filter_maps, finders.detect = spy, spy_detect
    detector_pipeline.load_detector = lambda model, accelerator: None
    try:
        out = tmp / "selection" / "batch_0.parquet"
        scratch = tmp / "selection" / "scratch_0"
        injected = [scratch / f"cmb_tsz_{b['name']}.fits" for b in sky["bands"]]
        pipeline.run_inject_mf(
            nside=sky["nside"],
            footprint=sky["footprint"],
            bands=sky["bands"],
            point_sources=sky["point_sources"],
            mf={k: v for k, v in cfg["mf"].items() if k != "matching"},
            components=["cmb", "tsz"],
            stage="cmb_tsz",
            cosmology=sky["cosmology"],
            halo_model={
                k: sky["halos"][k]
                for k in ("truncation_r500", "y_scatter_ln", "v_los_sigma_km_s", "relativistic_tsz")
            },
            selection=selection,
            match_radius_arcmin=MATCH_ARCMIN,
            seed=cfg["seed"],
            batch="0",
            maps=maps,
            spectrum=_spectrum(tmp, cfg),
            halos=halos,
            injected=injected,
            candidates=scratch / "candidates.parquet",
            injections=scratch / "injections.parquet",
            red_noise={
                k: sky["noise"][k]
                for k in ("red_correlation", "red_correlation_groups", "red_ell_min", "red_cut_fraction")
            },
        )
        pipeline.run_inject_detect(
            nside=sky["nside"],
            footprint=sky["footprint"],
            tiles=cfg["mf"]["tiles"],
            splits=cfg["cutouts"]["splits"],
            peaks=cfg["detector"]["peaks"],
            accelerator="cpu",
            match_radius_arcmin=MATCH_ARCMIN,
            injected=injected,
            candidates=scratch / "candidates.parquet",
            mf_injections=scratch / "injections.parquet",
            model=tmp / "model.ckpt",
            ensemble=ensemble,
            injections=out,
        )
    finally:
        pipeline.filter_maps, finders.detect = real_mf, real_detect
        detector_pipeline.load_detector = real_load
    original = io.read_partial_maps(maps, nside=sky["nside"])
    return dict(
        cfg=cfg,
        maps=maps,
        before=before,
        mtimes=mtimes,
        seen=seen,
        original=original,
        out=out,
        table=io.read_checked_table(out, tuple(pipeline.INJECTED_UNITS)),
        selection=selection,
        ensemble=ensemble,
        injected=injected,
    )


def _spectrum(tmp, cfg):
    """The CMB spectrum file the MF's noise model reads (rule cmb_spectrum)."""
    from skyhunt.sky.pipeline import run_cmb_spectrum

    path = tmp / "cmb_spectrum.ecsv"
    run_cmb_spectrum(cosmology=cfg["sky"]["cosmology"], lmax=cfg["sky"]["cmb"]["lmax"], spectrum=path)
    return path


def test_injection_adds_exactly_the_requested_clusters(injected_run):
    r = injected_run
    sky = r["cfg"]["sky"]
    table = r["table"]
    assert len(table) == N_INJECT
    pixels, values = r["seen"]["pixels"], r["seen"]["values"]
    orig_pixels, orig = r["original"]
    np.testing.assert_array_equal(pixels, orig_pixels)
    delta = values.astype(np.float64) - orig.astype(np.float64)
    omega = hp.nside2pixarea(sky["nside"], degrees=True) * 3600.0
    y_total = table["y5r500_arcmin2"].sum() / omega  # Compton-y summed over pixels
    for b, band in enumerate(sky["bands"]):
        expected = T_CMB_K * 1e6 * float(tsz_spectrum(band["freq_ghz"])) * y_total
        # flux conservation of the sky's painting: the pixel sum is the injected Y (float32 maps)
        assert delta[:, b].sum() == pytest.approx(expected, rel=1e-4)
    # every changed pixel lies within the truncation radius (plus a pixel) of an injection
    vec = hp.pix2vec(sky["nside"], pixels)
    changed = np.flatnonzero(np.abs(delta[:, 0]) > 1e-3)
    radius = np.radians((sky["halos"]["truncation_r500"] * table["theta500_arcmin"] + 3.5) / 60.0)
    inj_vec = np.array(hp.ang2vec(table["ra"].to_numpy(), table["dec"].to_numpy(), lonlat=True))
    cos_sep = inj_vec @ np.array(vec)[:, changed]
    assert np.all(np.any(cos_sep >= np.cos(radius.to_numpy())[:, None], axis=0))
    # the strongest decrement around each injection sits on its position (within a pixel)
    pix_arcmin = hp.nside2resol(sky["nside"], arcmin=True)
    for i in range(N_INJECT):
        near = np.flatnonzero(cos_sep_all := inj_vec[i] @ np.array(vec) > np.cos(np.radians(10.0 / 60.0)))
        peak = near[np.argmin(delta[near, 0])]
        sep = np.degrees(np.arccos(min(cos_sep_all[peak], 1.0))) * 60.0
        assert sep < pix_arcmin
    # positions: inside the edges, apart, away from the bright halo
    sel = r["selection"]
    ra, dec = table["ra"].to_numpy(), table["dec"].to_numpy()
    fp = Footprint.from_config(sky["footprint"])
    from skyhunt.mf.tiles import inside_mask

    assert inside_mask(fp, ra, dec, sel["edge_arcmin"]).all()
    sep = np.degrees(np.arccos(np.clip(inj_vec @ inj_vec.T, -1, 1))) * 60.0
    assert sep[~np.eye(N_INJECT, dtype=bool)].min() > sel["separation_arcmin"]
    bright = np.array(hp.ang2vec(11.5, 0.5, lonlat=True))
    assert np.degrees(np.arccos(np.clip(inj_vec @ bright, -1, 1))).min() * 60.0 > 20.0
    m = table["m500c"].to_numpy()
    assert np.all((m >= 3e14) & (m <= 1e15))


def test_injection_leaves_the_original_maps_untouched(injected_run):
    r = injected_run
    assert [_sha256(p) for p in r["maps"]] == r["before"]
    assert [p.stat().st_mtime_ns for p in r["maps"]] == r["mtimes"]
    assert not np.array_equal(r["seen"]["values"], r["original"][1])  # the MF saw the injected maps
    scratch = r["out"].parent / "scratch_0"
    assert sorted(p.name for p in scratch.iterdir()) == sorted(  # the maps and candidates, nothing else
        [p.name for p in r["injected"]] + ["candidates.parquet", "injections.parquet"]
    )


def test_matched_filter_recovers_massive_injections(injected_run):
    # white noise at DeepSZ depth: clusters of M500c >= 3e14 at z < 0.8 are far above SNR 5
    snr = injected_run["table"]["score_mf"].to_numpy()
    assert np.all(snr >= 5.0), snr


def test_ensembles_of_the_main_entries_reproduce_the_main_catalogue(tmp_path):
    """On the main run's own entries the injection-side ensembles give the main catalogue's
    ranks and scores exactly (the rank reference and the learned weights are the main run's)."""
    cfg = small_config(size_deg=3.0)
    path = tmp_path / "ens_learned.parquet"
    mf, det = _reference_ensemble(path, cfg["sky"]["footprint"], cfg["cutouts"]["splits"])
    ens = finders.ensemble_entries(mf, det, finders.read_reference(path), finders.learned_model(path), 1.0)
    main = io.read_checked_table(path, ("ra", "dec", "score", "q_mf", "q_detector"))
    a, b = ens.sort_values(["ra", "dec"]), main.sort_values(["ra", "dec"])
    np.testing.assert_array_equal(a["ra"].to_numpy(), b["ra"].to_numpy())
    for q in ("q_mf", "q_detector"):
        np.testing.assert_array_equal(a[q].to_numpy(), b[q].to_numpy())
    np.testing.assert_allclose(a["ens_learned"].to_numpy(), b["score"].to_numpy(), rtol=0, atol=1e-15)


def test_every_finder_sees_the_same_injected_maps(injected_run):
    r = injected_run
    np.testing.assert_array_equal(r["seen"]["detector_values"], r["seen"]["values"])


def test_detector_and_ensembles_on_the_injected_maps(injected_run):
    """The toy detector finds every massive injection; the ensembles' scores follow from the
    reference catalogue's ranks and the learned weights; an ensemble entry exists wherever
    either finder found the injection (the cross-match keeps the union)."""
    r = injected_run
    t = r["table"]
    found = r["seen"]["detector"]
    best = comp.best_score_within(t["ra"], t["dec"], found["ra"], found["dec"], found["prob"], MATCH_ARCMIN)
    np.testing.assert_array_equal(t["score_detector"].to_numpy(), best)
    assert np.all(best > 0.1), best  # decrements of M500c >= 3e14 far below 6 sigma
    ref = io.read_checked_table(r["ensemble"], ("split", "score_mf", "score_detector"))
    for i in range(N_INJECT):
        fp = Footprint.from_config(r["cfg"]["sky"]["footprint"])
        split = split_of(t["ra"].to_numpy()[i : i + 1], fp, r["cfg"]["cutouts"]["splits"])[0]
        rows = ref["split"].to_numpy() == split
        q_mf = np.mean(ref["score_mf"].to_numpy()[rows] <= t["score_mf"].to_numpy()[i])
        q_det = np.mean(ref["score_detector"].to_numpy()[rows] <= t["score_detector"].to_numpy()[i])
        # the injection's own entries are the best within the radius: the product of their ranks
        assert t["score_ens_prod"].to_numpy()[i] == pytest.approx(q_mf * q_det, abs=1e-12)
    either = (t["score_mf"] > 0) | (t["score_detector"] > 0)
    assert np.all(t["score_ens_prod"].to_numpy()[either] > 0)
    assert np.all(t["score_ens_learned"].to_numpy()[either] > 0)


def test_draw_positions_is_seeded_and_fails_when_the_footprint_is_full():
    fp = Footprint(10.0, 11.0, 0.0, 1.0)
    a = draw_positions(4, np.random.default_rng(1), fp, 5.0, np.zeros(0), np.zeros(0), 0.0, 10.0)
    b = draw_positions(4, np.random.default_rng(1), fp, 5.0, np.zeros(0), np.zeros(0), 0.0, 10.0)
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="holds only"):
        draw_positions(50, np.random.default_rng(1), fp, 5.0, np.zeros(0), np.zeros(0), 0.0, 20.0)


def _toy(n, rng, shift=0.0):
    """A toy finder: log-uniform M500c in 1e13-1e15, detected with p(M) = logistic in log10 M."""
    log_m = rng.uniform(13.0, 15.0, n)
    p = 1.0 / (1.0 + np.exp(-(log_m - 14.0 - shift) / 0.15))
    return 10**log_m, rng.uniform(0.1, 1.0, n), rng.random(n) < p


def test_completeness_recovers_a_known_detection_probability():
    m, z, det = _toy(20000, np.random.default_rng(5))
    m_edges, z_edges = np.logspace(13, 15, 11), np.array([0.1, 0.55, 1.0])
    n, k = comp.bin_counts(m, z, det, m_edges, z_edges)
    assert n.sum() == m.size and k.sum() == det.sum()
    c = comp.completeness_of(n, k, 0.68)
    # the bin average of p(M) for log-uniform masses
    fine = np.linspace(13, 15, 20001)
    p_fine = 1.0 / (1.0 + np.exp(-(fine - 14.0) / 0.15))
    truth = np.array(
        [
            p_fine[(fine >= a) & (fine < b)].mean()
            for a, b in zip(np.log10(m_edges[:-1]), np.log10(m_edges[1:]), strict=True)
        ]
    )
    pull = (c["p"] - truth) / np.sqrt(truth * (1 - truth) / n)
    assert np.sum(pull**2) < 40.0  # chi^2 of 20 bins; 0.999 quantile 45
    inside = (c["lower"] <= truth) & (truth <= c["upper"])
    assert inside.mean() >= 0.5  # 68 % intervals
    # a second sample of the same finder agrees; a finder 0.1 dex less sensitive does not
    m2, z2, det2 = _toy(20000, np.random.default_rng(6))
    same = comp.chi2_against_truth(n, k, *comp.bin_counts(m2, z2, det2, m_edges, z_edges), min_per_bin=5)
    assert same["p_value"] > 0.001
    m3, z3, det3 = _toy(20000, np.random.default_rng(6), shift=0.1)
    other = comp.chi2_against_truth(n, k, *comp.bin_counts(m3, z3, det3, m_edges, z_edges), min_per_bin=5)
    assert other["p_value"] < 1e-6


def test_best_score_within_the_radius():
    best = comp.best_score_within(
        [10.0, 10.5],
        [0.0, 0.0],
        [10.0, 10.0 + 0.9 / 60, 10.0 + 1.1 / 60],
        [0.0, 0.0, 0.0],
        [3.0, 7.0, 9.0],
        1.0,
    )
    np.testing.assert_array_equal(best, [7.0, 0.0])


def test_completeness_fits_round_trip(tmp_path):
    m_edges, z_edges = np.logspace(14, 15, 4), np.array([0.2, 0.6, 1.0])
    rng = np.random.default_rng(2)
    arrays = {
        q: rng.integers(0, 9, (2, 3)) if q.startswith(("N_", "TRUTH_N", "TRUTH_K")) else rng.random((2, 3))
        for q in (
            "COMPLETENESS",
            "LOWER",
            "UPPER",
            "N_INJECTED",
            "N_RECOVERED",
            "TRUTH_COMPLETENESS",
            "TRUTH_LOWER",
            "TRUTH_UPPER",
            "TRUTH_N",
            "TRUTH_K",
        )
    }
    arrays["COMPLETENESS"][0, 0] = np.nan
    grid = CompletenessGrid(m_edges, z_edges, {"mf": arrays}, {"mf": {"THRESH": (5.0, "SNR threshold")}})
    path = tmp_path / "completeness.fits"
    write_completeness(path, grid)
    back = read_completeness(path)
    np.testing.assert_allclose(back.m500c_edges, m_edges)
    np.testing.assert_allclose(back.z_edges, z_edges)
    for q, a in arrays.items():
        np.testing.assert_array_equal(back.methods["mf"][q], a)
    assert back.headers["mf"]["THRESH"][0] == 5.0
    with fits.open(path) as h:
        assert h["M500C"].columns["centre"].unit == "solMass"
        assert h["MF_N_INJECTED"].header["BUNIT"] == "count"
        assert h["MF_COMPLETENESS"].data.shape == (2, 3)
    first = path.read_bytes()
    write_completeness(path, grid)
    assert path.read_bytes() == first  # same inputs, same bytes
    with fits.open(path) as h:
        offset = h.fileinfo(len(h) - 1)["datLoc"]
    data = bytearray(first)
    data[offset + 3] ^= 0xFF  # inside the last image's data
    path.write_bytes(bytes(data))
    with pytest.raises(io.InputFileError, match="checksum"):
        read_completeness(path)


def test_mass_limit_interpolates_and_follows_the_noise():
    edges = np.array([1e14, 2e14, 4e14, 8e14])  # centres 1.41e14, 2.83e14, 5.66e14
    assert masslimit.mass_at_level(edges, np.array([0.5, 0.8, 1.0]), 0.9) == pytest.approx(
        10 ** (0.5 * (np.log10(np.sqrt(8e28)) + np.log10(np.sqrt(32e28)))), rel=1e-9
    )
    assert np.isnan(masslimit.mass_at_level(edges, np.array([0.1, 0.2, 0.3]), 0.9))
    # SNR = (M / 1e14)^1.5 / sigma: twice the noise needs 2^(1/1.5) the mass
    m = np.logspace(14, 15, 20)
    slope = masslimit.snr_slope(m, (m / 1e14) ** 1.5 / 2.0)
    assert slope == pytest.approx(1.5)
    np.testing.assert_allclose(
        masslimit.tile_limits(2e14, [1.0, 2.0], 1.0, slope), [2e14, 2e14 * 2 ** (1 / 1.5)]
    )
    assert masslimit.z_row(np.array([0.2, 0.4, 0.6]), 0.5) == 1
    with pytest.raises(ValueError, match="outside"):
        masslimit.z_row(np.array([0.2, 0.4]), 0.5)


def _main_catalogues(tmp_path, table, footprint, splits, thresholds: dict) -> dict:
    """Main-run files whose entries sit on the injections with their scores (the truth is the
    injections themselves), and a metrics.json with the given validation thresholds."""
    fp = Footprint.from_config(footprint)
    n = len(table)
    base = {
        "ra": table["ra"].to_numpy(),
        "dec": table["dec"].to_numpy(),
        "class": np.full(n, "cluster"),
        "split": split_of(table["ra"].to_numpy(), fp, splits),
    }
    paths = {"candidates": tmp_path / "candidates.parquet"}
    io.write_table(
        paths["candidates"],
        {"ra": base["ra"], "dec": base["dec"], "snr": table["score_mf"].to_numpy()},
        {"ra": "deg", "dec": "deg", "snr": ""},
    )
    zeros = np.zeros(n)
    extra = {
        "detector": {c: zeros for c in ("prob", "p_cluster", "p_radio", "p_dusty", "p_cluster_radio")}
        | {"pos_err_arcmin": zeros, "tile": np.zeros(n, int)}
        | {c: np.full(n, np.nan) for c in DETECTOR_MASS_COLUMNS},
        "ens_prod": {c: zeros for c in ENSEMBLE_COLUMNS} | {"found_by": np.full(n, "both")},
    }
    extra["ens_learned"] = extra["ens_prod"]
    for m in ("detector", "ens_prod", "ens_learned"):
        paths[m] = tmp_path / f"{m}.parquet"
        frame = pd.DataFrame({**base, **extra[m], "score": table[f"score_{m}"].to_numpy()})
        write_catalogue(frame, m, {"stage": "cmb_tsz", "config": {}}, paths[m].with_suffix(".fits"), paths[m])
    paths["metrics"] = tmp_path / "metrics.json"
    methods = {
        m: {
            "n_at_purity": {
                "qualifying": {"0.8": {"threshold": thresholds.get(m)}, "0.9": {"threshold": 99.0}}
            }
        }
        for m in ("mf", "detector", "ens_prod", "ens_learned")
    }
    paths["metrics"].write_text(
        json.dumps({"stage": "cmb_tsz", "match_radius_arcmin": 1.0, "methods": methods})
    )
    return paths


def _cutout_inputs(tmp_path, table, cfg) -> dict:
    """Main-run cutout files on the tiny patch: the cutouts holding the injections score high
    (CNN 0.9, MF SNR 10), every other one low, and each injection's classifier table gives it its
    cutout's scores (the truth is the injections themselves)."""
    sky, cc = cfg["sky"], cfg["cutouts"]
    paths = {"index": tmp_path / "index.parquet", "ensemble_scores": tmp_path / "scores.parquet"}
    index = write_index(paths["index"], sky["nside"], sky["footprint"], cc)
    rows = cutout_finders.injection_cutouts(
        index,
        CutoutGeometry.from_config(cc),
        cc["stride_arcmin"],
        cc["central_arcmin"],
        table["ra"],
        table["dec"],
    )
    assert np.sum(rows >= 0) >= 2  # some injections lie on the validation and test stripes
    ens = index[index["split"].isin(["validation", "test"])].reset_index(drop=True)
    hot = np.isin(ens["cutout_id"], index["cutout_id"].to_numpy()[rows[rows >= 0]])
    ens["cnn"], ens["mf"] = np.where(hot, 0.9, 0.05), np.where(hot, 10.0, 0.0)
    chosen = {
        "mf": {"threshold": 5.0},
        "cnn": {"threshold": 0.5},
        "prod": {"threshold": 0.5},
        "learned": {
            "threshold": 0.5,
            "intercept": -3.0,
            "weights": {"q_cnn": 0.0, "q_mf": 0.0, "q_cnn_q_mf": 6.0},
        },
        "and": {"threshold_mf": 5.0, "threshold_cnn": 0.5, "validation_f1": 1.0},
        "detector": {"threshold": 0.5},
    }
    paths["thresholds"] = tmp_path / "thresholds.json"
    paths["thresholds"].write_text(json.dumps({"stage": "cmb_tsz", "methods": chosen}))
    # Table 1's scores of each split, as rule ensembles writes them
    table1 = {"prod": np.zeros(len(ens)), "learned": np.zeros(len(ens)), "and_pos": np.zeros(len(ens), bool)}
    for part in ("validation", "test"):
        at = (ens["split"] == part).to_numpy()
        cnn, mf = ens["cnn"].to_numpy()[at], ens["mf"].to_numpy()[at]
        pred = predict(cnn, mf, chosen, detector=np.zeros(at.sum()))
        for c, v in table1.items():
            v[at] = pred[c]
    written = {c: ens[c].to_numpy() for c in ("cutout_id", "split", "cnn", "mf")} | table1
    io.write_table(paths["ensemble_scores"], written, {c: "" for c in written})
    has = rows >= 0
    split = index["split"].to_numpy()[rows[has]]
    scores = cutout_finders.cutout_method_scores(
        np.full(has.sum(), 0.9), np.full(has.sum(), 10.0), split, ens, chosen
    )
    columns = pipeline.classified_columns(table["injection_id"], rows, index["cutout_id"], scores)
    paths["classified"] = [tmp_path / "cutouts_0.parquet"]
    io.write_table(paths["classified"][0], columns, pipeline.CLASSIFIED_UNITS)
    paths["n_scored"] = int(has.sum())
    return paths


def test_summary_json_is_plain(tmp_path, injected_run):
    """run_selection_completeness on the batch, every method at a fixed threshold: counts add up;
    the EnsemblePROD at its lowest score (an OR of the two finders) is at least as complete as
    either; a method whose validation purity never reaches its level recovers nothing."""
    r = injected_run
    sky = r["cfg"]["sky"]
    table = r["table"]
    halos = r["out"].parent.parent / "halos_truth.parquet"
    io.write_table(
        halos,
        {
            "ra": table["ra"].to_numpy(),
            "dec": table["dec"].to_numpy(),
            "z": table["z"].to_numpy(),
            "m500c": table["m500c"].to_numpy(),
            "in_footprint": np.ones(N_INJECT, bool),
        },
        {"ra": "deg", "dec": "deg", "z": "", "m500c": "M_sun", "in_footprint": ""},
    )
    prod = table["score_ens_prod"].to_numpy()
    thresholds = {"detector": 0.1, "ens_prod": float(prod[prod > 0].min()), "ens_learned": None}
    files = _main_catalogues(tmp_path, table, sky["footprint"], r["cfg"]["cutouts"]["splits"], thresholds)
    cut = _cutout_inputs(tmp_path, table, r["cfg"])
    n_scored = cut.pop("n_scored")
    sel = dict(r["selection"], mf_snr_threshold=5.0, min_per_bin=1)
    cc = r["cfg"]["cutouts"]
    pipeline.run_selection_completeness(
        footprint=sky["footprint"],
        selection=sel,
        match_radius_arcmin=1.0,
        interval=0.68,
        injections=[r["out"]],
        halos=halos,
        completeness=tmp_path / "c.fits",
        summary=tmp_path / "s.json",
        cutouts={k: cc[k] for k in ("size_arcmin", "npix", "stride_arcmin", "central_arcmin")},
        **files,
        **cut,
    )
    summary = json.loads((tmp_path / "s.json").read_text())
    # the cutout classifiers count the injections of validation and test cutouts, and find all
    for m in ("cnn", "cut_and", "cut_prod", "cut_learned"):
        s = summary[m]
        assert s["injections"] == s["recovered"] == s["truth_halos"] == s["truth_found"] == n_scored, m
        assert s["chi2"] == 0.0
    for m in ("mf", "detector", "ens_prod"):
        s = summary[m]
        assert (
            s["injections"]
            == s["injections_in_grid"]
            == s["recovered"]
            == s["truth_halos"]
            == s["truth_found"]
            == N_INJECT
        ), m
        assert s["chi2"] == 0.0
    assert summary["ens_learned"]["threshold"] is None and summary["ens_learned"]["recovered"] == 0
    grid = read_completeness(tmp_path / "c.fits")
    assert list(grid.methods) == list(pipeline.METHODS)
    k = {m: grid.methods[m]["N_RECOVERED"] for m in pipeline.METHODS}
    assert np.all(k["ens_prod"] >= np.maximum(k["mf"], k["detector"]))
    assert grid.headers["detector"]["THRESH"][0] == 0.1 and "THRESH" not in grid.headers["ens_learned"]


def test_method_completeness_recovers_a_known_detection_probability():
    """One method's grid from toy scores (a detector with a known p(M)) and its truth comparison."""
    rng = np.random.default_rng(12)
    m, z, det = _toy(20000, rng)
    inj = pd.DataFrame({"m500c": m, "z": z})
    m2, z2, det2 = _toy(20000, rng)
    sky = pd.DataFrame({"m500c": m2, "z": z2})
    selection = {
        "grid": {"m500c_min": 1e13, "m500c_max": 1e15, "m500c_bins": 10, "z_edges": [0.1, 0.55, 1.0]},
        "min_per_bin": 5,
        "mass_sub_bins": 4,
    }
    score = np.where(det, 0.9, 0.02)  # a probability-like score above and below 0.5
    arrays, res = pipeline.method_completeness(
        inj, score, sky, np.where(det2, 0.8, 0.0), 0.5, selection, 0.68
    )
    fine = np.linspace(13, 15, 20001)
    p_fine = 1.0 / (1.0 + np.exp(-(fine - 14.0) / 0.15))
    edges = np.linspace(13, 15, 11)
    truth = np.array(
        [p_fine[(fine >= a) & (fine < b)].mean() for a, b in zip(edges[:-1], edges[1:], strict=True)]
    )
    n = arrays["N_INJECTED"]
    pull = (arrays["COMPLETENESS"] - truth) / np.sqrt(truth * (1 - truth) / n)
    assert np.sum(pull**2) < 45.0  # chi^2 of 20 bins; 0.999 quantile 45
    assert res["p_value"] > 0.001 and res["recovered"] == det.sum()
    _, none = pipeline.method_completeness(inj, score, sky, np.zeros(len(sky)), None, selection, 0.68)
    assert none["recovered"] == 0 and none["truth_found"] == 0


def test_healpix_mass_limit_map_holds_the_tile_values(tmp_path):
    fp = Footprint(10.0, 16.0, -2.0, 2.0)
    layout = make_layout(fp, 2.0, 0.5, 1.0)
    limits = 1e14 * (1.0 + 0.1 * np.arange(len(layout.tiles)))
    limits[1] = np.nan
    values = masslimit.healpix_map(64, layout.core_index, limits)
    path = tmp_path / "map.fits"
    write_mass_limit_map(path, values, {"ZREF": (0.5, "redshift")})
    back, header = hp.read_map(path, h=True, dtype=np.float64)
    header = dict(header)
    assert hp.get_nside(back) == 64 and header["TUNIT1"] == "solMass" and header["ZREF"] == 0.5
    for tile, lim in zip(layout.tiles, limits, strict=True):
        pix = hp.ang2pix(64, tile.ra0, tile.dec0, lonlat=True)
        assert back[pix] == (lim if np.isfinite(lim) else hp.UNSEEN)
    assert back[hp.ang2pix(64, 30.0, 0.0, lonlat=True)] == hp.UNSEEN  # outside the footprint
    seen = back != hp.UNSEEN
    assert 0 < seen.sum() < back.size and set(np.unique(back[seen])) <= set(limits[np.isfinite(limits)])


def test_config_checks_the_grid_and_the_mass_limit_redshift():
    from skyhunt.config import ConfigError, validate_config
    from tests.conftest import shipped_config

    cfg = shipped_config()
    cfg["selection"]["grid"]["m500c_min"] = 2e15
    cfg["selection"]["mass_limit"]["z"] = 2.0
    cfg["selection"]["study_batches"] = 1
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    msg = str(err.value)
    assert "selection.grid.m500c_min" in msg
    assert "selection.mass_limit.z" in msg
    assert "selection.batches" in msg


def test_mass_weights_remove_the_within_bin_mass_distribution():
    """One toy selection seen by log-uniform injections and by halos of a steep mass function:
    the bin averages differ (plain chi^2 fails), the weighted injections agree with the halos."""
    rng = np.random.default_rng(11)
    m_edges, z_edges = np.logspace(13.6, 14.4, 3), np.array([0.1, 1.0])  # bins of 0.4 dex

    def finder(log_m):
        return rng.random(log_m.size) < 1.0 / (1.0 + np.exp(-(log_m - 14.0) / 0.1))

    inj = rng.uniform(13.6, 14.4, 20000)
    # dn/dlog10 M ~ M^-2 between the grid's ends (inverse transform)
    u = rng.random(40000)
    a, b = 10.0 ** (-2 * 13.6), 10.0 ** (-2 * 14.4)
    halo = -0.5 * np.log10(a + u * (b - a))
    z_inj, z_halo = np.full(inj.size, 0.5), np.full(halo.size, 0.5)
    n1, k1 = comp.bin_counts(10**inj, z_inj, finder(inj), m_edges, z_edges)
    rec_halo = finder(halo)
    n2, k2 = comp.bin_counts(10**halo, z_halo, rec_halo, m_edges, z_edges)
    plain = comp.chi2_against_truth(n1, k1, n2, k2, min_per_bin=5)
    assert plain["p_value"] < 1e-6
    w = comp.mass_weights(10**inj, z_inj, 10**halo, z_halo, m_edges, z_edges, sub_bins=8)
    assert np.all(w >= 0) and w.sum() == pytest.approx(inj.size, rel=0.05)
    rec_inj = finder(inj)
    n_w, k_w = comp.weighted_counts(10**inj, z_inj, rec_inj, w, m_edges, z_edges)
    weighted = comp.chi2_against_truth(n_w, k_w, n2, k2, min_per_bin=5)
    assert weighted["dof"] == 2 and weighted["p_value"] > 0.001


def test_cutout_scores_on_the_main_runs_cutouts_are_table1s():
    """Given the main run's own cutouts, the selection's cutout scores are Table 1's: the rank
    product, the learned probability and the EnsembleAND decision of ``predict``, bit for bit;
    and a cutout scoring above every reference gets q = 1."""
    rng = np.random.default_rng(5)
    n = 400
    labels = rng.random(n) < 0.2
    cnn = np.clip(0.6 * labels + 0.5 * rng.random(n), 0.0, 1.0)
    mf = np.where(rng.random(n) < 0.5, 0.0, 3.0 + 5.0 * labels + 2.0 * rng.random(n))
    split = np.where(np.arange(n) < n // 2, "validation", "test")
    chosen = choose_thresholds(cnn[: n // 2], mf[: n // 2], labels[: n // 2], 1.0, detector=np.zeros(n // 2))
    reference = pd.DataFrame({"split": split, "cnn": cnn, "mf": mf})
    got = cutout_finders.cutout_method_scores(cnn, mf, split, reference, chosen)
    for part in ("validation", "test"):
        rows = split == part
        want = predict(cnn[rows], mf[rows], chosen, detector=np.zeros(rows.sum()))
        assert np.array_equal(got["cut_prod"][rows], want["prod"])
        assert np.array_equal(got["cut_learned"][rows], want["learned"])
        assert np.array_equal(got["cut_and"][rows] == 1.0, want["and_pos"])
        assert np.array_equal(got["cnn"][rows], cnn[rows])
    limits = cutout_finders.cutout_thresholds(chosen)
    assert limits["cnn"] == chosen["cnn"]["threshold"] and limits["cut_and"] == 1.0
    top = cutout_finders.cutout_method_scores([2.0], [99.0], ["test"], reference, chosen)
    assert top["cut_prod"][0] == 1.0 and top["cut_and"][0] == 1.0


def test_every_method_has_a_score_and_its_main_run_column():
    """The selection's catalogue methods are the catalogues, each with its score; each cutout
    method reads its main-run score from a column of rule ensembles' table."""
    assert tuple(methods.METHOD_SCORES) == CATALOGUES
    assert tuple(methods.CUTOUT_SCORES) == tuple(methods.CUTOUT_METHODS)
    assert list(cutout_finders.ENSEMBLE_SCORE_COLUMNS) == list(methods.CUTOUT_METHODS)
    assert set(cutout_finders.ENSEMBLE_SCORE_COLUMNS.values()) <= set(ENSEMBLE_SCORE_UNITS)


def test_classified_columns_scatter_the_scores_of_scored_injections():
    rows = np.array([2, -1, 0, 2])
    got = pipeline.classified_columns(
        [7, 8, 9, 10], rows, [100, 101, 102], {"cnn": np.array([0.5, 0.25, 0.75])}
    )
    np.testing.assert_array_equal(got["cutout_id"], [102, -1, 100, 102])
    np.testing.assert_array_equal(got["score_cnn"], [0.5, 0.0, 0.25, 0.75])
    np.testing.assert_array_equal(got["injection_id"], [7, 8, 9, 10])


def test_injected_cutout_snr_gives_a_detection_to_its_injection():
    """DeepSZ's matching on injected maps: a detection within the radius of an injection and of a
    more massive sky halo goes to the injection's cutout; one near no injection to its halo's."""
    index = pd.DataFrame(
        {
            "cutout_id": np.arange(4),
            "ra": [10.0, 10.1, 10.0, 10.1],
            "dec": [0.0, 0.0, 0.1, 0.1],
            "grid_row": [0, 0, 1, 1],
            "grid_col": [0, 1, 0, 1],
        }
    )
    geometry = CutoutGeometry(12.0, 16)
    halos = pd.DataFrame({"halo_id": [1, 2], "ra": [10.04, 10.1], "dec": [0.0, 0.1], "m_vir": [1e15, 1e14]})
    injections = pd.DataFrame({"ra": [10.055], "dec": [0.0]})
    # detection 0: 0.6' from the injection (held by cutout 1) and 0.3' from the heavier halo 1
    # (held by cutout 0); detection 1 on halo 2 (cutout 3)
    cand = pd.DataFrame({"ra": [10.045, 10.1], "dec": [0.0, 0.1], "snr": [7.0, 5.0]})
    index["split"] = "test"
    snr = cutout_finders.injected_cutout_snr(cand, halos, injections, index, geometry, 6.0, 1.0)
    np.testing.assert_array_equal(snr, [0.0, 7.0, 0.0, 5.0])
    # the main run's rule, without the injection: the detection is halo 1's
    main = cutout_snr(cand, halos, index, geometry, 6.0, 1.0)["snr"].to_numpy()
    np.testing.assert_array_equal(main, [7.0, 0.0, 0.0, 5.0])
