"""Cutout extraction speed: the straightforward healpy loop against skyhunt's method, side by side.

Needs the default sky (``snakemake --cores 2 sky``). On the same cutouts (the whole default
grid, or its first ``--n``), all noise stages x bands, bilinear interpolation both ways, it times

* straightforward: for every (stage, band) a full-sky map, and for every cutout the TAN
  pixel positions followed by ``healpy.get_interp_val``;
* skyhunt: :class:`skyhunt.cutouts.extract.PatchInterpolator` set-up, then
  :func:`skyhunt.cutouts.extract.extract_cutouts` (a compiled numba kernel, all maps at once);

and prints cutouts per second for both (one "cutout" = all stages and bands), their ratio and
the largest difference between the two outputs. Reading the maps from disk is left out of both.
skyhunt is timed warm (the median of ``--repeats`` runs, set-up included) and with the
kernel's JIT compile added (measured by compiling a fresh, uncached copy of the kernel);
the first call of this process is also shown, which compiles only if numba's on-disk cache
(``cache=True``) is empty or stale. It then runs the rule's code on a quarter of the grid and
on all of it, streaming into memmapped ``.npy`` files, and reports the peak of traced (numpy)
memory, which should not grow with the number of cutouts.

Usage::

    .venv/bin/python benchmarks/cutouts.py [--n 1500] [--threads 2] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import tracemalloc
from pathlib import Path

import healpy as hp
import numba
import numpy as np
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.cutouts import extract
from skyhunt.cutouts.grid import CutoutGeometry, make_grid, tan_deproject
from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.sky.footprint import Footprint


def skyhunt_run(nside, pixels, maps, ra, dec, geo, threads) -> tuple[np.ndarray, float]:
    """skyhunt's cutouts and the time they took, set-up included, seconds."""
    t0 = time.perf_counter()
    interp = extract.PatchInterpolator(nside, pixels)
    out = extract.extract_cutouts(interp, maps, ra, dec, geo, "bilinear", threads=threads)
    return out, time.perf_counter() - t0


def compile_seconds() -> float:
    """Time to JIT-compile a fresh, uncached copy of the extraction kernel, seconds."""
    kernel = extract._bilinear
    fresh = numba.njit(nogil=True)(kernel.py_func)
    t0 = time.perf_counter()
    fresh.compile(kernel.signatures[0])
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=0, help="cutouts compared (default: the whole grid)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5, help="warm skyhunt runs (median reported)")
    args = parser.parse_args()
    cfg = validate_config(yaml.safe_load(Path("config.yaml").read_text()))
    sky, cc = cfg["sky"], cfg["cutouts"]
    nside = sky["nside"]
    stages = [s["name"] for s in sky["stages"]]
    bands = [b["name"] for b in sky["bands"]]
    paths = {(s, b): Path(f"results/sky/observed/{s}_{b}.fits") for s in stages for b in bands}
    geo = CutoutGeometry(cc["size_arcmin"], cc["npix"])
    footprint = Footprint.from_config(sky["footprint"])
    margin = max(cc["edge_margin_arcmin"], extract.interpolation_reach_arcmin(nside))
    grid = make_grid(footprint, geo, cc["stride_arcmin"], margin)
    sel = slice(0, args.n or len(grid))
    ra, dec = grid.ra[sel], grid.dec[sel]
    n = ra.size
    pixels, maps = io.read_partial_maps(list(paths.values()), nside)
    load_before = os.getloadavg()[0]

    # skyhunt: the first call of this process (JIT compile or cache load), then warm runs
    ours, t_first = skyhunt_run(nside, pixels, maps, ra, dec, geo, args.threads)
    cached = sum(extract._bilinear.stats.cache_hits.values()) > 0
    t_compile = compile_seconds()
    warm = [skyhunt_run(nside, pixels, maps, ra, dec, geo, args.threads)[1] for _ in range(args.repeats)]
    t_warm = float(np.median(warm))

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

    # largest absolute difference (uK), relative to the largest |value| of the same cutout and map,
    # and element by element (large only where bilinear sums cancel to nearly zero); map by map
    diff = rel_cut = rel = 0.0
    for k in range(maps.shape[1]):
        d = np.abs(base[:, k] - ours[:, k])  # exact in float32 for nearly equal values
        diff = max(diff, float(d.max()))
        rel_cut = max(rel_cut, float((d.max(axis=(1, 2)) / np.abs(base[:, k]).max(axis=(1, 2))).max()))
        rel = max(rel, float((d / np.maximum(np.abs(base[:, k]), np.finfo(np.float32).tiny)).max()))
    scale = float(np.abs(base).max())
    rate_loop, rate_fill = n / t_loop, n / (t_loop + t_fill)
    rate_warm, rate_first, rate_jit = n / t_warm, n / t_first, n / (t_warm + t_compile)
    print(
        f"{n} cutouts of {len(stages)} stages x {len(bands)} bands, {geo.npix}x{geo.npix} px, nside {nside}, "
        f"bilinear; skyhunt on {args.threads} threads, "
        f"the loop on 1; 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"on {os.cpu_count()} cores"
    )
    print(f"{'method':<60}{'seconds':>9}{'cutouts/s':>11}")
    rows = [
        ("straightforward, loop only", t_loop),
        ("straightforward, loop + full-sky map fills", t_loop + t_fill),
        (f"skyhunt warm, set-up included (median of {args.repeats})", t_warm),
        (f"skyhunt first call here ({'cache load' if cached else 'JIT compile'} included)", t_first),
        ("skyhunt warm + JIT compile", t_warm + t_compile),
    ]
    for name, t in rows:
        print(f"{name:<60}{t:>9.3f}{n / t:>11.0f}")
    print(f"JIT compile of the kernel (fresh, uncached): {t_compile:.2f} s; on-disk cache hit here: {cached}")
    for name, rate in (("loop only", rate_loop), ("loop + full-sky map fills", rate_fill)):
        print(
            f"speed-up over the {name}: {rate_warm / rate:.1f}x warm, {rate_first / rate:.1f}x first call "
            f"here, {rate_jit / rate:.1f}x warm + JIT compile"
        )
    print(
        f"max |difference| = {diff:.3g} uK on values up to {scale:.3g} uK; relative to the largest "
        f"|value| of its cutout and map {rel_cut:.1e} (float32 epsilon {np.finfo(np.float32).eps:.1e}); "
        f"element by element {rel:.1e} (at values near zero)"
    )

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
            f"rule on {frac:.0%} of the RA range: {ncut} cutouts in {dt:.1f} s (reading maps included), "
            f"output {out_gb:.2f} GB on disk, peak traced memory {peak / 1e9:.2f} GB"
        )


if __name__ == "__main__":
    main()
