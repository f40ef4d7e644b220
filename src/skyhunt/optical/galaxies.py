"""A galaxy catalogue over the footprint, seeded from the halo catalogue (issue 18).

Three populations, each from its own random stream:

* **cluster members** (stream ``galaxies_members``): every halo gets a richness from the DES Y1
  richness-mass relation of McClintock et al. (2019, their eq. 52 and Table 4),
  M200m = M0 (lambda/40)^F ((1+z)/1.35)^G, inverted for the mean lambda at the halo's M200m
  (converted from M500c with the sky's c(M)), with log-normal intrinsic scatter sigma_ln lambda
  (0.25, as found for redMaPPer by Costanzi et al. 2019). A central galaxy sits at the halo
  centre; lambda - 1 satellites (Poisson) follow a projected NFW profile of concentration
  ``concentration`` out to the redMaPPer radius R_lambda = 1.0 h^-1 Mpc (lambda/100)^0.2
  (Rykoff et al. 2014, eq. 4, physical). Satellite luminosities follow a Schechter function
  (slope ``luminosity_alpha``) above ``l_min`` L*, redMaPPer's richness cut (0.2 L*,
  Rykoff et al. 2014); the central is ``central_mag_offset`` brighter than m*.
  Members have red-sequence colours (:func:`red_sequence`) with Gaussian scatter.
* **field galaxies** (``galaxies_field``): i-band counts dN/dm = A 10^(s (m - 22)) per deg^2 per
  mag (s = 0.33 and A = 2e4 deg^-2 mag^-1 follow the deep i-band counts of e.g. Capak et al.
  2004), redshifts from the Smail et al. (1994) form p(z) ~ z^2 exp(-(z/z0)^1.5) with a median
  that rises with magnitude, a red fraction on the red sequence and a bluer cloud otherwise.
* **stars** (``galaxies_stars``): i-band counts of the same power-law form, colours along a
  straight stellar locus in (g - r, r - i).

Only objects with i <= ``mag_limit_i`` inside the footprint are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from skyhunt.sky.components import component_rng
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import convert_mass

#: Units of the galaxy table's columns.
GALAXY_UNITS = {
    "galaxy_id": "",
    "kind": "central, member, field or star",
    "ra": "deg",
    "dec": "deg",
    "z": "(0 for stars)",
    "mag_g": "AB mag",
    "mag_r": "AB mag",
    "mag_i": "AB mag",
    "size_arcsec": "arcsec (half-light radius; 0 for stars)",
    "sersic_n": "(Sersic index; 0 for stars)",
    "axis_ratio": "(b/a)",
    "position_angle_deg": "deg (east of north)",
    "red_sequence": "",
    "host_halo_id": "(-1: field galaxy or star)",
}

#: Kinds of object, in the order the catalogue lists them.
KINDS = ("central", "member", "field", "star")

#: Red-sequence model: redshift knots, m*_i(z) (AB) and the colours g - r and r - i of an L* red
#: galaxy. Approximate passive-evolution values after the redMaPPer red-sequence model of SDSS
#: and DES (Rykoff et al. 2014, 2016); good to ~0.2 mag, enough for simulated cutouts whose
#: colour-redshift relation must follow the red sequence (the 4000 A break crosses g-r near
#: z = 0.4 and r-i near z = 0.8).
RED_SEQUENCE_Z = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.2, 1.5, 2.0, 3.0])
RED_SEQUENCE_MSTAR_I = np.array(
    [15.2, 16.5, 17.8, 18.7, 19.4, 19.95, 20.4, 20.8, 21.2, 21.5, 21.8, 22.3, 22.9, 23.6, 24.5]
)
RED_SEQUENCE_GR = np.array(
    [0.80, 0.95, 1.25, 1.50, 1.70, 1.80, 1.85, 1.85, 1.85, 1.85, 1.85, 1.8, 1.7, 1.6, 1.5]
)
RED_SEQUENCE_RI = np.array(
    [0.38, 0.42, 0.48, 0.55, 0.68, 0.85, 1.00, 1.15, 1.25, 1.30, 1.30, 1.3, 1.3, 1.3, 1.3]
)

#: Pivot richness, redshift and the h of R_lambda (McClintock et al. 2019; Rykoff et al. 2014).
LAMBDA_PIVOT = 40.0
Z_PIVOT = 0.35
#: Brightest magnitude of field galaxies and stars drawn, AB i.
MAG_BRIGHT = 16.0
#: Reference magnitudes of the field and star counts, AB i.
FIELD_MAG_REF = 22.0
STAR_MAG_REF = 20.0


def red_sequence(z) -> dict[str, np.ndarray]:
    """The red-sequence model at redshift ``z``: m*_i, g - r, r - i (AB), linear in z between knots."""
    z = np.asarray(z, dtype=float)
    return {
        "mstar_i": np.interp(z, RED_SEQUENCE_Z, RED_SEQUENCE_MSTAR_I),
        "g_r": np.interp(z, RED_SEQUENCE_Z, RED_SEQUENCE_GR),
        "r_i": np.interp(z, RED_SEQUENCE_Z, RED_SEQUENCE_RI),
    }


def mean_richness(m200m, z, richness_cfg: dict) -> np.ndarray:
    """Mean richness lambda at M200m (M_sun) and z: McClintock et al. (2019) eq. 52 inverted."""
    m0 = 10.0 ** richness_cfg["log10_m0"]
    f, g = richness_cfg["f_lambda"], richness_cfg["g_z"]
    return LAMBDA_PIVOT * (np.asarray(m200m) / m0 / ((1.0 + np.asarray(z)) / (1.0 + Z_PIVOT)) ** g) ** (
        1.0 / f
    )


def r_lambda_mpc(richness, h: float) -> np.ndarray:
    """The redMaPPer radius R_lambda = 1.0 h^-1 Mpc (lambda/100)^0.2, physical Mpc (Rykoff et al. 2014)."""
    return (1.0 / h) * (np.maximum(np.asarray(richness, dtype=float), 1.0) / 100.0) ** 0.2


def _projected_nfw_cdf(x: np.ndarray) -> np.ndarray:
    """Projected NFW mass within x = R/r_s, up to a constant (Bartelmann 1996)."""
    x = np.asarray(x, dtype=float)
    out = np.log(x / 2.0)
    lo, hi = x < 1.0, x > 1.0
    out[lo] += np.arccosh(1.0 / x[lo]) / np.sqrt(1.0 - x[lo] ** 2)
    out[hi] += np.arccos(1.0 / x[hi]) / np.sqrt(x[hi] ** 2 - 1.0)
    out[~(lo | hi)] += 1.0
    return out


def draw_projected_nfw(n: int, concentration: float, rng: np.random.Generator) -> np.ndarray:
    """Projected radii R / R_max of ``n`` points of a projected NFW truncated at R_max = c r_s."""
    x = np.geomspace(1e-4, concentration, 2048)
    cdf = _projected_nfw_cdf(x)
    cdf = (cdf - cdf[0]) / (cdf[-1] - cdf[0])
    return np.interp(rng.random(n), cdf, x) / concentration


def draw_schechter(n: int, alpha: float, l_min: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` luminosities L/L* from a Schechter function l^alpha exp(-l) above ``l_min``."""
    lg = np.linspace(np.log(l_min), np.log(30.0), 4096)
    pdf = np.exp((alpha + 1.0) * lg - np.exp(lg))  # per d ln l
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(lg))])
    return np.exp(np.interp(rng.random(n), cdf / cdf[-1], lg))


def draw_power_law_mags(n: int, slope: float, mag_max: float, rng: np.random.Generator) -> np.ndarray:
    """``n`` magnitudes between :data:`MAG_BRIGHT` and ``mag_max`` with dN/dm ~ 10^(slope m)."""
    span = 10.0 ** (slope * (mag_max - MAG_BRIGHT)) - 1.0
    return MAG_BRIGHT + np.log10(1.0 + rng.random(n) * span) / slope


def expected_count(density_deg2_mag: float, slope: float, mag_ref: float, mag_max: float, area_deg2: float):
    """Mean number of objects with MAG_BRIGHT <= m <= mag_max for dN/dm = A 10^(slope (m - mag_ref))."""
    integral = (10.0 ** (slope * (mag_max - mag_ref)) - 10.0 ** (slope * (MAG_BRIGHT - mag_ref))) / (
        slope * np.log(10.0)
    )
    return density_deg2_mag * integral * area_deg2


def _sizes_arcsec(l_rel, z, red, cosmo, rng) -> np.ndarray:
    """Half-light radii: 4 kpc (L/L*)^0.6 for red, 3.5 kpc (L/L*)^0.3 for blue galaxies, 0.2 dex scatter.

    Slopes of the size-luminosity relations of early- and late-type galaxies (Shen et al. 2003).
    """
    kpc = np.where(red, 4.0 * l_rel**0.6, 3.5 * l_rel**0.3) * 10.0 ** rng.normal(0.0, 0.2, len(z))
    d_a_kpc = cosmo.angularDiameterDistance(np.maximum(z, 1e-3)) / (cosmo.H0 / 100.0) * 1e3
    return kpc / d_a_kpc * (180.0 / np.pi) * 3600.0


def _shapes(red, rng) -> tuple[np.ndarray, np.ndarray]:
    """Axis ratios (uniform in [0.5, 1] for red, [0.2, 1] for blue) and position angles (deg)."""
    q = np.where(red, rng.uniform(0.5, 1.0, len(red)), rng.uniform(0.2, 1.0, len(red)))
    return q, rng.uniform(0.0, 180.0, len(red))


def _colours(z, mag_i, red, colour_scatter, rng) -> tuple[np.ndarray, np.ndarray]:
    """g and r magnitudes: red-sequence colours (scatter ``colour_scatter``), or a bluer cloud."""
    rs = red_sequence(z)
    n = len(z)
    blue_gr = rng.normal(0.6, 0.15, n)
    blue_ri = rng.normal(0.3, 0.1, n)
    r_i = rs["r_i"] + rng.normal(0.0, colour_scatter, n) - np.where(red, 0.0, blue_ri)
    g_r = rs["g_r"] + rng.normal(0.0, colour_scatter, n) - np.where(red, 0.0, blue_gr)
    mag_r = mag_i + r_i
    return mag_r + g_r, mag_r


def draw_members(
    halos: pd.DataFrame, cosmo_cfg: dict, halo_cfg: dict, gal_cfg: dict, rng: np.random.Generator
) -> pd.DataFrame:
    """Centrals and satellites of every halo (all magnitudes; cut by the caller).

    Parameters
    ----------
    halos : DataFrame
        Columns halo_id, ra, dec (deg), z, m500c (M_sun), in halo_id order.
    cosmo_cfg, halo_cfg : dict
        Config ``sky.cosmology`` and ``sky.halos`` (the c(M) of the mass conversion).
    gal_cfg : dict
        Config ``optical.galaxies``.
    rng : numpy.random.Generator
        The stream ``galaxies_members``.

    Returns
    -------
    DataFrame
        Columns of :data:`GALAXY_UNITS` but ``galaxy_id``, plus ``richness`` (the halo's
        realised lambda), centrals first in halo order then satellites grouped by halo.
    """
    cosmo = colossus(cosmo_cfg)
    h = cosmo.H0 / 100.0
    z = halos["z"].to_numpy(float)
    m200m = convert_mass(
        cosmo_cfg, halo_cfg, halos["m500c"].to_numpy(float), z, "500c", "200m", below_dex=0.6
    )
    rich_cfg = gal_cfg["richness"]
    lam = mean_richness(m200m, z, rich_cfg) * np.exp(rich_cfg["sigma_ln"] * rng.standard_normal(len(z)))
    n_sat = rng.poisson(np.maximum(lam - 1.0, 0.0))
    host = np.repeat(np.arange(len(z)), n_sat)
    ns = int(n_sat.sum())

    radius = draw_projected_nfw(ns, gal_cfg["concentration"], rng) * r_lambda_mpc(lam[host], h)
    d_a = cosmo.angularDiameterDistance(z[host]) / h  # Mpc
    theta_deg = np.degrees(radius / d_a)
    phi = rng.uniform(0.0, 2.0 * np.pi, ns)
    dec0 = halos["dec"].to_numpy(float)[host]
    sat_dec = dec0 + theta_deg * np.cos(phi)
    sat_ra = halos["ra"].to_numpy(float)[host] + theta_deg * np.sin(phi) / np.cos(np.radians(dec0))
    l_sat = draw_schechter(ns, gal_cfg["luminosity_alpha"], gal_cfg["l_min"], rng)
    l_cen = 10.0 ** (0.4 * (gal_cfg["central_mag_offset"] + rng.normal(0.0, 0.3, len(z))))

    ra = np.concatenate([halos["ra"].to_numpy(float), sat_ra])
    dec = np.concatenate([halos["dec"].to_numpy(float), sat_dec])
    zz = np.concatenate([z, z[host]])
    l_rel = np.concatenate([l_cen, l_sat])
    mag_i = red_sequence(zz)["mstar_i"] - 2.5 * np.log10(l_rel)
    red = np.ones(len(zz), dtype=bool)
    mag_g, mag_r = _colours(zz, mag_i, red, gal_cfg["colour_scatter"], rng)
    q, pa = _shapes(red, rng)
    hid = halos["halo_id"].to_numpy(np.int64)
    return pd.DataFrame(
        {
            "kind": np.array(["central"] * len(z) + ["member"] * ns, dtype=object),
            "ra": np.mod(ra, 360.0),
            "dec": dec,
            "z": zz,
            "mag_g": mag_g,
            "mag_r": mag_r,
            "mag_i": mag_i,
            "size_arcsec": _sizes_arcsec(l_rel, zz, red, cosmo, rng),
            "sersic_n": np.full(len(zz), 4.0),
            "axis_ratio": q,
            "position_angle_deg": pa,
            "red_sequence": red,
            "host_halo_id": np.concatenate([hid, hid[host]]),
            "richness": np.concatenate([lam, lam[host]]),
        }
    )


def smail_redshifts(mag_i: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Field redshifts: p(z) ~ z^2 exp(-(z/z0)^1.5), median 0.7 + 0.15 (i - 22) (at least 0.1).

    With t = (z/z0)^1.5, t ~ Gamma(2, 1), whose median gives z_med = 1.412 z0 (Smail et al. 1994).
    """
    z_med = np.maximum(0.7 + 0.15 * (mag_i - FIELD_MAG_REF), 0.1)
    t = rng.gamma(2.0, 1.0, len(mag_i))
    return np.clip(z_med / 1.412 * t ** (2.0 / 3.0), 0.01, 3.0)


def draw_field(
    footprint: Footprint, cosmo_cfg: dict, gal_cfg: dict, rng: np.random.Generator
) -> pd.DataFrame:
    """Field galaxies over the footprint to ``mag_limit_i`` (stream ``galaxies_field``)."""
    field = gal_cfg["field"]
    lim = gal_cfg["mag_limit_i"]
    n = rng.poisson(
        expected_count(field["density_deg2_mag"], field["slope"], FIELD_MAG_REF, lim, footprint.area_deg2)
    )
    ra, dec = footprint.sample_uniform(n, rng)
    mag_i = draw_power_law_mags(n, field["slope"], lim, rng)
    z = smail_redshifts(mag_i, rng)
    red = rng.random(n) < field["red_fraction"]
    mag_g, mag_r = _colours(z, mag_i, red, gal_cfg["colour_scatter"], rng)
    l_rel = 10.0 ** (-0.4 * (mag_i - red_sequence(z)["mstar_i"]))
    q, pa = _shapes(red, rng)
    return pd.DataFrame(
        {
            "kind": np.full(n, "field", dtype=object),
            "ra": ra,
            "dec": dec,
            "z": z,
            "mag_g": mag_g,
            "mag_r": mag_r,
            "mag_i": mag_i,
            "size_arcsec": _sizes_arcsec(l_rel, z, red, colossus(cosmo_cfg), rng),
            "sersic_n": np.where(red, 4.0, 1.0),
            "axis_ratio": q,
            "position_angle_deg": pa,
            "red_sequence": red,
            "host_halo_id": np.full(n, -1, dtype=np.int64),
        }
    )


def draw_stars(footprint: Footprint, gal_cfg: dict, rng: np.random.Generator) -> pd.DataFrame:
    """Stars over the footprint to ``mag_limit_i`` (stream ``galaxies_stars``).

    Colours on a straight stellar locus r - i = 0.75 (g - r) - 0.2 (+ 0.05 scatter), g - r
    uniform in [0.3, 1.5] (the main sequence from F to M dwarfs in SDSS colours).
    """
    stars = gal_cfg["stars"]
    lim = gal_cfg["mag_limit_i"]
    n = rng.poisson(
        expected_count(stars["density_deg2_mag"], stars["slope"], STAR_MAG_REF, lim, footprint.area_deg2)
    )
    ra, dec = footprint.sample_uniform(n, rng)
    mag_i = draw_power_law_mags(n, stars["slope"], lim, rng)
    g_r = rng.uniform(0.3, 1.5, n)
    r_i = 0.75 * g_r - 0.2 + rng.normal(0.0, 0.05, n)
    return pd.DataFrame(
        {
            "kind": np.full(n, "star", dtype=object),
            "ra": ra,
            "dec": dec,
            "z": np.zeros(n),
            "mag_g": mag_i + r_i + g_r,
            "mag_r": mag_i + r_i,
            "mag_i": mag_i,
            "size_arcsec": np.zeros(n),
            "sersic_n": np.zeros(n),
            "axis_ratio": np.ones(n),
            "position_angle_deg": np.zeros(n),
            "red_sequence": np.zeros(n, dtype=bool),
            "host_halo_id": np.full(n, -1, dtype=np.int64),
        }
    )


def galaxy_catalogue(
    halos: pd.DataFrame, footprint: Footprint, cosmo_cfg: dict, halo_cfg: dict, gal_cfg: dict, seed: int
) -> pd.DataFrame:
    """The whole catalogue: members, field galaxies and stars inside the footprint, i <= mag_limit_i.

    Returns
    -------
    DataFrame
        Columns of :data:`GALAXY_UNITS`, in the order of :data:`KINDS`, ``galaxy_id`` 0..N-1.
    """
    members = draw_members(halos, cosmo_cfg, halo_cfg, gal_cfg, component_rng(seed, "galaxies_members"))
    members = members.drop(columns="richness")
    field = draw_field(footprint, cosmo_cfg, gal_cfg, component_rng(seed, "galaxies_field"))
    stars = draw_stars(footprint, gal_cfg, component_rng(seed, "galaxies_stars"))
    table = pd.concat([members, field, stars], ignore_index=True)
    keep = (table["mag_i"].to_numpy() <= gal_cfg["mag_limit_i"]) & footprint.contains(
        table["ra"].to_numpy(), table["dec"].to_numpy()
    )
    table = table.loc[keep].reset_index(drop=True)
    table["kind"] = table["kind"].astype(str)
    table.insert(0, "galaxy_id", np.arange(len(table), dtype=np.int64))
    return table
