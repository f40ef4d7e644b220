"""Instrument noise laws: the red (atmospheric) spectrum, its band correlation, and depth maps.

Shared by the sky simulation (:func:`skyhunt.sky.components.red_noise_map`,
:func:`skyhunt.sky.pipeline.run_noise_map`, :func:`skyhunt.sky.pipeline.run_depth_map`)
and the matched filter's noise model (:func:`skyhunt.mf.noise.instrument_noise`), so
that both use one definition.

Red noise (config ``sky.bands[].ell_knee``, ``alpha_knee`` and ``sky.noise``):
the noise power of band b is

    N_b(ell) = N_white,b [1 + (ell / ell_knee,b)^alpha_b],  N_white,b = (noise_uk_arcmin,b arcmin)^2,

the parametrisation of the Simons Observatory noise calculator (SO Collaboration 2019,
JCAP 02, 056, section 2.2, alpha = -3.5 in its v3). The red part of bands b and b' is
correlated with coefficient ``red_correlation`` (the atmosphere seen by the bands of one
optics tube; the SO calculator uses 0.9): N_bb'(ell) = rho sqrt(N_red,b N_red,b').
Two regularisations, applied identically in the sky and in the filter's model:

* below ``red_ell_min`` the red power is held at its value at ``red_ell_min`` (the power
  law diverges as ell -> 0; scales beyond a matched-filter tile only shift its mean and
  gradient), and it is 0 at ell < 2 (no monopole or dipole);
* above ``red_lmax`` = ell_knee red_cut_fraction^(1 / alpha) (at most 3 nside - 1) the red
  part is 0: there it is below ``red_cut_fraction`` of the white level at every ell, so
  leaving it out lowers the total noise power by less than that fraction (1 % by default,
  at ell_max = 3.73 ell_knee for alpha = -3.5).

Depth (config ``sky.noise.depth``): the white noise of a pixel has variance 1 / ivar(p),
with ivar in µK^-2 per pixel (the convention of ACT's and nemo's ivar maps).
"""

from __future__ import annotations

import numpy as np

ARCMIN = np.pi / (180.0 * 60.0)

#: Unit card (FITS ``TUNIT2``) of the inverse-variance maps: µK^-2 per pixel.
IVAR_UNIT = "uK-2"

#: Depth models of ``sky.noise.depth.model``.
DEPTH_MODELS = ("uniform", "declination", "file")


def has_red_noise(band: dict) -> bool:
    """Whether a ``sky.bands`` entry has red noise (``ell_knee`` set and > 0)."""
    return bool(band.get("ell_knee"))


def red_lmax(band: dict, red_cfg: dict, nside: int) -> int:
    """Highest multipole of the band's red noise: ell_knee red_cut_fraction^(1/alpha), <= 3 nside - 1.

    Parameters
    ----------
    band : dict
        ``sky.bands`` entry with ``ell_knee`` (> 0) and ``alpha_knee`` (< 0).
    red_cfg : dict
        ``sky.noise`` (``red_cut_fraction``).
    nside : int
        HEALPix resolution of the maps.
    """
    cut = band["ell_knee"] * red_cfg["red_cut_fraction"] ** (1.0 / band["alpha_knee"])
    return int(min(np.ceil(cut), 3 * nside - 1))


def red_noise_cl(ell: np.ndarray, band: dict, red_cfg: dict, nside: int, noise_uk_arcmin=None) -> np.ndarray:
    """Red-noise power of one band, µK_CMB^2 sr: N_white (max(ell, ell_min) / ell_knee)^alpha.

    0 at ell < 2, above :func:`red_lmax`, and for bands without red noise.

    Parameters
    ----------
    ell : ndarray
        Multipoles (or flat-sky wavenumbers, rad^-1).
    band : dict
        ``sky.bands`` entry (``noise_uk_arcmin``, ``ell_knee``, ``alpha_knee``).
    red_cfg : dict
        ``sky.noise`` (``red_ell_min``, ``red_cut_fraction``).
    nside : int
        HEALPix resolution (caps the red lmax).
    noise_uk_arcmin : float, optional
        White level that sets the red amplitude, µK-arcmin (default the band's own; the
        matched filter passes a tile's depth).

    Returns
    -------
    ndarray, shape of ``ell``
    """
    ell = np.asarray(ell, dtype=float)
    out = np.zeros_like(ell)
    if not has_red_noise(band):
        return out
    level = band["noise_uk_arcmin"] if noise_uk_arcmin is None else noise_uk_arcmin
    on = (ell >= 2.0) & (ell <= red_lmax(band, red_cfg, nside))
    ell_reg = np.maximum(ell[on], red_cfg["red_ell_min"])
    out[on] = (level * ARCMIN) ** 2 * (ell_reg / band["ell_knee"]) ** band["alpha_knee"]
    return out


def red_correlation_matrix(band_names: list[str], red_cfg: dict) -> np.ndarray:
    """Correlation of the red noise between bands: 1 on the diagonal, ``rho`` within a group.

    The atmosphere is common to the bands that one optics tube sees through the same air
    (SO noise calculator v3: 0.9 between the two bands of a tube, 0 between tubes).
    ``red_cfg["red_correlation_groups"]`` lists those groups by band name; None puts every
    band in one group (e.g. SPT-3G's trichroic detectors), and a band in no group is
    uncorrelated with the others.

    Parameters
    ----------
    band_names : list of str
        The bands' names, in config order.
    red_cfg : dict
        ``sky.noise`` (``red_correlation`` = rho, optional ``red_correlation_groups``).

    Returns
    -------
    ndarray, shape (n_bands, n_bands)
    """
    rho = float(red_cfg["red_correlation"])
    groups = red_cfg.get("red_correlation_groups")
    if groups is None:
        groups = [band_names]
    group_of = {n: i for i, g in enumerate(groups) for n in g}
    label = [group_of.get(n, ("alone", n)) for n in band_names]
    same = np.array([[a == b for b in label] for a in label])
    return np.where(same, rho, 0.0) + (1.0 - rho) * np.eye(len(band_names))


def declination_weight(dec_deg: np.ndarray) -> np.ndarray:
    """Relative inverse variance of a constant-elevation survey: 1 / cos(dec).

    A survey that spends equal time on every declination strip (the scan sweeps in RA
    while stepping, or drifting, evenly through declination) spreads that time over a
    strip's solid angle, which is proportional to cos(dec); dwell time, and so inverse
    variance, per solid angle goes as 1 / cos(dec). This is the first-order depth
    pattern of wide constant-elevation surveys (e.g. ACT, SPT); it leaves out the deeper
    edges where real scans turn around.
    """
    return 1.0 / np.cos(np.radians(dec_deg))


def ivar_from_weights(weights: np.ndarray, noise_uk_arcmin: float, nside: int) -> np.ndarray:
    """Inverse-variance map (µK^-2 per pixel) from relative weights, median level = ``noise_uk_arcmin``.

    The white-noise rms of pixel p is sigma_pix sqrt(w_med / w_p) with w_med the median
    weight, so the median rms over the footprint is sigma_pix, the level of
    ``noise_uk_arcmin`` (:func:`white_noise_sigma_uk`).

    Parameters
    ----------
    weights : ndarray
        Relative weights (> 0, finite) at the footprint's pixels: any multiple of the
        inverse variance (hit counts, an ivar map of any normalisation).
    noise_uk_arcmin : float
        Median white level, µK-arcmin (> 0).
    nside : int

    Returns
    -------
    ndarray of float64
    """
    if not noise_uk_arcmin > 0:
        raise ValueError(f"a depth map needs a white-noise level > 0, got {noise_uk_arcmin} µK-arcmin")
    rel_sigma = 1.0 / np.sqrt(np.asarray(weights, dtype=float))
    sigma = white_noise_sigma_uk(noise_uk_arcmin, nside) * rel_sigma / np.median(rel_sigma)
    return 1.0 / sigma**2


def white_noise_sigma_uk(noise_uk_arcmin: float, nside: int) -> float:
    """Pixel rms of white noise, µK: the µK-arcmin level over the pixel side (sqrt of area in arcmin^2)."""
    import healpy as hp

    return noise_uk_arcmin / np.sqrt(hp.nside2pixarea(nside, degrees=True) * 3600.0)


def level_uk_arcmin(ivar: np.ndarray, nside: int) -> np.ndarray:
    """White level in µK-arcmin of an inverse variance (µK^-2 per pixel): sqrt(pixel area / ivar)."""
    import healpy as hp

    return np.sqrt(hp.nside2pixarea(nside, degrees=True) * 3600.0 / np.asarray(ivar, dtype=float))
