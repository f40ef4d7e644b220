"""Cutout extraction speed: the straightforward healpy loop against skyhunt's method, side by side.

Needs the default sky (``snakemake --cores 2 sky``). On the same cutouts of the default
grid and all noise stages x bands, it times

* straightforward: for every (stage, band) a full-sky map, and for every cutout the TAN
  pixel positions followed by ``healpy.get_interp_val``;
* skyhunt: :func:`skyhunt.cutouts.extract.extract_row` over grid rows, all maps at once;

prints cutouts per second for both (one "cutout" = all stages and bands), the ratio, and
the largest difference between the two outputs. It then runs the whole grid through the
rule's code into memmapped arrays and reports the peak of traced (numpy) memory for a
quarter of the grid and for all of it, which should not grow with the number of cutouts.

Usage::

    .venv/bin/python benchmarks/cutouts.py [--n 1500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path

import healpy as hp
import numpy as np
import torch
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts, interpolation_reach_arcmin
from skyhunt.cutouts.grid import CutoutGeometry, make_grid, tan_deproject
from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.sky.footprint import Footprint


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1500, help="cutouts in the side-by-side comparison")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = validate_config(yaml.safe_load(Path("config.yaml").read_text()))
    sky, cc = cfg["sky"], cfg["cutouts"]
    nside = sky["nside"]
    stages = [s["name"] for s in sky["stages"]]
    bands = [b["name"] for b in sky["bands"]]
    paths = {(s, b): Path(f"results/sky/observed/{s}_{b}.fits") for s in stages for b in bands}
    geo = CutoutGeometry(cc["size_arcmin"], cc["npix"])
    footprint = Footprint.from_config(sky["footprint"])
    margin = max(cc["edge_margin_arcmin"], interpolation_reach_arcmin(nside))
    grid = make_grid(footprint, geo, cc["stride_arcmin"], margin)
    sel = slice(0, min(args.n, len(grid)))
    ra, dec = grid.ra[sel], grid.dec[sel]
    n = ra.size
    pixels, maps = io.read_partial_maps(list(paths.values()), nside)

    # skyhunt on the whole grid (its one-off set-up amortised as in the rule), then the subset
    t0 = time.perf_counter()
    interp = PatchInterpolator(nside, pixels)
    extract_cutouts(interp, torch.from_numpy(maps), grid.ra, grid.dec, geo, cc["interpolation"])
    rate_ours = len(grid) / (time.perf_counter() - t0)
    ours = extract_cutouts(interp, torch.from_numpy(maps), ra, dec, geo, cc["interpolation"])

    xi, eta = geo.pixel_offsets()
    base = np.empty_like(ours)
    full = np.zeros(hp.nside2npix(nside), dtype=np.float32)
    t_fill = t_loop = 0.0
    for k in range(maps.shape[1]):
        t0 = time.perf_counter()
        full[pixels] = maps[:, k]
        t_fill += time.perf_counter() - t0
        t0 = time.perf_counter()
        for c in range(n):
            r, d = tan_deproject(ra[c], dec[c], xi, eta)
            base[c, k] = hp.get_interp_val(full, np.radians(90.0 - d), np.radians(r))
        t_loop += time.perf_counter() - t0
    del full

    diff = np.abs(base - ours).max()
    scale = np.abs(base).max()
    rate_loop, rate_fill = n / t_loop, n / (t_loop + t_fill)
    print(f"cutouts of {len(stages)} stages x {len(bands)} bands, nside {nside}, {args.threads} threads")
    print(f"{'method':<40}{'cutouts':>9}{'cutouts/s':>12}")
    print(f"{'straightforward (loop only)':<40}{n:>9}{rate_loop:>12.0f}")
    print(f"{'straightforward (+ full-sky map fills)':<40}{n:>9}{rate_fill:>12.0f}")
    print(f"{'skyhunt (incl. set-up)':<40}{len(grid):>9}{rate_ours:>12.0f}")
    print(f"speed-up: {rate_ours / rate_loop:.1f}x (loop only), {rate_ours / rate_fill:.1f}x (with fills)")
    print(f"max |difference| = {diff:.3g} uK on values up to {scale:.3g} uK (relative {diff / scale:.1e})")

    halos = Path("results/sky/halos.parquet")
    for frac in (0.25, 1.0):
        sub = dict(cfg)
        fp = dict(sky["footprint"])
        fp["ra_max"] = fp["ra_min"] + frac * (fp["ra_max"] - fp["ra_min"])
        sub["sky"] = dict(sky, footprint=fp)
        with tempfile.TemporaryDirectory() as tmp:
            tracemalloc.start()
            t0 = time.perf_counter()
            run_cutouts(
                sub,
                paths,
                halos,
                Path(tmp) / "index.parquet",
                {s: Path(tmp) / f"{s}.npy" for s in stages},
                args.threads,
            )
            dt = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            ncut = len(make_grid(Footprint.from_config(fp), geo, cc["stride_arcmin"], margin))
            out_gb = ncut * len(stages) * len(bands) * geo.npix**2 * 4 / 1e9
        print(
            f"rule on {frac:.0%} of the RA range: {ncut} cutouts in {dt:.1f} s, "
            f"output {out_gb:.2f} GB on disk, peak traced memory {peak / 1e9:.2f} GB"
        )


if __name__ == "__main__":
    main()
