"""The optical rules: the galaxy catalogue (``galaxies``) and the candidates' cutouts."""

from __future__ import annotations

import json
import logging

import numpy as np

from skyhunt import io
from skyhunt.catalogues.files import read_catalogue
from skyhunt.optical.galaxies import GALAXY_UNITS, galaxy_catalogue
from skyhunt.optical.io import write_cutouts
from skyhunt.optical.render import BANDS, RENDER_COLUMNS, cutout_hdus, cutout_rng, render_cutout, survey
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.optical")

#: Halo columns the galaxy model reads.
HALO_COLUMNS = ("halo_id", "ra", "dec", "z", "m500c")

#: float32 columns of the galaxy table (magnitudes and shapes; positions stay float64).
_FLOAT32 = ("z", "mag_g", "mag_r", "mag_i", "size_arcsec", "sersic_n", "axis_ratio", "position_angle_deg")


def run_galaxies(
    *, footprint: dict, cosmology: dict, halo_model: dict, model: dict, seed: int, halos, galaxies
) -> None:
    """Write the galaxy catalogue (:func:`skyhunt.optical.galaxies.galaxy_catalogue`) as Parquet.

    Parameters
    ----------
    footprint, cosmology, halo_model : dict
        Config ``sky.footprint``, ``sky.cosmology``, ``sky.halos``.
    model : dict
        Config ``optical.galaxies``.
    seed : int
        Config ``seed``.
    halos : path-like
        ``halos.parquet``.
    galaxies : path-like
        Output ``galaxies.parquet`` (columns and units of :data:`GALAXY_UNITS`).
    """
    table = read_halos(halos, HALO_COLUMNS).sort_values("halo_id", kind="stable")
    cat = galaxy_catalogue(table, Footprint.from_config(footprint), cosmology, halo_model, model, seed)
    columns = {c: (cat[c].to_numpy(np.float32) if c in _FLOAT32 else cat[c].to_numpy()) for c in GALAXY_UNITS}
    io.write_table(galaxies, columns, GALAXY_UNITS, meta={"config": model})
    log.info("galaxy catalogue: %s", json.dumps(cat["kind"].value_counts().to_dict(), sort_keys=True))


def candidate_table(candidates, max_candidates: int):
    """The ``max_candidates`` highest-score entries of the MF catalogue, with their catalogue row."""
    cat = read_catalogue(candidates, "mf").head(int(max_candidates))
    return cat.assign(cutout_index=np.arange(len(cat), dtype=np.int64))


def run_optical_cutouts(*, optical: dict, seed: int, candidates, galaxies, cutouts) -> None:
    """Render g, r, i cutouts of the MF candidates with GalSim into one multi-extension FITS file.

    Parameters
    ----------
    optical : dict
        Config ``optical`` without ``galaxies``.
    seed : int
        Config ``seed``: cutout i's noise is the stream ``optical_cutout/<i>``.
    candidates : path-like
        The MF catalogue ``catalogues/mf.parquet`` (rows by decreasing SNR); the first
        ``optical.max_candidates`` are rendered, cutout i is row i.
    galaxies : path-like
        ``galaxies.parquet``.
    cutouts : path-like
        Output ``multiwave/optical_cutouts.fits`` (:mod:`skyhunt.optical.io`).
    """
    cand = candidate_table(candidates, optical["max_candidates"])
    gal = io.read_checked_table(galaxies, RENDER_COLUMNS)
    hdus = []
    for row in cand.itertuples(index=False):
        images, info = render_cutout(gal, row.ra, row.dec, optical, cutout_rng(seed, row.cutout_index))
        hdus += cutout_hdus(row.cutout_index, images, info, optical)
    cand = cand.assign(extname=[f"C{i:04d}" for i in cand["cutout_index"]])
    srv = survey(optical)
    primary = {
        "INSTRUME": ("optical", "skyhunt simulated cutouts"),
        "SURVEY": (optical["preset"], "depth preset"),
        "BANDS": (",".join(BANDS), "image HDUs C<index>_<BAND>"),
        "NPIX": (int(optical["npix"]), "cutout side, pixels"),
        "PIXSCALE": (srv["pixel_scale_arcsec"], "arcsec per pixel"),
        "CONFIG": json.dumps(optical, sort_keys=True),
    }
    write_cutouts(cutouts, primary, cand, hdus)
    log.info("optical cutouts: %d candidates x %d bands", len(cand), len(BANDS))
