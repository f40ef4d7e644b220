"""Physics checks measured on the outputs of a sky run (default: results/sky of config.yaml).

Prints, for the run on disk: halo density against the mass-function integral, white-noise
rms against the configured level, point-source Poisson power D_3000 against the targets,
and the rms of each component. Usage::

    .venv/bin/python benchmarks/sky_checks.py [--config config.yaml] [--results results/sky]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import healpy as hp
import numpy as np
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.sky.components import white_noise_sigma_uk
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import LightCone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config.yaml")
    parser.add_argument("--results", default="results/sky")
    args = parser.parse_args()
    sky = validate_config(yaml.safe_load(Path(args.config).read_text()))["sky"]
    res = Path(args.results)
    fp = Footprint.from_config(sky["footprint"])
    omega_pix = hp.nside2pixarea(sky["nside"])

    halos, _ = io.read_table(res / "halos.parquet")
    lc = LightCone(sky["cosmology"], sky["halos"])
    print(f"footprint {fp.area_deg2:.1f} deg2, nside {sky['nside']}")
    for m_cut, z_cut in [(2e14, 0.25), (1e14, 0.0), (5e14, 0.0)]:
        n = int(np.sum(halos["in_footprint"] & (halos["m_vir"] >= m_cut) & (halos["z"] >= z_cut)))
        exp = lc.expected_count(fp.area_deg2 * (np.pi / 180) ** 2, m_cut, z_cut)
        print(
            f"halos M_vir >= {m_cut:.0e}, z >= {z_cut}: {n} ({n / fp.area_deg2:.2f}/deg2), "
            f"expected {exp:.1f} ({exp / fp.area_deg2:.2f}/deg2), pull {(n - exp) / np.sqrt(exp):+.2f} sigma"
        )
    print(f"{'band':>5} {'noise rms':>10} {'expected':>9} {'PS D3000':>9} {'target':>7}   component rms [uK]")
    for band in sky["bands"]:
        b = band["name"]
        _, noise, _ = io.read_partial_map(res / "components" / f"noise_{b}.fits")
        ps = sum(
            io.read_partial_map(res / "components" / f"{c}_{b}.fits")[1].astype(float)
            for c in ("ir", "radio")
        )
        d3000 = 3000 * 3001 / (2 * np.pi) * omega_pix * ps.var()
        rms = {
            c: float(np.std(io.read_partial_map(res / "components" / f"{c}_{b}.fits")[1]))
            for c in ("cmb", "tsz", "ksz", "ir", "radio", "dust")
        }
        sigma = white_noise_sigma_uk(band["noise_uk_arcmin"], sky["nside"])
        print(
            f"{b:>5} {noise.std():>10.3f} {sigma:>9.3f} "
            f"{d3000:>9.2f} {band['ps_d3000_uk2']:>7.1f}   "
            + ", ".join(f"{c} {v:.3g}" for c, v in rms.items())
        )


if __name__ == "__main__":
    main()
