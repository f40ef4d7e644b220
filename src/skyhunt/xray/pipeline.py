"""The X-ray rule ``xray_cutouts``: eROSITA-like count cutouts of the MF candidates."""

from __future__ import annotations

import json
import logging

import numpy as np

from skyhunt.optical.io import write_cutouts
from skyhunt.optical.pipeline import candidate_table
from skyhunt.sky.components import component_rng
from skyhunt.sky.readers import read_halos, read_sources
from skyhunt.sky.sources import flux_column
from skyhunt.xray.model import agn_counts, halo_counts
from skyhunt.xray.render import cutout_hdu, cutout_rng, expected_image

log = logging.getLogger("skyhunt.xray")

#: Halo columns the X-ray model reads.
HALO_COLUMNS = ("halo_id", "ra", "dec", "z", "m500c", "theta500_arcmin")


def run_xray_cutouts(
    *, xray: dict, cosmology: dict, bands: list, seed: int, candidates, halos, sources, cutouts
) -> None:
    """Render 0.5-2 keV count cutouts of the MF candidates into one multi-extension FITS file.

    Parameters
    ----------
    xray : dict
        Config ``xray``.
    cosmology : dict
        Config ``sky.cosmology``.
    bands : list of dict
        ``name`` and ``freq_ghz`` of every band: the AGN fluxes scale the lowest band's.
    seed : int
        Config ``seed``: streams ``xray_lx_scatter``, ``xray_agn`` and ``xray_cutout/<i>``.
    candidates : path-like
        The MF catalogue; the first ``xray.max_candidates`` rows, cutout i is row i.
    halos, sources : path-like
        ``halos.parquet``, ``sources.parquet``.
    cutouts : path-like
        Output ``multiwave/xray_cutouts.fits`` (:mod:`skyhunt.optical.io`).
    """
    lowest = min(bands, key=lambda b: b["freq_ghz"])
    column = flux_column(lowest)
    halo_table = read_halos(halos, HALO_COLUMNS).sort_values("halo_id", kind="stable")
    model = halo_counts(halo_table, xray, cosmology, component_rng(seed, "xray_lx_scatter"))
    src = read_sources(sources, ("source_id", "ra", "dec", "population", column)).sort_values(
        "source_id", kind="stable"
    )
    agn = agn_counts(src, column, xray, component_rng(seed, "xray_agn"))
    cand = candidate_table(candidates, xray["max_candidates"])
    hdus = []
    for row in cand.itertuples(index=False):
        mean, wcs = expected_image(model, agn, row.ra, row.dec, xray)
        counts = cutout_rng(seed, row.cutout_index).poisson(mean)
        hdus.append(cutout_hdu(row.cutout_index, counts, wcs, xray))
    cand = cand.assign(extname=[f"C{i:04d}" for i in cand["cutout_index"]])
    primary = {
        "INSTRUME": ("xray", "skyhunt simulated cutouts"),
        "NPIX": (int(xray["npix"]), "cutout side, pixels"),
        "PIXSCALE": (float(xray["pixel_scale_arcsec"]), "arcsec per pixel"),
        "EXPOSURE": (float(xray["exposure_s"]), "s"),
        "CONFIG": json.dumps(xray, sort_keys=True),
    }
    write_cutouts(cutouts, primary, cand, hdus)
    log.info("X-ray cutouts: %d candidates, %d AGN in the sky", len(cand), int(np.size(agn["counts"])))
