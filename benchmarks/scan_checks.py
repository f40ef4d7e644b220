"""Scan filter: its cost on the default footprint, and the matched filter's y0 with and without T.

Needs no finished run. Times :func:`skyhunt.sky.scan.filter_scans` on one map of the shipped
footprint and :func:`skyhunt.mf.transfer.measure_scan_transfer` with the shipped tiles. Then, on
a 3 x 3 deg patch at the shipped nside with the CAMB CMB, white noise and nine beta-model
clusters (1' core, SNR 30 with the filter), it prints the recovered y0 / true y0 (mean and
spread over the clusters) for the unfiltered maps, and for the filtered maps with the measured
transfer in the MF (``with T``) and without it (``no T``).

Usage::

    .venv/bin/python benchmarks/scan_checks.py [--poly-order 1] [--highpass 500] [--taper 400]
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from pathlib import Path

import healpy as hp
import numpy as np
import yaml

from skyhunt.config import validate_config
from skyhunt.mf.filter import FlatGrid, MatchedFilter
from skyhunt.mf.search import SearchInputs, search, sz_vector, tile_spectra
from skyhunt.mf.transfer import measure_scan_transfer
from skyhunt.sky.components import cmb_map, white_noise_sigma_uk
from skyhunt.sky.cosmology import lensed_tt_spectrum
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.scan import filter_scans

ARCMIN = np.pi / (180.0 * 60.0)


def beta_clusters(nside, pixels, positions, core_arcmin, y0, bands) -> np.ndarray:
    """Beta-model (beta = 1) clusters at pixel centres, µK per band, shape (npix, nb)."""
    vec = np.stack(hp.pix2vec(nside, pixels), axis=1)
    prof = np.zeros(pixels.size)
    for ra, dec in positions:
        theta = np.arccos(np.clip(vec @ hp.ang2vec(ra, dec, lonlat=True), -1, 1))
        prof += y0 / (1.0 + (theta / (core_arcmin * ARCMIN)) ** 2)
    return prof[:, None] * sz_vector(bands)[None, :]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--poly-order", type=int, default=1)
    parser.add_argument("--highpass", type=float, default=500.0)
    parser.add_argument("--taper", type=float, default=400.0)
    parser.add_argument("--realisations", type=int, default=8)
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path("config.yaml").read_text()))
    sky, mf = cfg["sky"], copy.deepcopy(cfg["mf"])
    nside, bands = sky["nside"], sky["bands"]
    scan_cfg = {"poly_order": args.poly_order, "highpass_ell_x": args.highpass, "taper_ell": args.taper}
    rng = np.random.default_rng(1)

    full = Footprint.from_config(sky["footprint"])
    pixels = full.pixels(nside)
    values = rng.standard_normal(pixels.size)
    t0 = time.perf_counter()
    filter_scans(nside, pixels, values, scan_cfg)
    print(f"filter_scans: {pixels.size} pixels in {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    measure_scan_transfer(nside, full, scan_cfg, mf["tiles"], args.realisations, rng)
    print(
        f"measure_scan_transfer ({args.realisations} fields, shipped tiles): {time.perf_counter() - t0:.1f} s"
    )

    fp = Footprint(10.0, 13.0, 2.0, 5.0)
    mf["tiles"]["core_deg"] = 1.5
    pixels = fp.pixels(nside)
    cl = lensed_tt_spectrum(sky["cosmology"], sky["cmb"]["lmax"])
    st = measure_scan_transfer(nside, fp, scan_cfg, mf["tiles"], args.realisations, rng)
    inp = SearchInputs(nside, fp, bands, None, mf, cl, ["cmb", "tsz"], scan_transfer=st)
    bare = dataclasses.replace(inp, scan_transfer=None)
    grid = FlatGrid(st.npix, st.npix, st.pixel_arcmin)
    signal, n_model = tile_spectra(inp, grid, st.dec0_deg[0])
    k = 3  # 1' core
    y0 = 30.0 * MatchedFilter(grid, n_model, signal).sigma[k]
    positions = [(ra, dec) for ra in (10.8, 11.5, 12.2) for dec in (2.8, 3.5, 4.2)]
    sky_maps = np.stack(
        [rng.standard_normal(pixels.size) * white_noise_sigma_uk(b["noise_uk_arcmin"], nside) for b in bands],
        axis=1,
    )
    sky_maps += cmb_map(cl, nside, pixels, rng)[:, None]
    sky_maps += beta_clusters(nside, pixels, positions, mf["core_radii_arcmin"][k], y0, bands)
    filtered = filter_scans(nside, pixels, sky_maps, scan_cfg)
    print(f"scan filter {scan_cfg}; nine clusters of SNR 30 on a 3 x 3 deg patch:")
    for name, maps, search_inp in (
        ("unfiltered", sky_maps, bare),
        ("with T", filtered, inp),
        ("no T", filtered, bare),
    ):
        cand = search(maps.astype(np.float32), pixels, search_inp)
        ratio = []
        for ra0, dec0 in positions:
            d = np.hypot((cand["ra"] - ra0) * np.cos(np.radians(dec0)), cand["dec"] - dec0) * 60.0
            ratio.append(cand["y0"][d < 2.0].max() / y0 if np.any(d < 2.0) else np.nan)
        print(
            f"  {name:10s}: y0 / true {np.nanmean(ratio):.3f} +- {np.nanstd(ratio):.3f}; "
            f"{len(cand)} candidates above SNR {mf['detection']['snr_min']}"
        )


if __name__ == "__main__":
    main()
