"""Cutout extraction speed: the straightforward healpy loop against skyhunt's method, side by side.

Needs the default sky (``snakemake --cores 2 sky``). On the same cutouts (the whole default
grid, or its first ``--n``), all noise stages x bands, bilinear interpolation both ways, it times

* straightforward: for every (stage, band) a full-sky map, and for every cutout the TAN
  pixel positions followed by ``healpy.get_interp_val``;
* skyhunt: :class:`skyhunt.cutouts.extract.PatchInterpolator` set-up, then
  :func:`skyhunt.cutouts.extract.extract_cutouts` (a compiled numba kernel, all maps at once);

and prints cutouts per second for both (one "cutout" = all stages and bands), their ratio and
the largest difference between the two outputs. Times are wall-clock, and also CPU time (all
threads), which depends less on other jobs sharing the machine. Reading the maps from disk is
left out of both.
skyhunt is timed warm (the median of ``--repeats`` runs, set-up included) and with the
kernel's JIT compile added (measured by compiling a fresh, uncached copy of the kernel);
the first call of this process is also shown, which compiles only if numba's on-disk cache
(``cache=True``) is empty or stale. It then runs the rule's code on a quarter of the grid and
on all of it, streaming blocks of cutouts into the ``.npy`` files, and reports the peak of
traced (numpy) memory, which should not grow with the number of cutouts.

Usage::

    .venv/bin/python benchmarks/cutouts.py [--n 2000] [--threads 2] [--repeats 5]
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
from skyhunt.cutouts.grid import CutoutGeometry, standard_grid, tan_deproject
from skyhunt.cutouts.pipeline import run_cutouts
from skyhunt.sky.footprint import Footprint


def clock() -> np.ndarray:
    """Wall-clock and CPU (all threads of this process) time, seconds."""
    return np.array([time.perf_counter(), time.process_time()])


def skyhunt_run(nside, pixels, maps, ra, dec, geo, threads) -> tuple[np.ndarray, np.ndarray]:
    """skyhunt's cutouts and the wall and CPU time they took, set-up included, seconds."""
    t0 = clock()
    interp = extract.PatchInterpolator(nside, pixels)
    out = extract.extract_cutouts(interp, maps, ra, dec, geo, "bilinear", threads=threads)
    return out, clock() - t0


def compile_time() -> np.ndarray:
    """Wall and CPU time to JIT-compile a fresh, uncached copy of the extraction kernel, seconds."""
    kernel = extract._bilinear
    fresh = numba.njit(nogil=True)(kernel.py_func)
    t0 = clock()
    fresh.compile(kernel.signatures[0])
    return clock() - t0


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
    geo = CutoutGeometry.from_config(cc)
    grid = standard_grid(Footprint.from_config(sky["footprint"]), cc, nside)
    sel = slice(0, args.n or len(grid))
    ra, dec = grid.ra[sel], grid.dec[sel]
    n = ra.size
    pixels, maps = io.read_partial_maps(list(paths.values()), nside)
    load_before = os.getloadavg()[0]

    # skyhunt: the first call of this process (JIT compile or cache load), then warm runs
    ours, t_first = skyhunt_run(nside, pixels, maps, ra, dec, geo, args.threads)
    cached = sum(extract._bilinear.stats.cache_hits.values()) > 0
    t_compile = compile_time()
    warm = [skyhunt_run(nside, pixels, maps, ra, dec, geo, args.threads)[1] for _ in range(args.repeats)]
    t_warm = np.median(warm, axis=0)

    xi, eta = geo.pixel_offsets()
    base = np.empty_like(ours)
    full = np.zeros(hp.nside2npix(nside), dtype=np.float32)
    t_fill = t_loop = np.zeros(2)
    for k in range(maps.shape[1]):
        t0 = clock()
        full[pixels] = maps[:, k]
        t_fill = t_fill + clock() - t0
        t0 = clock()
        for c in range(n):
            r, d = tan_deproject(ra[c], dec[c], xi, eta)
            base[c, k] = hp.get_interp_val(full, np.radians(90.0 - d), np.radians(r))
        t_loop = t_loop + clock() - t0
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
    print(
        f"{n} cutouts of {len(stages)} stages x {len(bands)} bands, {geo.npix}x{geo.npix} px, nside {nside}, "
        f"bilinear; skyhunt on {args.threads} threads, "
        f"the loop on 1; 1-min load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after "
        f"on {os.cpu_count()} cores"
    )
    print(f"{'method':<58}{'wall s':>8}{'cutouts/s':>11}{'CPU s':>8}{'CPU us/cutout':>15}")
    loop, fill = t_loop, t_loop + t_fill
    warm, first, jit = t_warm, t_first, t_warm + t_compile
    rows = [
        ("straightforward, loop only", loop),
        ("straightforward, loop + full-sky map fills", fill),
        (f"skyhunt warm, set-up included (median of {args.repeats})", warm),
        (f"skyhunt first call here ({'cache load' if cached else 'JIT compile'} included)", first),
        ("skyhunt warm + JIT compile", jit),
    ]
    for name, (wall, cpu) in rows:
        print(f"{name:<58}{wall:>8.3f}{n / wall:>11.0f}{cpu:>8.3f}{cpu / n * 1e6:>15.1f}")
    print(f"JIT compile of the kernel (fresh, uncached): {t_compile[0]:.2f} s; on-disk cache hit: {cached}")
    for name, base_t in (("loop only", loop), ("loop + full-sky map fills", fill)):
        print(
            f"speed-up over the {name}: {base_t[0] / warm[0]:.1f}x warm, {base_t[0] / first[0]:.1f}x first "
            f"call here, {base_t[0] / jit[0]:.1f}x warm + JIT compile; "
            f"in CPU time {base_t[1] / warm[1]:.1f}x warm"
        )
    print(
        f"max |difference| = {diff:.3g} uK on values up to {scale:.3g} uK; relative to the largest "
        f"|value| of its cutout and map {rel_cut:.1e} (float32 epsilon {np.finfo(np.float32).eps:.1e}); "
        f"element by element {rel:.1e} (at values near zero)"
    )

    halos = Path("results/sky/halos.parquet")
    for frac in (0.25, 1.0):
        fp = dict(sky["footprint"])
        fp["ra_max"] = fp["ra_min"] + frac * (fp["ra_max"] - fp["ra_min"])
        with tempfile.TemporaryDirectory() as tmp:
            tracemalloc.start()
            t0 = time.perf_counter()
            run_cutouts(
                footprint=fp,
                nside=nside,
                bands=bands,
                stages=stages,
                cutouts=cc,
                maps=[paths[(s, b)] for s in stages for b in bands],
                halos=halos,
                index=Path(tmp) / "index.parquet",
                arrays=[Path(tmp) / f"{s}.npy" for s in stages],
                threads=args.threads,
            )
            dt = time.perf_counter() - t0
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            ncut = len(standard_grid(Footprint.from_config(fp), cc, nside))
            out_gb = ncut * len(stages) * len(bands) * geo.npix**2 * 4 / 1e9
        print(
            f"rule on {frac:.0%} of the RA range: {ncut} cutouts in {dt:.1f} s (reading maps included), "
            f"output {out_gb:.2f} GB on disk, peak traced memory {peak / 1e9:.2f} GB"
        )


if __name__ == "__main__":
    main()
