"""Matched filter: injection and recovery, noise statistics, bands, point sources, side-lobes, matching."""

from __future__ import annotations

import copy

import healpy as hp
import numpy as np
import pandas as pd
import pytest
import scipy.fft
import scipy.special

from skyhunt import io
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.cutouts.grid import CutoutGeometry, make_grid
from skyhunt.mf import noise, templates
from skyhunt.mf.filter import FlatGrid, MatchedFilter, gaussian_realisation
from skyhunt.mf.matching import completeness, cutout_snr, match_halos
from skyhunt.mf.peaks import find_groups, suppress_sidelobes
from skyhunt.mf.pipeline import run_match_mf
from skyhunt.mf.pointsources import bright_sources, subtract_sources
from skyhunt.mf.search import SearchInputs, search, sz_vector, tile_filter, tile_maps, tile_spectra
from skyhunt.mf.tiles import make_layout
from skyhunt.sky.components import white_noise_sigma_uk
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.sources import paint_sources

from .conftest import shipped_config

ARCMIN = np.pi / (180.0 * 60.0)


def toy_cmb(lmax: int = 10000) -> np.ndarray:
    """A CMB-like C_ell (µK^2): D_ell ~ 2500 µK^2 at the first peak, damped beyond ell ~ 2000."""
    ell = np.arange(lmax + 1, dtype=float)
    cl = np.zeros_like(ell)
    d = 2500.0 * np.exp(-((ell[2:] / 1800.0) ** 2)) + 2500.0 * (ell[2:] / 200.0) ** 2 / (
        1 + (ell[2:] / 200.0) ** 2
    )
    cl[2:] = d * np.exp(-((ell[2:] / 2500.0) ** 2)) * 2 * np.pi / (ell[2:] * (ell[2:] + 1))
    return cl


@pytest.fixture(scope="module")
def cfg():
    return shipped_config()


def flat_setup(cfg, bands=None, n=384, scales=None, cmb=True):
    """Flat filter with CMB + white noise and no transfer functions."""
    bands = bands or cfg["sky"]["bands"]
    grid = FlatGrid(n, n, 0.25)
    ell = grid.ell()
    ncfg = {"ksz_d3000_uk2": 0.0, "sz_background_d3000_uk2": 0.0, "sz_background_ref_ghz": 90.0}
    cl = toy_cmb() if cmb else np.zeros(3)
    sky = noise.sky_terms(ell, cl, bands, None, ncfg, ["cmb"])
    inst = noise.instrument_noise(ell, bands, cfg["sky"]["noise"], cfg["sky"]["nside"])
    nmat = noise.model_spectra(
        noise.beamed_sky(sky, np.ones((len(bands), *ell.shape))), inst, np.ones(ell.shape)
    )
    scales = np.asarray(scales if scales is not None else cfg["mf"]["core_radii_arcmin"])
    bank = np.stack([templates.beta_model_ft(ell, s) for s in scales])
    signal = bank[:, None] * sz_vector(bands)[None, :, None, None]
    return grid, nmat, MatchedFilter(grid, nmat, signal), bank


def inject(grid, template_ft, y0, f_b, iy, ix):
    """Cluster maps (nb, ny, nx) of central y ``y0`` centred at fractional pixel (iy, ix)."""
    ky, kx = grid.wavenumbers()
    p = grid.pixel_rad
    phase = np.exp(-1j * (ky * iy * p + kx * ix * p))
    t = scipy.fft.irfft2(template_ft / p**2 * phase, s=(grid.ny, grid.nx))
    return y0 * f_b[:, None, None] * t[None]


def test_injection_recovery_flat(cfg):
    grid, nmat, mf, bank = flat_setup(cfg)
    f_b = sz_vector(cfg["sky"]["bands"])
    rng = np.random.default_rng(1)
    # on a pixel centre the peak pixel sees the full SNR; off-centre only the position is checked
    # (the pixel nearest a sharp peak sees less: a 0.5' core loses ~10 % a third of a pixel away)
    for scale, (iy, ix) in [
        (1, (190.0, 201.0)),
        (3, (190.0, 201.0)),
        (7, (190.0, 201.0)),
        (1, (190.3, 201.6)),
        (3, (170.7, 160.2)),
    ]:
        y0 = 80.0 * mf.sigma[scale]
        maps = gaussian_realisation(grid, nmat, rng) + inject(grid, bank[scale], y0, f_b, iy, ix)
        snr = mf.snr(scipy.fft.rfft2(maps, axes=(-2, -1)))
        g = find_groups(snr, 5.0, centroid_fraction=cfg["mf"]["detection"]["centroid_fraction"])
        best = np.argmax(g["snr"])
        dist = np.hypot(g["iy"][best] - iy, g["ix"][best] - ix) * grid.pixel_arcmin
        assert dist < 0.5
        assert abs(g["scale"][best] - scale) <= 1
        if iy == int(iy):
            assert abs(g["snr"][best] / 80.0 - 1.0) < 0.05
            assert snr[scale, int(iy), int(ix)] * mf.sigma[scale] == pytest.approx(y0, rel=0.05)


def test_noise_only_statistics(cfg):
    grid, nmat, mf, _ = flat_setup(cfg, n=512)
    rng = np.random.default_rng(2)
    snrs = [mf.snr(scipy.fft.rfft2(gaussian_realisation(grid, nmat, rng), axes=(-2, -1))) for _ in range(3)]
    snr = np.concatenate(snrs, axis=1)  # (scales, 3 * ny, nx)
    assert np.all(np.abs(snr.mean(axis=(1, 2))) < 0.03)
    assert np.all(np.abs(snr.std(axis=(1, 2)) - 1.0) < 0.03)
    # excursion sets: Euler characteristic density of a 2-D unit Gaussian field,
    # lambda nu exp(-nu^2 / 2) / (2 pi)^(3/2) per unit area, lambda = var of a gradient component
    s = 1
    area = snr.shape[1] * snr.shape[2]
    for nu, check in ((3.5, "compare"), (5.0, "none")):
        observed = sum(find_groups(m[s : s + 1], nu)["snr"].size for m in snrs)
        lam = np.mean([np.var(np.gradient(m[s], axis=1)) for m in snrs])
        expected = area * lam * nu * np.exp(-(nu**2) / 2) / (2 * np.pi) ** 1.5
        if check == "compare":
            assert expected > 20
            assert abs(observed - expected) < 4 * np.sqrt(expected)
        else:
            assert expected < 0.5
            assert observed <= 2


def test_219_band_removes_cmb(cfg):
    bands3 = cfg["sky"]["bands"]
    bands2 = bands3[:2]
    scales = [2.5]
    g3, n3, mf3, bank = flat_setup(cfg, bands3, scales=scales)
    g2, n2, mf2, _ = flat_setup(cfg, bands2, scales=scales)
    assert mf3.sigma[0] < 0.9 * mf2.sigma[0]  # analytic: the SZ-null band measures the CMB
    rng = np.random.default_rng(3)
    maps3 = gaussian_realisation(g3, n3, rng)
    f = sz_vector(bands3)
    f[2] = 0.0  # the cluster signal is absent from the 219 GHz map
    y0 = 10 * mf2.sigma[0]
    maps3 = maps3 + inject(g3, bank[0], y0, f, 192.0, 192.0)
    s3 = mf3.snr(scipy.fft.rfft2(maps3, axes=(-2, -1)))[0, 192, 192]
    s2 = mf2.snr(scipy.fft.rfft2(maps3[:2], axes=(-2, -1)))[0, 192, 192]
    assert s3 > s2 + 2.0


def beta_on_healpix(nside, pixels, ra0, dec0, core_arcmin, y0, bands):
    """A beta-model cluster sampled at HEALPix pixel centres, µK per band, shape (npix, nb)."""
    vec0 = hp.ang2vec(ra0, dec0, lonlat=True)
    theta = np.arccos(np.clip(np.stack(hp.pix2vec(nside, pixels), axis=1) @ vec0, -1, 1))
    prof = y0 / (1.0 + (theta / (core_arcmin * ARCMIN)) ** 2)
    return prof[:, None] * sz_vector(bands)[None, :]


def one_radio_source(ra: float, dec: float) -> pd.DataFrame:
    """A source catalogue of one radio source at (ra, dec) in degrees: 6.0/4.7/3.9 mJy at 90/148/219 GHz."""
    return pd.DataFrame(
        {
            "source_id": [0],
            "ra": [ra],
            "dec": [dec],
            "population": ["radio"],
            "host_halo_id": [-1],
            "spectral_index": [-0.5],
            "flux_090_mjy": [6.0],
            "flux_148_mjy": [4.7],
            "flux_219_mjy": [3.9],
        }
    )


@pytest.fixture(scope="module")
def healpix_patch(cfg):
    """A 1.2 x 1.2 deg patch at nside 8192: white noise, a cluster at the centre, a radio source on it."""
    sky = copy.deepcopy(cfg["sky"])
    nside = sky["nside"]
    fp = Footprint(20.0, 21.2, 2.0, 3.2)
    pixels = fp.pixels(nside)
    rng = np.random.default_rng(4)
    bands = sky["bands"]
    noise_maps = np.stack(
        [rng.standard_normal(pixels.size) * white_noise_sigma_uk(b["noise_uk_arcmin"], nside) for b in bands],
        axis=1,
    )
    ra0, dec0 = 20.6, 2.6
    mf = copy.deepcopy(cfg["mf"])
    mf["tiles"].update(core_deg=0.6, overlap_deg=0.25, apodization_arcmin=3.0)
    ps_cl = noise.config_point_sources(bands, sky["point_sources"])
    inp = SearchInputs(nside, fp, bands, ps_cl, mf, toy_cmb(), ["cmb", "tsz", "radio"])
    # one pass to learn the filter noise at 1' core, then a cluster of SNR ~ 25
    layout = make_layout(fp, 0.6, 0.25, 0.25)
    grid = FlatGrid(layout.npix, layout.npix, 0.25)
    signal, nmat = tile_spectra(inp, grid, dec0)
    sigma = MatchedFilter(grid, nmat, signal).sigma
    y0 = 25.0 * sigma[3]
    cluster = beta_on_healpix(nside, pixels, ra0, dec0, 1.0, y0, bands).astype(np.float32)
    src = one_radio_source(ra0, dec0)
    source_maps = np.stack([paint_sources(src, "radio", b, nside, pixels) for b in bands], axis=1)
    return {
        "inp": inp,
        "pixels": pixels,
        "noise": noise_maps.astype(np.float32),
        "cluster": cluster,
        "source": source_maps.astype(np.float32),
        "src": src,
        "sigma": sigma,
        "ra0": ra0,
        "dec0": dec0,
    }


def _near(cand, ra0, dec0, radius_arcmin):
    d = np.hypot((cand["ra"] - ra0) * np.cos(np.radians(dec0)), cand["dec"] - dec0) * 60.0
    return cand[d < radius_arcmin]


def test_injection_recovery_healpix_tiles(healpix_patch):
    """Through HEALPix interpolation, tiles (cluster on the corner of 4 cores) and the window model."""
    hpx = healpix_patch
    cand = search(hpx["noise"] + hpx["cluster"], hpx["pixels"], hpx["inp"])
    near = _near(cand, hpx["ra0"], hpx["dec0"], 5.0)
    assert len(near) == 1  # found once although it sits on the corner of four tile cores
    row = near.iloc[0]
    assert (
        np.hypot((row["ra"] - hpx["ra0"]) * np.cos(np.radians(hpx["dec0"])), row["dec"] - hpx["dec0"]) * 60
        < 0.5
    )
    assert row["snr"] == pytest.approx(25.0, rel=0.05)
    assert abs(row["scale_index"] - 3) <= 1


def _snr_at(hpx, maps):
    """Max over scales of the SNR maps at the cluster's pixel (the tile holding it)."""
    inp = hpx["inp"]
    layout = make_layout(inp.footprint, 0.6, 0.25, 0.25)
    tile = layout.tiles[layout.core_index(np.array([hpx["ra0"]]), np.array([hpx["dec0"]]))[0]]
    interp = PatchInterpolator(inp.nside, hpx["pixels"])
    tmaps, weight = tile_maps(layout, tile, interp, np.ascontiguousarray(maps), inp)
    maps_k = scipy.fft.rfft2(tmaps, axes=(-2, -1))
    mf = tile_filter(inp, FlatGrid(layout.npix, layout.npix, 0.25), tile.dec0, maps_k, weight, {})
    iy, ix = (int(round(float(v))) for v in layout.pixel_of(tile, hpx["ra0"], hpx["dec0"]))
    return float(mf.snr(maps_k)[:, iy, ix].max())


def test_point_source_lowers_snr_unless_subtracted(healpix_patch):
    hpx = healpix_patch
    inp = hpx["inp"]
    clean_maps = hpx["noise"] + hpx["cluster"]
    dirty_maps = clean_maps + hpx["source"]
    snr_clean = _snr_at(hpx, clean_maps)
    assert snr_clean == pytest.approx(25.0, rel=0.05)
    # a 6 mJy radio source (at 90 GHz) fills the decrement: the cluster is lost
    assert _snr_at(hpx, dirty_maps) < 0.5 * snr_clean
    bright = bright_sources(hpx["src"], inp.bands, 2.0)
    assert len(bright) == 1
    sub_maps = subtract_sources(dirty_maps.copy(), hpx["pixels"], inp.nside, bright, inp.bands, ["radio"])
    assert np.max(np.abs(sub_maps - clean_maps)) < 1e-3 * np.max(hpx["source"])
    assert _snr_at(hpx, sub_maps) == pytest.approx(snr_clean, rel=1e-3)
    # a stage without radio sources must not have them subtracted
    untouched = subtract_sources(dirty_maps.copy(), hpx["pixels"], inp.nside, bright, inp.bands, ["ir"])
    np.testing.assert_array_equal(untouched, dirty_maps)


def test_sidelobes_of_bright_cluster_suppressed(cfg):
    grid, nmat, mf, _ = flat_setup(cfg, n=384)
    f_b = sz_vector(cfg["sky"]["bands"])
    # a bright compact Arnaud cluster (theta500 = 1'), which the beta-model bank does not match exactly
    arnaud = templates.arnaud_ft(grid.ell(), 1.0, 5.0)
    unit = mf.snr(scipy.fft.rfft2(inject(grid, arnaud, 1.0, f_b, 192.0, 192.0), axes=(-2, -1))).max()
    noise_maps = gaussian_realisation(grid, nmat, np.random.default_rng(5))

    def groups(maps):
        g = find_groups(mf.snr(scipy.fft.rfft2(maps, axes=(-2, -1))), 3.0)
        return g, np.hypot(g["iy"] - 192.0, g["ix"] - 192.0) * grid.pixel_arcmin

    g0, r0 = groups(noise_maps)
    g, r = groups(noise_maps + inject(grid, arnaud, 100.0 / unit, f_b, 192.0, 192.0))
    brightest = np.argmax(g["snr"])
    assert r[brightest] < 0.5 and g["snr"][brightest] > 90
    others = (r < 6.0) & (np.arange(r.size) != brightest)
    assert others.sum() > np.sum(r0 < 6.0)  # the filtered bright cluster rings above threshold
    keep = suppress_sidelobes(g["ix"] * 0.25, g["iy"] * 0.25, g["snr"], 6.0, 0.2)
    assert keep[brightest]
    assert not np.any(keep & others)
    # order independence of the suppression
    perm = np.random.default_rng(6).permutation(g["snr"].size)
    keep_p = suppress_sidelobes(g["ix"][perm] * 0.25, g["iy"][perm] * 0.25, g["snr"][perm], 6.0, 0.2)
    np.testing.assert_array_equal(keep_p, keep[perm])


def test_matching_order_independent(cfg):
    fp = Footprint(0.0, 2.0, 0.0, 2.0)
    geometry = CutoutGeometry(8.0, 32)
    grid = make_grid(fp, geometry, 6.0, 1.0)
    index = pd.DataFrame(
        {
            "cutout_id": np.arange(len(grid)),
            "ra": grid.ra,
            "dec": grid.dec,
            "grid_row": grid.row,
            "grid_col": grid.col,
            "split": "train",
        }
    )
    rng = np.random.default_rng(7)
    nh = 400
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(nh) + 100,
            "ra": rng.uniform(0.1, 1.9, nh),
            "dec": rng.uniform(0.1, 1.9, nh),
            "z": rng.uniform(0.1, 1.0, nh),
            "m_vir": 10 ** rng.uniform(13.5, 15, nh),
            "in_footprint": np.ones(nh, bool),
        }
    )
    # detections: two per halo for some (scatter 0.4'), plus random ones
    k = rng.choice(nh, 150)
    det = pd.DataFrame(
        {
            "ra": np.concatenate(
                [halos["ra"].to_numpy()[k] + rng.normal(0, 0.4 / 60, 150), rng.uniform(0.1, 1.9, 80)]
            ),
            "dec": np.concatenate(
                [halos["dec"].to_numpy()[k] + rng.normal(0, 0.4 / 60, 150), rng.uniform(0.1, 1.9, 80)]
            ),
            "snr": np.round(rng.uniform(3, 20, 230), 1),  # rounded: ties must be resolved order-independently
        }
    )
    ref = cutout_snr(det, halos, index, geometry, 6.0, 1.0)
    for seed in range(3):
        perm = np.random.default_rng(seed).permutation(len(det))
        hperm = np.random.default_rng(seed + 10).permutation(nh)
        out = cutout_snr(det.iloc[perm], halos.iloc[hperm].reset_index(drop=True), index, geometry, 6.0, 1.0)
        pd.testing.assert_frame_equal(out, ref)
    matched = ref["halo_id"].to_numpy()
    matched = matched[matched >= 0]
    assert matched.size == np.unique(matched).size  # every matched halo in at most one cutout
    assert (ref["snr"] > 0).sum() > 50
    # the most massive halo within the radius wins
    rows = match_halos(det["ra"], det["dec"], halos, 1.0)
    d = det.iloc[0]
    sep = np.hypot((halos["ra"] - d["ra"]) * np.cos(np.radians(d["dec"])), halos["dec"] - d["dec"]) * 60
    close = halos[sep < 1.0]
    assert halos.iloc[rows[0]]["halo_id"] == close.loc[close["m_vir"].idxmax(), "halo_id"]
    comp = completeness(det, halos, 2e14, 0.25, 1.0, [3.0, 10.0])
    assert comp["completeness"].iloc[0] >= comp["completeness"].iloc[1]
    assert comp["n_unmatched"].iloc[0] <= 80


def test_match_mf_inputs_without_a_needed_column_fail_naming_the_file(cfg, tmp_path):
    """A halo table without m_vir or a candidate table without snr is named with the column, not a
    bare KeyError from inside the matching."""
    grid = make_grid(Footprint(0.0, 1.0, 0.0, 1.0), CutoutGeometry.from_config(cfg["cutouts"]), 6.0, 1.0)
    index = {"cutout_id": np.arange(len(grid)), "ra": grid.ra, "dec": grid.dec, "grid_row": grid.row}
    index |= {"grid_col": grid.col, "split": np.full(len(grid), "test")}
    io.write_table(tmp_path / "index.parquet", index, {})
    position = {"ra": grid.ra[:3], "dec": grid.dec[:3]}
    io.write_table(tmp_path / "halos.parquet", position | {"halo_id": np.arange(3), "z": np.full(3, 0.5)}, {})
    io.write_table(tmp_path / "candidates.parquet", position | {"snr": np.full(3, 6.0)}, {})
    io.write_table(tmp_path / "no_snr.parquet", position, {})
    files = {n: tmp_path / f"{n}.parquet" for n in ("candidates", "halos", "index")}
    keys = {
        "cutouts": cfg["cutouts"],
        "matching": cfg["mf"]["matching"],
        "cutout_snr_table": tmp_path / "out.parquet",
    }
    with pytest.raises(io.InputFileError, match=r"halos\.parquet lacks columns \['m_vir'\]"):
        run_match_mf(**keys, **files)
    with pytest.raises(io.InputFileError, match=r"no_snr\.parquet lacks columns \['snr'\]"):
        run_match_mf(**keys, **(files | {"candidates": tmp_path / "no_snr.parquet"}))
    assert not (tmp_path / "out.parquet").exists()


def beamed_beta_on_healpix(nside, pixels, ra0, dec0, core_arcmin, y0, bands, fwhm_arcmin):
    """A beta-model cluster convolved with a Gaussian beam (inverse Hankel transform), µK per band."""
    ell = np.concatenate([np.geomspace(1e-3, 10.0, 400), np.arange(10.0, 40000.0, 4.0)])
    kernel = (
        templates.beta_model_ft(ell, core_arcmin)
        * hp.gauss_beam(fwhm_arcmin * ARCMIN, 40000)[np.rint(ell).astype(int)]
    )
    theta_tab = np.linspace(0.0, 60.0 * ARCMIN, 1500)
    prof_tab = np.trapezoid(kernel * ell * scipy.special.j0(np.outer(theta_tab, ell)), ell, axis=1) / (
        2 * np.pi
    )
    vec0 = hp.ang2vec(ra0, dec0, lonlat=True)
    theta = np.arccos(np.clip(np.stack(hp.pix2vec(nside, pixels), axis=1) @ vec0, -1, 1))
    return y0 * np.interp(theta, theta_tab, prof_tab)[:, None] * sz_vector(bands)[None, :]


def test_beamed_cluster_recovered_at_its_y0(healpix_patch):
    """Bands with a 1.4' beam: the filter's templates carry b_ell, so the beamed cluster gives its y0."""
    hpx = healpix_patch
    inp = copy.deepcopy(hpx["inp"])
    for band in inp.bands:
        band["beam_fwhm_arcmin"] = 1.4
    layout = make_layout(inp.footprint, 0.6, 0.25, 0.25)
    grid = FlatGrid(layout.npix, layout.npix, 0.25)
    signal, nmat = tile_spectra(inp, grid, hpx["dec0"])
    sigma = MatchedFilter(grid, nmat, signal).sigma
    assert sigma[3] > 1.05 * hpx["sigma"][3]  # the beam costs sensitivity: the transfer is in the filter
    y0 = 25.0 * sigma[3]
    cluster = beamed_beta_on_healpix(
        inp.nside, hpx["pixels"], hpx["ra0"], hpx["dec0"], 1.0, y0, inp.bands, 1.4
    ).astype(np.float32)
    cand = search(hpx["noise"] + cluster, hpx["pixels"], inp)
    near = _near(cand, hpx["ra0"], hpx["dec0"], 5.0)
    assert len(near) == 1
    row = near.iloc[0]
    assert row["scale_index"] == 3
    assert row["snr"] * sigma[3] == pytest.approx(y0, rel=0.06)


def test_beamed_source_subtracted_without_residual(healpix_patch, tmp_path):
    """Bands with beams (a Gaussian, a table, none): subtraction paints the source as it was painted."""
    hpx = healpix_patch
    table = tmp_path / "beam_148.txt"
    bl = hp.gauss_beam(1.0 * ARCMIN, 40000)
    np.savetxt(table, np.column_stack([np.arange(bl.size), bl]))
    bands = copy.deepcopy(hpx["inp"].bands)
    bands[0]["beam_fwhm_arcmin"] = 1.6
    bands[1]["beam_file"] = str(table)
    bands[2]["beam_fwhm_arcmin"] = 0.0
    nside, pixels = hpx["inp"].nside, hpx["pixels"]
    source_maps = np.stack(
        [paint_sources(hpx["src"], "radio", b, nside, pixels) for b in bands], axis=1
    ).astype(np.float32)
    assert np.count_nonzero(source_maps[:, 0]) > 20 and np.count_nonzero(source_maps[:, 2]) == 1
    dirty = hpx["noise"] + source_maps
    sub = subtract_sources(dirty.copy(), pixels, nside, hpx["src"], bands, ["radio"])
    assert np.max(np.abs(sub - hpx["noise"])) < 1e-3 * np.max(source_maps)
