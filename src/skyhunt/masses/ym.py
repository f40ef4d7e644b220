"""The Arnaud et al. (2010) Y-M relation of the sky, the filter-mismatch function Q, and its inversion.

A candidate's fixed-scale central Compton-y, ``y0_fixed``, is measured with one Arnaud template
of theta500 = ``mf.masses.reference_theta500_arcmin`` (2.4', :func:`skyhunt.mf.search.reference_inputs`).
A cluster of mass M500c at redshift z, painted by the sky with the Arnaud profile, has the true
central Compton-y ``y0(M, z)`` (:func:`central_y`), and the reference filter recovers
``y0(M, z) Q(theta500(M, z))``: Q is 1 when the cluster has the reference size and differs from
1 otherwise. This is nemo's scheme (Hasselfield et al. 2013; Hilton et al. 2021, ACT DR5,
sections 2.3 and 3.1), with the relation and profile the sky paints rather than a fitted one.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import scipy.fft
from scipy.optimize import elementwise

from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.mf.filter import FlatGrid
from skyhunt.mf.search import SearchInputs, fixed_scale_maps, sampled_tile, sz_vector, tile_sampling
from skyhunt.mf.tiles import TileLayout, make_layout
from skyhunt.sky import profiles
from skyhunt.sky.beam import beam_key, beam_of
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.scan import filter_scans
from skyhunt.sky.sz import paint_y_and_tau_v

log = logging.getLogger("skyhunt.masses")

#: Spacing of the model clusters' positions in :func:`q_function`, arcmin (each is painted alone).
Q_SPACING_ARCMIN = 2.0

#: Bracket of the mass inversion, M500c in M_sun.
M500C_RANGE = (1e12, 1e16)


def central_y(cosmo_cfg: dict, m500c, z, truncation: float) -> tuple[np.ndarray, np.ndarray]:
    """True central Compton-y and theta500 of Arnaud clusters, as the sky paints them.

    ``y(theta) = y0 Pi(theta / theta500)`` with the pressure normalisation, E(z) and the angular
    diameter distance of :func:`skyhunt.sky.profiles.arnaud_halo_properties` (Arnaud et al.
    2010, eqs. 12-13, the sky's colossus cosmology), so the central value is ``y0 Pi(0)``: the
    mean relation, without the sky's log-normal scatter (``sky.halos.y_scatter_ln``).

    Parameters
    ----------
    cosmo_cfg : dict
        Config ``sky.cosmology``.
    m500c : array_like
        M500c, M_sun.
    z : array_like
        Redshift (broadcast with ``m500c``).
    truncation : float
        Profile cut-off in R500 (``sky.halos.truncation_r500``).

    Returns
    -------
    y0 : ndarray
        Central Compton-y (dimensionless).
    theta500_arcmin : ndarray
        Angular R500, arcmin.
    """
    m500c, z = np.broadcast_arrays(np.asarray(m500c, dtype=float), np.asarray(z, dtype=float))
    props = profiles.arnaud_halo_properties(colossus(cosmo_cfg), m500c.ravel(), z.ravel(), truncation)
    _, pi = profiles.projected_table(float(truncation))
    return (props["y0"] * pi[0]).reshape(m500c.shape), props["theta500_arcmin"].reshape(m500c.shape)


@dataclass(frozen=True)
class QFunction:
    """The reference filter's response to Arnaud clusters, tabulated in theta500.

    Attributes
    ----------
    theta500_arcmin : ndarray
        The grid, arcmin, increasing.
    q : ndarray
        Recovered over true central Compton-y at each grid point (dimensionless).
    """

    theta500_arcmin: np.ndarray
    q: np.ndarray

    def held(self, theta500_arcmin) -> np.ndarray:
        """Q interpolated linearly in ln Q against ln theta500, held at its end values beyond the grid.

        NaN next to a grid point where Q is not positive (a filter that does not resolve such
        clusters: e.g. HEALPix pixels larger than the reference scale).
        """
        ln_q = np.full(self.q.shape, np.nan)
        np.log(self.q, out=ln_q, where=self.q > 0)
        return np.exp(np.interp(np.log(theta500_arcmin), np.log(self.theta500_arcmin), ln_q))

    def __call__(self, theta500_arcmin) -> np.ndarray:
        """Q at ``theta500_arcmin`` (:meth:`held`), NaN outside the grid."""
        t = np.asarray(theta500_arcmin, dtype=float)
        inside = (t >= self.theta500_arcmin[0]) & (t <= self.theta500_arcmin[-1])
        return np.where(inside, self.held(t), np.nan)


def q_function(
    inp: SearchInputs,
    layout: TileLayout,
    tile,
    truncation: float,
    theta500_arcmin,
    scan_filter: dict | None = None,
) -> QFunction:
    """Q(theta500) of a tile: paint model Arnaud clusters of central y 1 and filter them as the search does.

    For each theta500 of the grid a cluster is painted near the tile's centre by the sky's own code
    (:func:`skyhunt.sky.sz.paint_y_and_tau_v`: the Arnaud profile truncated at ``truncation`` R500,
    through each band's beam, on the HEALPix pixels of the footprint), sampled onto the tile and
    filtered with the reference filter and the tile's model noise
    (:func:`skyhunt.mf.search.sampled_tile`, :func:`skyhunt.mf.search.fixed_scale_maps`), and Q is the
    fixed-scale y0 at the tile pixel nearest the cluster's centre (as a candidate's ``y0_fixed`` is
    read), averaged over nine positions about 2' apart and a third of a pixel apart in phase: what a
    candidate's ``y0_fixed`` is on average for a cluster of true central y 1. As in nemo, which
    inserts model clusters into its maps, Q thus includes what the filter's Fourier model of the
    maps leaves out (the sampling of the cusp of the Arnaud profile on the HEALPix and tile pixels);
    Q(reference) = 1 in the continuum limit (the filter is unbiased for its own template).

    Parameters
    ----------
    inp : SearchInputs
        The search's inputs; the model noise is used whatever ``mf.noise`` is, since the
        painted maps hold no noise to estimate (``mf.noise: maps`` estimates each tile's).
    layout : TileLayout
        The search's tile layout.
    tile : Tile
        The tile, of ``layout``.
    truncation : float
        The sky's profile cut-off in R500 (``sky.halos.truncation_r500``).
    theta500_arcmin : array_like
        The theta500 grid, arcmin, increasing.
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when it filters the maps: the painted models are filtered
        alike (:func:`skyhunt.sky.scan.filter_scans`), as the filter's templates carry its
        transfer (``inp.scan_transfer``).

    Returns
    -------
    QFunction
    """
    theta = np.asarray(theta500_arcmin, dtype=float)
    model_cfg = copy.deepcopy(inp.mf_cfg)
    model_cfg["noise"] = "model"
    model = replace(inp, mf_cfg=model_cfg, holes=None, ivar=None)
    pixels = inp.footprint.pixels(inp.nside)
    interp = PatchInterpolator(inp.nside, pixels)
    grid = FlatGrid(layout.npix, layout.npix, layout.pixel_arcmin)
    # model positions (fractional tile pixels): a 3 x 3 pattern around the centre, each a
    # different third of a pixel off the pixel grid, ~2' apart (other HEALPix phases too)
    step = max(1, round(Q_SPACING_ARCMIN / layout.pixel_arcmin))
    offsets = step * np.arange(-1, 2) + np.arange(3) / 3.0
    fy, fx = (layout.npix // 2 + np.stack(np.meshgrid(offsets, offsets, indexing="ij"))).reshape(2, -1)
    ra, dec = layout.sky_of(tile, fy, fx)
    _, pi = profiles.projected_table(float(truncation))
    fsz = sz_vector(inp.bands)
    cache: dict = {}
    sampling = tile_sampling(layout, tile, interp, model)  # the same for every model map
    q = np.zeros(theta.size)
    for k, t in enumerate(theta):
        at = zip(ra, dec, np.rint(fy).astype(int), np.rint(fx).astype(int), strict=True)
        for ra_c, dec_c, iy, ix in at:
            halo = pd.DataFrame(
                {
                    "ra": [ra_c],
                    "dec": [dec_c],
                    "theta500_arcmin": [t],
                    # central y 1: Y = y0 theta500^2 times the profile's volume integral, y(0) = y0 Pi(0)
                    "y5r500_arcmin2": [t * t * profiles.spherical_integral(float(truncation)) / pi[0]],
                    "t_keV": [5.0],  # the kSZ is not used
                    "v_los": [0.0],
                }
            )
            painted: dict = {}
            maps = np.empty((pixels.size, len(inp.bands)), dtype=np.float32)
            for b, band in enumerate(inp.bands):
                key = beam_key(band)
                if key not in painted:
                    painted[key] = paint_y_and_tau_v(halo, inp.nside, pixels, truncation, beam_of(band))[0]
                maps[:, b] = painted[key] * fsz[b]
            if scan_filter is not None:
                maps = filter_scans(inp.nside, pixels, maps, scan_filter).astype(np.float32)
            maps_k = scipy.fft.rfft2(sampled_tile(sampling, maps), axes=(-2, -1))
            y0, _ = fixed_scale_maps(model, grid, tile.dec0, maps_k, sampling.weight, None, cache)
            q[k] += y0[iy, ix] / fy.size
    return QFunction(theta, q)


def central_tile(inp: SearchInputs):
    """The search's tile layout and its tile nearest the footprint's centre."""
    tcfg = inp.mf_cfg["tiles"]
    layout = make_layout(inp.footprint, tcfg["core_deg"], tcfg["overlap_deg"], tcfg["pixel_arcmin"])
    fp = inp.footprint
    ra_c, dec_c = 0.5 * (fp.ra_min + fp.ra_max), 0.5 * (fp.dec_min + fp.dec_max)
    dist = [np.hypot((t.ra0 - ra_c) * np.cos(np.radians(dec_c)), t.dec0 - dec_c) for t in layout.tiles]
    return layout, layout.tiles[int(np.argmin(dist))]


def recovered_y0(m500c, z, q: QFunction, cosmo_cfg: dict, truncation: float) -> np.ndarray:
    """The reference filter's mean y0 of a cluster on the mean relation: ``y0(M, z) Q(theta500(M, z))``.

    Beyond the ends of the Q grid Q is held at its end values (so that root brackets and
    posterior grids stay defined; :func:`invert_y0` drops solutions there).
    """
    y0, theta = central_y(cosmo_cfg, m500c, z, truncation)
    return y0 * q.held(theta)


def invert_y0(y0_obs, z, q: QFunction, cosmo_cfg: dict, truncation: float) -> np.ndarray:
    """M500c solving ``y0_obs = y0(M, z) Q(theta500(M, z))`` for each object (bracketed root finder).

    ``scipy.optimize.elementwise.find_root`` in ln M over :data:`M500C_RANGE`, on
    ``ln[y0(M, z) Q(theta500(M, z))] - ln y0_obs`` (increasing in M over the tested range of Q).

    Parameters
    ----------
    y0_obs : array_like
        Fixed-scale central Compton-y.
    z : array_like
        Redshift of each object.
    q : QFunction
    cosmo_cfg : dict
        Config ``sky.cosmology``.
    truncation : float
        ``sky.halos.truncation_r500``.

    Returns
    -------
    ndarray
        M500c, M_sun; NaN where y0_obs is not positive, z not finite, or the solution's
        theta500 lies outside the Q grid or its mass outside :data:`M500C_RANGE`.
    """
    y0_obs, z = np.broadcast_arrays(np.asarray(y0_obs, dtype=float), np.asarray(z, dtype=float))
    out = np.full(y0_obs.shape, np.nan)
    ok = (y0_obs > 0) & np.isfinite(z) & np.isfinite(y0_obs)
    if not ok.any():
        return out
    target, zz = np.log(y0_obs[ok]), z[ok]

    def residual(ln_m, target, zz):
        with np.errstate(invalid="ignore"):  # Q not positive: NaN, and no root
            return np.log(recovered_y0(np.exp(ln_m), zz, q, cosmo_cfg, truncation)) - target

    lo, hi = np.log(M500C_RANGE[0]), np.log(M500C_RANGE[1])
    res = elementwise.find_root(
        residual,
        (np.full(zz.shape, lo), np.full(zz.shape, hi)),
        args=(target, zz),
        tolerances={"xatol": 1e-9, "xrtol": 1e-12},
    )
    m = np.exp(res.x)
    _, theta = central_y(cosmo_cfg, m, zz, truncation)
    inside = res.success & np.isfinite(res.x) & np.isfinite(q(theta))
    out[ok] = np.where(inside, m, np.nan)
    return out
