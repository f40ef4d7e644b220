"""Point sources in the matched filter: the residual noise model and detection in the maps (issue 14)."""

from __future__ import annotations

import copy
import dataclasses

import healpy as hp
import numpy as np
import pandas as pd
import pytest
import yaml

from skyhunt import io
from skyhunt.mf.pipeline import point_source_noise, run_matched_filter
from skyhunt.mf.pointsources import bright_sources, d3000, shot_noise_spectrum
from skyhunt.mf.psdetect import detect_sources
from skyhunt.mf.search import SearchInputs, search
from skyhunt.sky.components import component_rng, white_noise_sigma_uk
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.sources import (
    d3000_relative_scatter,
    draw_sources,
    expected_d3000,
    normalise_counts,
    paint_fluxes,
    paint_sources,
    uk_sr_per_mjy,
)

from .conftest import shipped_config
from .test_mf import beta_on_healpix, toy_cmb


@pytest.fixture(scope="module")
def cfg():
    return shipped_config()


def measured_cross_power(
    maps: np.ndarray, nside: int, pixels: np.ndarray, lmin: int, lmax: int
) -> np.ndarray:
    """Cross-spectra (nb, nb) of partial maps averaged over lmin..lmax, µK^2 sr.

    Each map's mean is removed first (it would leak through the patch's edges). The pixel
    window and the mask's coupling are calibrated on white-noise maps of known level on the
    same pixels (the pseudo-C_ell of a white spectrum stays white): the ratio of the mean
    pseudo-C_ell over the same multipoles.
    """
    rng = np.random.default_rng(0)
    n_white = 3
    nb = maps.shape[1]
    full = np.zeros((nb + n_white, hp.nside2npix(nside)))
    full[:nb, pixels] = (maps - maps.mean(axis=0)).T
    full[nb:, pixels] = rng.standard_normal((n_white, pixels.size))
    alm = [hp.map2alm(m, lmax=lmax, iter=0) for m in full]
    white = np.mean([np.mean(hp.alm2cl(a)[lmin : lmax + 1]) for a in alm[nb:]])
    calib = hp.nside2pixarea(nside) * np.mean(full[nb:, pixels] ** 2) / white
    out = np.empty((nb, nb))
    for i in range(nb):
        for j in range(i, nb):
            out[i, j] = out[j, i] = np.mean(hp.alm2cl(alm[i], alm[j])[lmin : lmax + 1]) * calib
    return out


def test_residual_model_is_the_power_of_the_sources_left(cfg):
    """D_3000 of the model equals what the painted residual sources put in the maps' spectrum."""
    sky = cfg["sky"]
    bands, nside = sky["bands"], 512
    fp = Footprint(10.0, 18.0, -4.0, 4.0)
    cat = draw_sources(sky["point_sources"], bands, fp, None, component_rng(5, "test_residual_sources"))
    bright = bright_sources(cat, bands, 2.0)
    residual = cat.drop(index=bright.index)
    pixels = fp.pixels(nside)

    def painted(sources):
        return np.stack(
            [sum(paint_sources(sources, p, b, nside, pixels) for p in ("radio", "ir")) for b in bands], axis=1
        )

    model_res, model_all = shot_noise_spectrum(residual, bands, fp), shot_noise_spectrum(cat, bands, fp)
    meas_res = measured_cross_power(painted(residual), nside, pixels, 150, 1200)
    meas_all = measured_cross_power(painted(cat), nside, pixels, 150, 1200)
    np.testing.assert_allclose(model_res, meas_res, rtol=0.08)
    np.testing.assert_allclose(model_all, meas_all, rtol=0.08)
    # the whole catalogue holds the populations' expected power (fitted to ps_d3000_uk2) ...
    amp = normalise_counts(sky["point_sources"], bands)
    expected = expected_d3000(sky["point_sources"], bands, amp)
    scatter = d3000_relative_scatter(sky["point_sources"], bands, amp, fp.area_deg2)
    assert np.all(np.abs(d3000(np.diag(model_all)) / expected - 1) < 4 * scatter)
    # ... and the sources left below 2 mJy 2-3 times less
    ratio = np.diag(model_all) / np.diag(model_res)
    np.testing.assert_allclose(ratio, np.diag(meas_all) / np.diag(meas_res), rtol=0.05)
    assert np.all(ratio > 1.8), ratio
    # the band correlation comes with it: 90 x 219 of the residual, measured
    corr = model_res[0, 2] / np.sqrt(model_res[0, 0] * model_res[2, 2])
    assert corr == pytest.approx(meas_res[0, 2] / np.sqrt(meas_res[0, 0] * meas_res[2, 2]), abs=0.03)


@pytest.fixture(scope="module")
def detect_patch(cfg):
    """A 1.5 x 1.5 deg patch at nside 8192: white noise, 12 sources of 2-50 mJy, a cluster apart."""
    sky = cfg["sky"]
    nside, bands = sky["nside"], sky["bands"]
    fp = Footprint(30.0, 31.5, 1.0, 2.5)
    pixels = fp.pixels(nside)
    rng = np.random.default_rng(7)
    noise = np.stack(
        [rng.standard_normal(pixels.size) * white_noise_sigma_uk(b["noise_uk_arcmin"], nside) for b in bands],
        axis=1,
    ).astype(np.float32)
    n = 12
    ra, dec = rng.uniform(30.2, 31.3, n), rng.uniform(1.2, 2.3, n)
    ra[0], dec[0] = 30.75 + 3.0 / 60.0, 1.75  # 3' from the cluster
    flux = np.exp(rng.uniform(np.log(2.0), np.log(50.0), (n, len(bands))))
    sources = np.stack(
        [paint_fluxes(ra, dec, flux[:, b], band, nside, pixels) for b, band in enumerate(bands)],
        axis=1,
    ).astype(np.float32)
    mf = copy.deepcopy(cfg["mf"])
    mf["noise"] = "maps"
    mf["point_sources"]["treatment"] = "detect"
    mf["tiles"].update(core_deg=0.75, overlap_deg=0.25, apodization_arcmin=3.0)
    mf["noise_ell_bin"] = 800.0  # the cluster search's annuli need a few modes each on these small tiles
    inp = SearchInputs(nside, fp, bands, None, mf, toy_cmb(), ["cmb", "tsz", "radio", "ir"])
    cluster = beta_on_healpix(nside, pixels, 30.75, 1.75, 1.0, 2e-4, bands).astype(np.float32)
    true_pix = hp.ang2pix(nside, ra, dec, lonlat=True)
    return {
        "inp": inp,
        "pixels": pixels,
        "noise": noise,
        "sources": sources,
        "cluster": cluster,
        "pix": true_pix,
        "flux": flux,
    }


def test_detect_finds_injected_sources_and_nothing_in_noise(detect_patch):
    p = detect_patch
    found, cleaned = detect_sources(p["noise"] + p["sources"], p["pixels"], p["inp"])
    for b, band in enumerate(p["inp"].bands):
        f = found[found["band"] == band["name"]]
        assert len(f) == len(p["pix"])  # every source once, no false ones
        pix = hp.ang2pix(p["inp"].nside, f["ra"].to_numpy(), f["dec"].to_numpy(), lonlat=True)
        order = np.argsort(pix)
        ref = np.argsort(p["pix"])
        np.testing.assert_array_equal(pix[order], p["pix"][ref])  # in the source's own pixel
        # flux to 5 sigma of one pixel's noise (a source is one pixel without a beam)
        sigma_mjy = white_noise_sigma_uk(band["noise_uk_arcmin"], p["inp"].nside) / (
            uk_sr_per_mjy(band["freq_ghz"]) / hp.nside2pixarea(p["inp"].nside)
        )
        np.testing.assert_allclose(
            f["flux_mjy"].to_numpy()[order], p["flux"][ref, b], rtol=0, atol=5 * sigma_mjy
        )
        assert np.all(f["snr"] >= 5.0)
    # what is left is the noise, to a few per cent of the sources' peak
    assert np.max(np.abs(cleaned - p["noise"])) < 0.03 * np.max(p["sources"])
    none, untouched = detect_sources(p["noise"], p["pixels"], p["inp"])
    assert len(none) == 0
    np.testing.assert_array_equal(untouched, p["noise"])


def test_detect_leaves_clusters(detect_patch):
    """A cluster decrement (and its filtered ring) is no source; the cluster's SNR survives the cleaning."""
    p = detect_patch
    inp = p["inp"]
    maps = p["noise"] + p["sources"] + p["cluster"]
    found, cleaned = detect_sources(maps, p["pixels"], inp)
    d = np.hypot((found["ra"] - 30.75) * np.cos(np.radians(1.75)), found["dec"] - 1.75) * 60.0
    assert np.all((d > 2.5) | (d < 0))  # nothing at the cluster; the source 3' away is found in all bands
    assert np.sum(np.abs(d - 3.0) < 0.3) == len(inp.bands)

    model = dataclasses.replace(inp, mf_cfg={**inp.mf_cfg, "noise": "model"})  # the same filter for both

    def cluster_snr(m):
        cand = search(m, p["pixels"], model)
        dd = np.hypot((cand["ra"] - 30.75) * np.cos(np.radians(1.75)), cand["dec"] - 1.75) * 60.0
        return float(cand["snr"][dd < 1.0].max())

    clean = cluster_snr(p["noise"] + p["cluster"])
    assert clean > 10.0
    assert cluster_snr(cleaned) == pytest.approx(clean, rel=0.02)


@pytest.mark.parametrize("action", ["subtract", "mask"])
def test_detect_step_runs_without_the_catalogue(cfg, detect_patch, tmp_path, action):
    """The MF step with treatment detect takes no catalogue, and writes the sources it found."""
    from astropy.table import Table

    p = detect_patch
    mf = copy.deepcopy(p["inp"].mf_cfg)
    mf["point_sources"]["detect"]["action"] = action
    inp = dataclasses.replace(p["inp"], mf_cfg=mf)
    maps = []
    for b, band in enumerate(inp.bands):
        maps.append(tmp_path / f"dust_{band['name']}.fits")
        io.write_partial_map(maps[-1], p["pixels"], p["noise"][:, b] + p["sources"][:, b], inp.nside)
    Table({"ell": np.arange(10001), "cl_tt": toy_cmb()}).write(tmp_path / "cmb.ecsv", format="ascii.ecsv")
    fp = inp.footprint
    run_matched_filter(
        nside=inp.nside,
        footprint={"ra_min": fp.ra_min, "ra_max": fp.ra_max, "dec_min": fp.dec_min, "dec_max": fp.dec_max},
        bands=inp.bands,
        point_sources=cfg["sky"]["point_sources"],
        mf=inp.mf_cfg,
        components=inp.components,
        stage="dust",
        maps=maps,
        spectrum=tmp_path / "cmb.ecsv",
        candidates=tmp_path / "candidates.parquet",
        removed_sources=tmp_path / "point_sources.parquet",
    )
    found, units = io.read_table(tmp_path / "point_sources.parquet")
    assert units["flux_mjy"] == "mJy"
    assert sorted(found["band"].unique()) == sorted(b["name"] for b in inp.bands)
    assert len(found) == len(p["pix"]) * len(inp.bands)
    # the cluster search ran on the cleaned maps, or with holes at the sources found
    cand = io.read_table(tmp_path / "candidates.parquet")[0]
    if action == "subtract":
        expected = search(detect_sources(p["noise"] + p["sources"], p["pixels"], inp)[1], p["pixels"], inp)
    else:
        holes = (found["ra"].to_numpy(), found["dec"].to_numpy())
        expected = search(p["noise"] + p["sources"], p["pixels"], dataclasses.replace(inp, holes=holes))
    np.testing.assert_array_equal(
        cand["snr"].to_numpy(), expected["snr"].to_numpy().astype(cand["snr"].dtype)
    )


def test_detect_workflow_does_not_need_the_catalogue(tmp_path):
    import subprocess
    import sys

    from .conftest import REPO

    (tmp_path / "config.yaml").write_text((REPO / "config.yaml").read_text())

    def matched_filter_inputs(*config):
        cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile")]
        cmd += [
            "--directory",
            str(tmp_path),
            "--cores",
            "1",
            *config,
            "--",
            "results/mf/dust/candidates.parquet",
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        lines = (proc.stdout + proc.stderr).splitlines()
        start = lines.index("rule matched_filter:")
        return next(line for line in lines[start:] if line.strip().startswith("input:"))

    assert "results/sky/sources.parquet" in matched_filter_inputs()
    detect = matched_filter_inputs("--config", "mf={point_sources: {treatment: detect}, noise: maps}")
    assert "sources.parquet" not in detect
    assert "results/sky/observed/dust_219.fits" in detect


def test_config_rules_of_the_point_source_treatments(cfg):
    from skyhunt.config import ConfigError, validate_config

    from .conftest import REPO

    raw = yaml.safe_load((REPO / "config.yaml").read_text())
    detect = copy.deepcopy(raw)
    detect["mf"]["point_sources"]["treatment"] = "detect"
    with pytest.raises(ConfigError, match="'mf.noise': expected maps with mf.point_sources.treatment detect"):
        validate_config(detect)
    detect["mf"]["noise"] = "maps"
    assert validate_config(detect)["mf"]["point_sources"]["detect"]["snr_min"] == 5.0


def test_catalogue_model_without_sources_fails_naming_the_key(cfg):
    sky = cfg["sky"]
    empty = pd.DataFrame({c: [] for c in ["ra", "dec", *[f"flux_{b['name']}_mjy" for b in sky["bands"]]]})
    fp = Footprint.from_config(sky["footprint"])
    with pytest.raises(ValueError, match="mf.noise_model.point_sources: config"):
        point_source_noise(empty, empty, sky["bands"], sky["point_sources"], cfg["mf"], fp)
    cl = point_source_noise(
        empty,
        empty,
        sky["bands"],
        sky["point_sources"],
        dict(cfg["mf"], noise_model={"point_sources": "config"}),
        fp,
    )
    np.testing.assert_allclose(d3000(np.diag(cl)), [b["ps_d3000_uk2"] for b in sky["bands"]])
