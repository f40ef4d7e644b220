"""Wall time and peak memory of the import_map rule's harmonic beam smoothing, against nside.

For each nside, one subprocess writes a full-sky float32 HEALPix map (as the Sehgal et al.
2010 files are), and a second one runs :func:`skyhunt.sky.imported.run_import_map` on it
with a Gaussian beam: read the whole map, ducc0 analysis to min(3 nside - 1, the beam's
band limit) with ``sky.beam_smoothing.iterations`` Jacobi steps, b_ell, ring synthesis on
the footprint (by default the paper's octant) and the write. Its peak memory (ru_maxrss)
and wall time are the rule's. Prints one table.

Usage::

    nice -n 10 .venv/bin/python benchmarks/beam_smoothing.py [--nsides 2048 4096] [--fwhm 1.4]
        [--iterations 3] [--threads 2] [--octant | --patch]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from skyhunt.sky.beam import beam_of
from skyhunt.sky.imported import smoothing_lmax

OCTANT = {"ra_min": 0.0, "ra_max": 90.0, "dec_min": 0.0, "dec_max": 90.0}
PATCH = {"ra_min": 0.0, "ra_max": 12.0, "dec_min": 0.0, "dec_max": 10.0}


def write_map(path: str, nside: int) -> None:
    import healpy as hp
    import numpy as np

    rng = np.random.default_rng(0)
    hp.write_map(path, rng.standard_normal(hp.nside2npix(nside), dtype=np.float32), dtype=np.float32)


def smooth(path: str, nside: int, fwhm: float, iterations: int, threads: int, footprint: dict) -> dict:
    from skyhunt.sky.imported import run_import_map

    t0 = time.perf_counter()
    run_import_map(
        footprint=footprint,
        nside=nside,
        band={"name": "148", "freq_ghz": 148.0, "beam_fwhm_arcmin": fwhm, "beam_file": None},
        component="cmb",
        unit="uK_CMB",
        field=0,
        beam_smoothing={"lmax": None, "iterations": iterations},
        threads=threads,
        full_sky=path,
        component_map=str(Path(path).with_name("out.fits")),
    )
    return {
        "wall_s": time.perf_counter() - t0,
        "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nsides", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--fwhm", type=float, default=1.4, help="Gaussian beam FWHM, arcmin")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--patch", action="store_true", help="12 x 10 deg footprint instead of the octant")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)  # task, nside, map path
    args = parser.parse_args()
    footprint = PATCH if args.patch else OCTANT
    if args.worker:
        task, nside, path = args.worker[0], int(args.worker[1]), args.worker[2]
        if task == "write":
            write_map(path, nside)
        else:
            print(json.dumps(smooth(path, nside, args.fwhm, args.iterations, args.threads, footprint)))
        return
    print(
        f"Gaussian beam {args.fwhm}' FWHM, {args.iterations} iterations, {args.threads} threads, "
        f"footprint {footprint}"
    )
    print(f"{'nside':>6} {'lmax':>6} {'wall_s':>8} {'peak_rss_gb':>12}")
    for nside in args.nsides:
        with tempfile.TemporaryDirectory() as tmp:
            path = str(Path(tmp) / "full.fits")
            base = [sys.executable, __file__, *sys.argv[1:], "--worker"]
            subprocess.run([*base, "write", str(nside), path], check=True)
            proc = subprocess.run(
                [*base, "smooth", str(nside), path], check=True, capture_output=True, text=True
            )
            res = json.loads(proc.stdout.strip().splitlines()[-1])
        lmax = smoothing_lmax(beam_of({"beam_fwhm_arcmin": args.fwhm}), nside, None)
        print(f"{nside:>6} {lmax:>6} {res['wall_s']:>8.1f} {res['peak_rss_gb']:>12.2f}", flush=True)


if __name__ == "__main__":
    main()
