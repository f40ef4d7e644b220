"""Deep-CEE's fields: g, r, i images around massive halos and at random positions.

As Deep-CEE (Chan & Stott 2019, section 2.2), each cluster field holds its cluster at a uniform
random offset from the field centre (up to ``offset_arcmin`` in each tangent-plane axis), so the
detector is not taught that clusters sit in the middle; random fields (no target) add the
empty sky. Fields are rendered with the optical code (:func:`skyhunt.optical.render.render_cutout`,
GalSim) and kept inside their RA stripe (:func:`skyhunt.cutouts.layout.split_of`): a field
belongs to a split only when both its RA edges do. The truth of a field is every qualifying
halo (``deepcee.clusters``) whose position falls on it, not only its target.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.cutouts.grid import ARCMIN, tan_deproject
from skyhunt.cutouts.layout import split_of
from skyhunt.optical.io import tan_wcs
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint


def qualifying(halos: pd.DataFrame, clusters: dict) -> pd.DataFrame:
    """Halos of ``deepcee.clusters``: M500c >= ``m500c_min`` (M_sun) and ``z_min`` <= z <= ``z_max``."""
    keep = (
        (halos["m500c"] >= clusters["m500c_min"])
        & (halos["z"] >= clusters["z_min"])
        & (halos["z"] <= clusters["z_max"])
    )
    return halos.loc[keep]


def field_fits(ra, dec, half_deg: float, footprint: Footprint, splits: dict, split: str) -> np.ndarray:
    """Fields centred on (ra, dec) deg of half-side ``half_deg`` inside the footprint and the stripe."""
    ra, dec = np.asarray(ra, float), np.asarray(dec, float)
    dra = half_deg / np.cos(np.radians(dec))
    lo, hi = ra - dra, ra + dra
    inside = footprint.contains(lo, dec - half_deg) & footprint.contains(hi, dec + half_deg)
    return inside & (split_of(lo, footprint, splits) == split) & (split_of(hi, footprint, splits) == split)


def field_centres(
    halos: pd.DataFrame,
    split: str,
    fields: dict,
    footprint: Footprint,
    splits: dict,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Centres of one split's cluster fields then random fields.

    Parameters
    ----------
    halos : DataFrame
        The qualifying halos (:func:`qualifying`): ``halo_id``, ``ra``, ``dec``.
    split : str
    fields : dict
        Config ``deepcee.fields`` (``npix``, ``pixel_scale_arcsec``, ``offset_arcmin``,
        ``cluster_fields`` and ``random_fields`` per split).
    footprint : Footprint
    splits : dict
        Config ``cutouts.splits``.
    rng : numpy.random.Generator
        The split's stream.

    Returns
    -------
    DataFrame
        ``kind``, ``ra``, ``dec`` (deg), ``target_halo_id`` (-1 for random fields). Cluster
        field k targets the (k mod n)-th halo of the split (by ``halo_id``) whose offset field
        fits; fewer fields when the split holds no such halo.
    """
    half = fields["npix"] * fields["pixel_scale_arcsec"] / 7200.0
    if fields["offset_arcmin"] >= 60.0 * half:
        raise ValueError(
            f"config key 'deepcee.fields.offset_arcmin': expected less than half the field side "
            f"({60.0 * half:g} arcmin), got {fields['offset_arcmin']!r}"
        )
    own = halos.sort_values("halo_id", kind="stable")
    own = own.loc[field_fits(own["ra"], own["dec"], half, footprint, splits, split)]
    n_clusters, n_random = int(fields["cluster_fields"][split]), int(fields["random_fields"][split])
    rows = []
    if len(own) and n_clusters:
        k = np.arange(10 * n_clusters) % len(own)
        off = rng.uniform(-1.0, 1.0, size=(2, k.size)) * fields["offset_arcmin"] * ARCMIN
        # the centre sits at -offset from the halo, so the halo sits at +offset from the centre
        ra, dec = tan_deproject(own["ra"].to_numpy()[k], own["dec"].to_numpy()[k], -off[0], -off[1])
        ok = np.flatnonzero(field_fits(ra, dec, half, footprint, splits, split))[:n_clusters]
        rows.append(
            pd.DataFrame(
                {
                    "kind": "cluster",
                    "ra": ra[ok],
                    "dec": dec[ok],
                    "target_halo_id": own["halo_id"].to_numpy()[k[ok]],
                }
            )
        )
    got, ra_r, dec_r = 0, [], []
    for _ in range(100):
        if got >= n_random:
            break
        ra, dec = footprint.sample_uniform(4 * n_random, rng)
        ok = field_fits(ra, dec, half, footprint, splits, split)
        ra_r.append(ra[ok][: n_random - got])
        dec_r.append(dec[ok][: n_random - got])
        got += len(ra_r[-1])
    if n_random:
        ra_r, dec_r = np.concatenate(ra_r), np.concatenate(dec_r)
        rows.append(pd.DataFrame({"kind": "random", "ra": ra_r, "dec": dec_r, "target_halo_id": -1}))
    if not rows:
        return pd.DataFrame({"kind": [], "ra": [], "dec": [], "target_halo_id": []})
    table = pd.concat(rows, ignore_index=True)
    return table.astype({"kind": object, "ra": float, "dec": float, "target_halo_id": np.int64})


def truth_on_field(halos: pd.DataFrame, ra0: float, dec0: float, npix: int, pixel_scale_arcsec: float):
    """The qualifying halos on a field centred on (ra0, dec0): their rows with pixel coordinates.

    ``x``, ``y`` are 0-based FITS pixel coordinates of the field's TAN WCS (north up, east left;
    :func:`skyhunt.optical.io.tan_wcs`); a halo is on the field when both lie in [-0.5, npix - 0.5).
    """
    wcs = tan_wcs(ra0, dec0, npix, pixel_scale_arcsec)
    reach = np.sqrt(2.0) * npix * pixel_scale_arcsec / 3600.0
    dra = (halos["ra"].to_numpy() - ra0 + 180.0) % 360.0 - 180.0
    near = halos.loc[
        (np.abs(dra) * np.cos(np.radians(dec0)) <= reach) & (np.abs(halos["dec"] - dec0) <= reach)
    ]
    x, y = wcs.all_world2pix(near["ra"].to_numpy(), near["dec"].to_numpy(), 0)
    on = (x >= -0.5) & (x < npix - 0.5) & (y >= -0.5) & (y < npix - 0.5)
    return near.loc[on].assign(x=x[on], y=y[on])


def field_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The sky-noise stream of field ``index`` of ``split`` (independent of the other fields)."""
    return component_rng(seed, f"deepcee_field/{split}/{index}")


def centre_rng(seed: int, split: str) -> np.random.Generator:
    """The stream of a split's field centres and offsets."""
    return component_rng(seed, f"deepcee_centres_{split}")
