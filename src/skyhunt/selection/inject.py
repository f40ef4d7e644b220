"""Model clusters injected into the observed maps: positions, masses, redshifts and their signal.

The injected clusters are the sky's own (docs/design.md "Sky"): the Arnaud et al. (2010)
profile and Y–M relation of the sky's cosmology (:func:`skyhunt.sky.profiles.arnaud_halo_properties`),
the same log-normal Y–M scatter (:func:`skyhunt.sky.halos.scatter_y`), isothermal kSZ with the
sky's line-of-sight velocity dispersion, painted through each band's beam by the sky's painting
(:func:`skyhunt.sky.pipeline.sz_band_maps`), scan-filtered as the observed maps are. Positions are
uniform on the sphere, away from the footprint's edges, from the bright clusters already in the
sky and from each other (so that each injection is found, or missed, on its own), as nemo's
injection tests do (Hilton et al. 2021, section 4.1).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.catalogues.crossmatch import pairs_within, unit_vectors
from skyhunt.mf.tiles import inside_mask
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import scatter_y
from skyhunt.sky.pipeline import sz_band_maps
from skyhunt.sky.profiles import arnaud_halo_properties
from skyhunt.sky.scan import filter_scans

#: Columns of an injection table and their units.
INJECTION_UNITS = {
    "injection_id": "",
    "batch": "",
    "ra": "deg",
    "dec": "deg",
    "z": "",
    "m500c": "M_sun",
    "theta500_arcmin": "arcmin",
    "y5r500_arcmin2": "arcmin^2",
    "t_keV": "keV",
    "v_los": "km/s (positive = receding)",
}

#: Positions drawn per round of the rejection sampling, per injection still missing.
_OVERDRAW = 4
_MAX_ROUNDS = 200


def draw_positions(
    n: int,
    rng: np.random.Generator,
    footprint: Footprint,
    edge_arcmin: float,
    avoid_ra: np.ndarray,
    avoid_dec: np.ndarray,
    avoid_arcmin: float,
    separation_arcmin: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` positions uniform in the footprint, ``edge_arcmin`` inside its edges, farther than
    ``avoid_arcmin`` from every (avoid_ra, avoid_dec) and ``separation_arcmin`` from each other.

    Sequential rejection: candidates are drawn in rounds and accepted in draw order, so the result
    is a function of the generator's state only.

    Raises
    ------
    ValueError
        When the footprint cannot hold ``n`` such positions (after many rounds).
    """
    ra_out, dec_out = [], []
    for _ in range(_MAX_ROUNDS):
        if len(ra_out) == n:
            break
        ra, dec = footprint.sample_uniform(_OVERDRAW * (n - len(ra_out)), rng)
        ok = inside_mask(footprint, ra, dec, edge_arcmin)
        if len(avoid_ra):
            i, _, _ = pairs_within(ra, dec, avoid_ra, avoid_dec, avoid_arcmin)
            ok[i] = False
        for k in np.flatnonzero(ok):
            if len(ra_out) == n:
                break
            if ra_out:
                v = unit_vectors(ra[k], dec[k])[0]
                sep = np.degrees(np.arccos(np.clip(unit_vectors(ra_out, dec_out) @ v, -1.0, 1.0))) * 60.0
                if sep.min() <= separation_arcmin:
                    continue
            ra_out.append(ra[k])
            dec_out.append(dec[k])
    if len(ra_out) < n:
        raise ValueError(
            f"the footprint holds only {len(ra_out)} of {n} injections {separation_arcmin:g}' apart, "
            f"{edge_arcmin:g}' inside its edges and {avoid_arcmin:g}' from bright clusters: lower "
            "selection.injections or the separations"
        )
    return np.array(ra_out), np.array(dec_out)


def draw_injections(
    n: int,
    batch: int,
    rng: np.random.Generator,
    footprint: Footprint,
    m500c_range: tuple[float, float],
    z_range: tuple[float, float],
    cosmology: dict,
    halo_model: dict,
    edge_arcmin: float,
    avoid_ra: np.ndarray,
    avoid_dec: np.ndarray,
    avoid_arcmin: float,
    separation_arcmin: float,
) -> pd.DataFrame:
    """One batch of model clusters: positions (:func:`draw_positions`), M500c log-uniform in
    ``m500c_range`` (M_sun), z uniform in ``z_range``, the sky's Arnaud properties and Y–M scatter
    (``halo_model["y_scatter_ln"]``), v_los normal with ``halo_model["v_los_sigma_km_s"]``.

    Returns
    -------
    pandas.DataFrame
        Columns of :data:`INJECTION_UNITS`; ids ``batch * n + i``.
    """
    ra, dec = draw_positions(
        n, rng, footprint, edge_arcmin, avoid_ra, avoid_dec, avoid_arcmin, separation_arcmin
    )
    m500c = 10.0 ** rng.uniform(np.log10(m500c_range[0]), np.log10(m500c_range[1]), n)
    z = rng.uniform(z_range[0], z_range[1], n)
    props = arnaud_halo_properties(colossus(cosmology), m500c, z, halo_model["truncation_r500"])
    y = scatter_y(props["y_arcmin2"], float(halo_model["y_scatter_ln"]), rng)
    v_los = rng.normal(0.0, halo_model["v_los_sigma_km_s"], n)
    return pd.DataFrame(
        {
            "injection_id": batch * n + np.arange(n, dtype=np.int64),
            "batch": np.full(n, batch, dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "z": z,
            "m500c": m500c,
            "theta500_arcmin": props["theta500_arcmin"],
            "y5r500_arcmin2": y,
            "t_keV": props["t_keV"],
            "v_los": v_los,
        }
    )


def injected_signal(
    table: pd.DataFrame,
    nside: int,
    pixels: np.ndarray,
    bands: list,
    components: list,
    truncation_r500: float,
    relativistic_tsz: bool,
    scan_filter: dict | None,
) -> np.ndarray:
    """The injected clusters' signal in every band at ``pixels``, µK_CMB, shape (npix, n_bands).

    tSZ always, kSZ when the stage's ``components`` hold it (as the sky's halos), each through its
    band's beam (:func:`skyhunt.sky.pipeline.sz_band_maps`), then the scan filter when it is on
    (linear, so filtering the sum of map and signal is filtering each).

    Raises
    ------
    ValueError
        When the stage has no tSZ: its maps hold no clusters to compare with.
    """
    if "tsz" not in components:
        raise ValueError(f"injections need a noise stage with tsz; its components are {components}")
    maps = sz_band_maps(table, nside, pixels, bands, truncation_r500, relativistic_tsz)
    out = np.empty((pixels.size, len(bands)))
    for b, band in enumerate(bands):
        tsz, ksz = maps[band["name"]]
        out[:, b] = tsz + ksz if "ksz" in components else tsz
    if scan_filter is not None:
        out = filter_scans(nside, pixels, out, scan_filter)
    return out
