"""Cutouts: projection, orientation, interpolation, grid, labels, splits, adjacency, I/O."""

from __future__ import annotations

import healpy as hp
import numpy as np
import pandas as pd
import pytest
from astropy.wcs import WCS

from skyhunt import io
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.grid import (
    ARCMIN,
    CutoutGeometry,
    edge_margin_arcmin,
    interpolation_reach_arcmin,
    make_grid,
    recut_centres,
    standard_grid,
    tan_deproject,
    tan_project,
)
from skyhunt.cutouts.labels import central_holding_cutout, holding_cutout, label_cutouts, training_drops
from skyhunt.cutouts.layout import assign_splits
from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.sky.footprint import Footprint

from .conftest import small_config

GEO = CutoutGeometry(8.0, 32)


def test_tan_matches_astropy_wcs():
    ra0, dec0 = 40.0, 55.0
    w = WCS(naxis=2)
    w.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    w.wcs.crval = [ra0, dec0]
    w.wcs.crpix = [16.5, 16.5]  # FITS pixels are 1-based: the centre lies between pixels 16 and 17
    w.wcs.cdelt = [-GEO.pixel_arcmin / 60.0, GEO.pixel_arcmin / 60.0]  # east left, north up
    xi, eta = GEO.pixel_offsets()
    ra, dec = tan_deproject(ra0, dec0, xi, eta)
    # our array is [iy, ix] with iy = 0 at the north edge; FITS y runs south to north
    iy, ix = np.mgrid[0:32, 0:32]
    ra_w, dec_w = w.all_pix2world(ix + 1, 32 - iy, 1)
    np.testing.assert_allclose(ra, ra_w, atol=1e-9)
    np.testing.assert_allclose(dec, dec_w, atol=1e-9)
    xi2, eta2 = tan_project(ra0, dec0, ra, dec)
    np.testing.assert_allclose(xi2, xi, atol=1e-12)
    np.testing.assert_allclose(eta2, eta, atol=1e-12)


def _blob_map(nside, fp, ra, dec, sigma_arcmin=0.8):
    pix = fp.pixels(nside)
    vec = np.column_stack(hp.pix2vec(nside, pix))
    d = np.arccos(np.clip(vec @ hp.ang2vec(ra, dec, lonlat=True), -1, 1)) / ARCMIN
    return pix, np.exp(-0.5 * (d / sigma_arcmin) ** 2).astype(np.float32)


@pytest.mark.parametrize(("dx", "dy"), [(0.0, 0.0), (2.0, 1.0), (-1.5, -0.75)])
def test_source_lands_at_expected_pixel(dx, dy):
    """East offsets move the source left, north offsets up; the centre is the central pixel corner."""
    nside = 8192
    ra0, dec0 = 30.0, 20.0
    fp = Footprint(29.7, 30.3, 19.7, 20.3)
    src_ra, src_dec = tan_deproject(ra0, dec0, dx * ARCMIN, dy * ARCMIN)
    pix, blob = _blob_map(nside, fp, float(src_ra), float(src_dec))
    cut = extract_cutouts(PatchInterpolator(nside, pix), blob[:, None], [ra0], [dec0], GEO)[0, 0]
    iy, ix = np.mgrid[0:32, 0:32]
    w = cut * (cut > 0.05)
    cy, cx = (w * iy).sum() / w.sum(), (w * ix).sum() / w.sum()
    assert cx == pytest.approx(15.5 - dx / GEO.pixel_arcmin, abs=0.05)
    assert cy == pytest.approx(15.5 - dy / GEO.pixel_arcmin, abs=0.05)


@pytest.mark.parametrize(("dec", "method"), [(5.0, "bilinear"), (70.0, "bilinear"), (-40.0, "nearest")])
def test_extraction_equals_healpy(dec, method):
    nside = 2048
    fp = Footprint(100.0, 101.5, dec - 0.75, dec + 0.75)
    pix = fp.pixels(nside)
    rng = np.random.default_rng(1)
    maps = rng.standard_normal((pix.size, 2)).astype(np.float32)
    grid = make_grid(fp, GEO, 6.0, 1.0)
    out = extract_cutouts(PatchInterpolator(nside, pix), maps, grid.ra, grid.dec, GEO, method)
    full = np.zeros(hp.nside2npix(nside), dtype=np.float32)
    full[pix] = maps[:, 1]
    xi, eta = GEO.pixel_offsets()
    for c in range(0, len(grid), 7):
        ra, dc = tan_deproject(grid.ra[c], grid.dec[c], xi, eta)
        th, ph = np.radians(90 - dc), np.radians(ra)
        ref = hp.get_interp_val(full, th, ph) if method == "bilinear" else full[hp.ang2pix(nside, th, ph)]
        np.testing.assert_allclose(out[c, 1], ref, atol=2e-6)


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_split_outputs_blocks_and_thread_counts_give_identical_bytes(method):
    """Per-stage outputs (as in the rule), any block size, order or thread count change no bit."""
    nside = 2048
    fp = Footprint(100.0, 102.0, 9.0, 10.5)
    pix = fp.pixels(nside)
    maps = np.random.default_rng(2).standard_normal((pix.size, 6)).astype(np.float32)
    interp = PatchInterpolator(nside, pix)
    grid = make_grid(fp, GEO, 6.0, 1.0)
    order = np.random.default_rng(3).permutation(len(grid))  # arbitrary centres, rows interleaved
    ra, dec = grid.ra[order], grid.dec[order]
    whole = extract_cutouts(interp, maps, ra, dec, GEO, method)
    parts = [np.full((ra.size, 2, 32, 32), np.nan, dtype=np.float32) for _ in range(3)]
    assert extract_cutouts(interp, maps, ra, dec, GEO, method, out=parts, block=50, threads=3) is parts
    assert np.concatenate(parts, axis=1).tobytes() == whole.tobytes()
    by_row = extract_cutouts(interp, maps, grid.ra, grid.dec, GEO, method)
    assert by_row[order].tobytes() == whole.tobytes()
    with pytest.raises(ValueError, match="C-contiguous float32"):
        extract_cutouts(interp, maps, ra, dec, GEO, method, out=[p[:, :1] for p in parts])


@pytest.mark.parametrize("method", ["bilinear", "nearest"])
def test_cutouts_beyond_the_footprint_fail(method):
    nside = 2048
    fp = Footprint(100.0, 101.0, 9.0, 10.0)
    pix = fp.pixels(nside)
    maps = np.ones((pix.size, 1), dtype=np.float32)
    interp = PatchInterpolator(nside, pix)
    inside = extract_cutouts(interp, maps, [100.5], [9.5], GEO, method)
    np.testing.assert_allclose(inside, 1.0, rtol=1e-6)
    for ra, dec in [(100.03, 9.5), (100.97, 9.5), (100.5, 9.03), (100.5, 9.97)]:  # 1.8' from an edge
        with pytest.raises(ValueError, match="outside the map footprint"):
            extract_cutouts(interp, maps, [ra], [dec], GEO, method)


def test_grid_is_on_sky_and_inside_footprint():
    fp = Footprint(10.0, 14.0, 50.0, 53.0)
    grid = make_grid(fp, GEO, 6.0, 1.0)
    for r in np.unique(grid.row)[[0, -1]]:
        s = grid.row == r
        v = hp.ang2vec(grid.ra[s], grid.dec[s], lonlat=True)
        sep = np.degrees(np.arccos(np.sum(v[1:] * v[:-1], axis=1))) * 60
        np.testing.assert_allclose(sep, 6.0, atol=1e-3)  # arcmin on the sky, not in raw RA
    assert np.allclose(np.diff(np.unique(grid.dec)) * 60, 6.0)
    xi, eta = GEO.pixel_offsets()
    corners = [(0, 0), (0, -1), (-1, 0), (-1, -1)]
    for iy, ix in corners:
        ra, dec = tan_deproject(grid.ra, grid.dec, xi[iy, ix], eta[iy, ix])
        assert fp.contains(ra, dec).all()
    dense = make_grid(fp, GEO, 2.0, 1.0)  # DeepSZ 3.4.2: stride of a quarter cutout
    assert len(dense) > 8 * len(grid)


@pytest.fixture(scope="module")
def scene():
    """A 2 x 2 deg patch with many qualifying halos (some close pairs) and the grid on it."""
    fp = Footprint(20.0, 22.0, 10.0, 12.0)
    rng = np.random.default_rng(3)
    n = 600
    ra, dec = fp.sample_uniform(n, rng)
    ra[:20], dec[:20] = ra[20:40] + 0.02, dec[20:40] + 0.01  # pairs ~1.3' apart
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(n),
            "ra": ra,
            "dec": dec,
            "z": rng.uniform(0.1, 1.5, n),
            "m_vir": 10 ** rng.uniform(13.8, 15.0, n),
        }
    )
    grid = make_grid(fp, GEO, 6.0, 1.0)
    labels = label_cutouts(grid, GEO, halos, 6.0, 2e14, 0.25)
    return fp, halos, grid, labels


def _cheb_offsets(grid, ra, dec):
    xi, eta = tan_project(grid.ra[None, :], grid.dec[None, :], ra[:, None], dec[:, None])
    return np.maximum(np.abs(xi), np.abs(eta)) / ARCMIN


def test_every_qualifying_halo_positive_exactly_once(scene):
    _, halos, grid, labels = scene
    q = halos[(halos.m_vir >= 2e14) & (halos.z >= 0.25)]
    cheb = _cheb_offsets(grid, q.ra.to_numpy(), q.dec.to_numpy())
    covered = cheb.min(axis=1) <= 3.0
    assert covered.sum() > 100
    # brute force: covered halos are in the central square of >= 1 cutout; each counts once
    assert labels["n_qualifying"].sum() == covered.sum()
    positives = labels[labels.label == 1]
    assert positives.halo_id.isin(q.halo_id[covered]).all()
    assert (np.abs(positives[["halo_dx_arcmin", "halo_dy_arcmin"]]) <= 3.0 + 1e-6).all().all()
    assert (labels.n_qualifying > 1).sum() >= 1, "the close pairs give cutouts with two halos"
    m = positives.set_index("halo_id")["halo_m_vir"]
    assert np.allclose(m.to_numpy(), halos.set_index("halo_id").loc[m.index, "m_vir"].to_numpy())


def test_central_holding_cutout_is_the_labelling_cutout(scene):
    """Every halo's central holding cutout (DeepSZ 3.5) is its Chebyshev-nearest cutout when it lies
    in that one's central square, else -1 (brute force); for a qualifying halo it is the cutout
    that label_cutouts makes positive for it."""
    _, halos, grid, labels = scene
    ra, dec = halos["ra"].to_numpy(), halos["dec"].to_numpy()
    got = central_holding_cutout(grid, GEO, 6.0, ra, dec)
    cheb = _cheb_offsets(grid, ra, dec)
    nearest = cheb.argmin(axis=1)
    want = np.where(cheb[np.arange(len(ra)), nearest] <= 3.0, nearest, -1)
    np.testing.assert_array_equal(got, want)
    assert 0 < np.sum(got >= 0) < len(got)
    held = holding_cutout(grid, GEO, ra, dec)
    assert np.all((got == held) | (got == -1))
    sole = labels[labels["n_qualifying"] == 1]  # positives for one halo: its cutout is theirs
    at = pd.Index(halos["halo_id"]).get_indexer(sole["halo_id"])
    np.testing.assert_array_equal(got[at], sole.index.to_numpy())
    assert central_holding_cutout(grid, GEO, 6.0, [], []).size == 0


def test_splits_are_disjoint_stripes_covering_the_footprint(scene):
    fp, _, grid, _ = scene
    split = assign_splits(grid.ra, fp.ra_min, fp.ra_max, 0.13, 0.2)
    assert set(split) == {"test", "validation", "train"}
    edges = fp.ra_min + np.array([0.13, 0.2]) * (fp.ra_max - fp.ra_min)
    assert grid.ra[split == "test"].max() < edges[0] <= grid.ra[split == "validation"].min()
    assert grid.ra[split == "validation"].max() < edges[1] <= grid.ra[split == "train"].min()
    guarded = assign_splits(grid.ra, fp.ra_min, fp.ra_max, 0.13, 0.2, guard_deg=0.1)
    assert (guarded == "guard").any()
    assert np.all(np.min(np.abs(grid.ra[guarded == "guard"][:, None] - edges), axis=1) < 0.1)
    assert np.array_equal(guarded[guarded != "guard"], split[guarded != "guard"])


def test_training_drops_match_brute_force(scene):
    fp, halos, grid, labels = scene
    split = assign_splits(grid.ra, fp.ra_min, fp.ra_max, 0.13, 0.2)
    dropped = training_drops(grid, labels, split)
    lab = labels.label.to_numpy()
    q = halos[(halos.m_vir >= 2e14) & (halos.z >= 0.25)]
    expected = np.zeros(len(grid), bool)
    pos = np.flatnonzero(lab == 1)
    for i in np.flatnonzero((split == "train") & (lab == 0)):
        xi, eta = tan_project(grid.ra[pos], grid.dec[pos], grid.ra[i], grid.dec[i])
        neighbour = np.any((np.abs(xi) < 9 * ARCMIN) & (np.abs(eta) < 9 * ARCMIN))
        hx, hy = tan_project(grid.ra[i], grid.dec[i], q.ra.to_numpy(), q.dec.to_numpy())
        holds = np.any(np.maximum(np.abs(hx), np.abs(hy)) <= 4 * ARCMIN)
        expected[i] = neighbour or holds
    np.testing.assert_array_equal(dropped, expected)
    assert not dropped[split != "train"].any() and not dropped[lab == 1].any()


def test_recut_puts_object_at_requested_offset():
    ra, dec = np.array([30.0, 200.0]), np.array([10.0, -60.0])
    off, ang = np.array([3.5, 1.0]), np.array([45.0, 200.0])
    rc, dc = recut_centres(ra, dec, off, ang)
    xi, eta = tan_project(rc, dc, ra, dec)
    np.testing.assert_allclose(xi / ARCMIN, off * np.sin(np.radians(ang)), atol=1e-6)
    np.testing.assert_allclose(eta / ARCMIN, off * np.cos(np.radians(ang)), atol=1e-6)


def _fake_run(tmp_path, cfg):
    sky = cfg["sky"]
    pix = Footprint.from_config(sky["footprint"]).pixels(sky["nside"])
    rng = np.random.default_rng(0)
    paths = {}
    for s in [st["name"] for st in sky["stages"]]:
        for b in [bd["name"] for bd in sky["bands"]]:
            paths[(s, b)] = tmp_path / f"{s}_{b}.fits"
            io.write_partial_map(paths[(s, b)], pix, rng.standard_normal(pix.size), sky["nside"])
    fp = Footprint.from_config(sky["footprint"])
    ra, dec = fp.sample_uniform(50, rng)
    io.write_table(
        tmp_path / "halos.parquet",
        {"halo_id": np.arange(50), "ra": ra, "dec": dec, "z": np.full(50, 0.5), "m_vir": np.full(50, 3e14)},
        {},
    )
    return paths


def cut(cfg: dict, paths: dict, halos, out) -> dict:
    """run_cutouts on (stage, band) -> map paths, writing into ``out``; returns stage -> array path."""
    stages = [s["name"] for s in cfg["sky"]["stages"]]
    bands = [b["name"] for b in cfg["sky"]["bands"]]
    arrays = {s: out / f"{s}.npy" for s in stages}
    run_cutouts(
        footprint=cfg["sky"]["footprint"],
        nside=cfg["sky"]["nside"],
        bands=bands,
        stages=stages,
        cutouts=cfg["cutouts"],
        maps=[paths[(s, b)] for s in stages for b in bands],
        halos=halos,
        index=out / "index.parquet",
        arrays=list(arrays.values()),
    )
    return arrays


def test_run_cutouts_is_deterministic_and_fails_cleanly(tmp_path):
    cfg = small_config(nside=2048)
    paths = _fake_run(tmp_path, cfg)
    stages = [s["name"] for s in cfg["sky"]["stages"]]
    outs = [cut(cfg, paths, tmp_path / "halos.parquet", tmp_path / run) for run in ("a", "b")]
    for s in stages:
        assert outs[0][s].read_bytes() == outs[1][s].read_bytes()
    arr = np.load(outs[0]["dust"], mmap_mode="r")
    index, units = io.read_table(tmp_path / "a" / "index.parquet")
    assert arr.shape == (len(index), 3, 32, 32) and arr.dtype == np.float32
    assert units["halo_dx_arcmin"].startswith("arcmin")
    # a missing and a corrupt map: clear error naming the file, and no output arrays left behind
    bad = dict(paths)
    bad[("ksz", "148")] = tmp_path / "missing.fits"
    with pytest.raises(io.InputFileError, match="missing.fits"):
        cut(cfg, bad, tmp_path / "halos.parquet", tmp_path / "c")
    # a halo table without m_vir: the error names the file and the column, not a bare KeyError
    halos, _ = io.read_table(tmp_path / "halos.parquet")
    io.write_table(tmp_path / "no_m_vir.parquet", {c: halos[c].to_numpy() for c in halos if c != "m_vir"}, {})
    with pytest.raises(io.InputFileError, match=r"no_m_vir\.parquet lacks columns \['m_vir'\]"):
        cut(cfg, paths, tmp_path / "no_m_vir.parquet", tmp_path / "c")
    # a later stage's maps on other pixels (the stages are read one at a time): named, nothing left
    pix = Footprint.from_config(cfg["sky"]["footprint"]).pixels(cfg["sky"]["nside"])
    shifted = dict(paths)
    for b in [bd["name"] for bd in cfg["sky"]["bands"]]:
        shifted[("radio", b)] = tmp_path / f"shifted_{b}.fits"
        io.write_partial_map(shifted[("radio", b)], pix[1:], np.zeros(pix.size - 1), cfg["sky"]["nside"])
    with pytest.raises(io.InputFileError, match=r"shifted_090\.fits covers different pixels"):
        cut(cfg, shifted, tmp_path / "halos.parquet", tmp_path / "c")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())
    paths[("ir", "090")].write_bytes(paths[("ir", "090")].read_bytes()[:5000])
    with pytest.raises(io.InputFileError, match="ir_090.fits"):
        cut(cfg, paths, tmp_path / "halos.parquet", tmp_path / "c")
    assert not (tmp_path / "c").exists() or not any((tmp_path / "c").iterdir())


def test_standard_grid_keeps_the_interpolation_reach_when_the_margin_is_smaller():
    """The grid of the cutout index keeps config edge_margin_arcmin, or the interpolation reach if larger."""
    fp = Footprint(10.0, 11.0, 0.0, 1.0)
    cutouts = {"size_arcmin": 8.0, "npix": 32, "stride_arcmin": 6.0, "edge_margin_arcmin": 0.0}
    assert edge_margin_arcmin(cutouts, 2048) == interpolation_reach_arcmin(2048) > 0
    assert edge_margin_arcmin({**cutouts, "edge_margin_arcmin": 5.0}, 2048) == 5.0
    grid = standard_grid(fp, cutouts, 2048)
    reference = make_grid(fp, CutoutGeometry.from_config(cutouts), 6.0, interpolation_reach_arcmin(2048))
    np.testing.assert_array_equal(grid.ra, reference.ra)
    assert grid.dec.min() == pytest.approx(fp.dec_min + GEO.reach_deg(interpolation_reach_arcmin(2048)))
