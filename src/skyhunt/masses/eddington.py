"""Eddington-bias correction of the fixed-scale masses: the posterior with the mass function as prior.

A cluster near the detection threshold is more likely an up-scattered low-mass halo than a
down-scattered massive one, because the halo mass function falls steeply with mass (Eddington
1913). As in nemo (Hilton et al. 2021, ACT DR5, section 3.1), the mass is the posterior

    P(M | y0_obs, z) ∝ dn/dlnM(M, z) ∫ N(y0_obs; y0(M, z) Q(theta500) e^s, sigma_y) N(s; 0, sigma_int) ds

on a grid of ln M500c: the likelihood of the measured y0 (Gaussian noise sigma_y = y0_fixed /
snr_fixed) with the log-normal intrinsic scatter sigma_int = ``sky.halos.y_scatter_ln`` of the
sky's Y-M relation, and the sky's own mass function (colossus, ``sky.halos.mass_function``, in
M500c) as prior. Without the correction the likelihood alone (a flat prior in ln M) is used.
"""

from __future__ import annotations

import numpy as np
from colossus.lss import mass_function

from skyhunt.masses.ym import QFunction, recovered_y0
from skyhunt.sky.cosmology import colossus

#: ln M500c grid of the posterior (M_sun): log10 M from 13 to 16, as nemo's.
LN_M_GRID = np.log(np.geomspace(1e13, 1e16, 601))

#: Gauss-Hermite nodes of the integral over the intrinsic scatter.
HERMITE_NODES = 21


def mass_function_prior(cosmo_cfg: dict, model: str, z: np.ndarray) -> np.ndarray:
    """dn/dlnM500c on :data:`LN_M_GRID` at each redshift, normalised per object, shape (n, n_m)."""
    cosmo = colossus(cosmo_cfg)
    h = cosmo.H0 / 100.0
    m = np.exp(LN_M_GRID) * h
    out = np.empty((np.size(z), LN_M_GRID.size))
    for i, zi in enumerate(np.atleast_1d(z)):
        out[i] = mass_function.massFunction(m, float(zi), mdef="500c", model=model, q_out="dndlnM")
    return out / out.max(axis=1, keepdims=True)


def posterior_masses(
    y0_obs,
    sigma_y,
    z,
    q: QFunction,
    cosmo_cfg: dict,
    halo_cfg: dict,
    prior: bool,
    interval: float = 0.68,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Posterior median and central interval of M500c for each object.

    Parameters
    ----------
    y0_obs, sigma_y : array_like
        Fixed-scale central Compton-y and its noise rms.
    z : array_like
        Redshifts.
    q : QFunction
    cosmo_cfg : dict
        Config ``sky.cosmology``.
    halo_cfg : dict
        Config ``sky.halos`` keys ``y_scatter_ln``, ``truncation_r500``, ``mass_function``.
    prior : bool
        Multiply by the mass function (the Eddington correction); False: flat in ln M.
    interval : float
        Central probability of the interval.

    Returns
    -------
    median, lo, hi : ndarray
        M500c, M_sun; NaN where an input is not finite, sigma_y is not positive, or the
        likelihood vanishes or is undefined on the grid (Q not positive).
    """
    y0_obs, sigma_y, z = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(y0_obs, sigma_y, z))
    out = [np.full(y0_obs.shape, np.nan) for _ in range(3)]
    ok = np.isfinite(y0_obs) & np.isfinite(z) & (sigma_y > 0) & np.isfinite(sigma_y)
    if not ok.any():
        return tuple(out)
    y, s, zz = y0_obs[ok][:, None], sigma_y[ok][:, None], z[ok]
    mu = recovered_y0(np.exp(LN_M_GRID)[None, :], zz[:, None], q, cosmo_cfg, halo_cfg["truncation_r500"])
    sigma_int = float(halo_cfg["y_scatter_ln"])
    nodes, weights = np.polynomial.hermite.hermgauss(HERMITE_NODES if sigma_int > 0 else 1)
    like = np.zeros(mu.shape)
    for x, w in zip(nodes, weights, strict=True):
        like += w * np.exp(-0.5 * ((y - mu * np.exp(np.sqrt(2.0) * sigma_int * x)) / s) ** 2)
    post = like * mass_function_prior(cosmo_cfg, halo_cfg["mass_function"], zz) if prior else like
    cdf = np.concatenate(
        [np.zeros((post.shape[0], 1)), np.cumsum(0.5 * (post[:, 1:] + post[:, :-1]), axis=1)], axis=1
    )
    total = cdf[:, -1]
    good = np.isfinite(total) & (total > 0)  # no posterior where Q is undefined (not positive)
    tail = 0.5 * (1.0 - interval)
    for k, p in enumerate((0.5, tail, 1.0 - tail)):
        est = np.full(total.shape, np.nan)
        est[good] = np.exp(
            [np.interp(p * t, c, LN_M_GRID) for c, t in zip(cdf[good], total[good], strict=True)]
        )
        out[k][ok] = est
    return tuple(out)
