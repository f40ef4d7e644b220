"""Noise cross-spectra between bands for the matched filter (DeepSZ section 2.1).

Two ways: the paper's model (:func:`model_spectra`), or spectra estimated
from the maps themselves (:func:`estimate_spectra`), for users without a
noise model. Both return the power of every band pair as C_ell in
µK_CMB^2 sr, on the 2-D wavenumber grid of a flat tile.
"""

from __future__ import annotations

import numpy as np

from skyhunt.sky.instrument import has_red_noise, red_correlation_matrix, red_noise_cl
from skyhunt.sky.sources import ELL_REF, band_correlation
from skyhunt.sky.spectra import tsz_spectrum

ARCMIN = np.pi / (180.0 * 60.0)


def _flat_dl_to_cl(ell: np.ndarray, d_ell: float) -> np.ndarray:
    """C_ell of a spectrum flat in D_ell (µK^2); 0 at ell = 0."""
    out = np.zeros_like(ell, dtype=float)
    pos = ell > 0
    out[pos] = d_ell * 2.0 * np.pi / (ell[pos] * (ell[pos] + 1.0))
    return out


def sky_terms(
    ell: np.ndarray,
    cl_cmb: np.ndarray,
    bands: list[dict],
    ps_cl: np.ndarray | None,
    noise_cfg: dict,
    components: list[str],
) -> np.ndarray:
    """Astrophysical noise of the paper's model, per band pair, before beams and windows.

    Terms (DeepSZ section 2.1), each included only when its component is in
    the noise stage's maps:

    * CMB: the CAMB lensed C_ell (0 beyond its lmax), identical in every band;
    * kinematic SZ: flat in D_ell with ``noise_cfg['ksz_d3000_uk2']``, identical in every band;
    * point sources: the white cross-spectrum ``ps_cl`` of the sources left in
      the maps (:func:`skyhunt.mf.pipeline.point_source_noise`), None when the maps hold none;
    * SZ background (always, as tSZ is in every stage): flat in D_ell with
      ``noise_cfg['sz_background_d3000_uk2']`` at ``sz_background_ref_ghz``,
      scaled to each band by the non-relativistic SZ spectrum, fully correlated.

    Parameters
    ----------
    ell : ndarray
        Wavenumbers, rad^-1.
    cl_cmb : ndarray
        CMB C_ell, µK^2, indexed by ell.
    bands : list of dict
        ``sky.bands`` entries.
    ps_cl : ndarray, shape (n_bands, n_bands), or None
        Point-source C_ell, µK_CMB^2 sr, flat in ell.
    noise_cfg : dict
        ``mf.noise_model``.
    components : list of str
        Sky components in the maps (e.g. from ``stage_components``).

    Returns
    -------
    ndarray, shape (n_bands, n_bands, *ell.shape)
        C_ell in µK_CMB^2 sr.
    """
    ell = np.asarray(ell, dtype=float)
    nb = len(bands)
    cmb = np.interp(ell, np.arange(cl_cmb.size), cl_cmb, right=0.0)
    common = cmb.copy()
    if "ksz" in components:
        common += _flat_dl_to_cl(ell, noise_cfg["ksz_d3000_uk2"])
    out = np.broadcast_to(common, (nb, nb, *ell.shape)).copy()
    f = tsz_spectrum([b["freq_ghz"] for b in bands]) / tsz_spectrum(noise_cfg["sz_background_ref_ghz"])
    out += np.multiply.outer(np.outer(f, f), _flat_dl_to_cl(ell, noise_cfg["sz_background_d3000_uk2"]))
    if ps_cl is not None:
        out += np.asarray(ps_cl, dtype=float).reshape(nb, nb, *([1] * ell.ndim))
    return out


def config_point_sources(bands: list[dict], point_sources_cfg: dict) -> np.ndarray:
    """Point-source C_ell of the whole population from the config, µK_CMB^2 sr, shape (nb, nb).

    DeepSZ section 2.1: flat in C_ell with the per-band ``ps_d3000_uk2`` of
    ``sky.bands`` (all sources, bright ones included), correlated between
    bands as the configured populations are
    (:func:`skyhunt.sky.sources.band_correlation`). For maps without a source
    catalogue (``mf.noise_model.point_sources: config``).
    """
    d = np.array([b["ps_d3000_uk2"] for b in bands], dtype=float)
    return (
        np.sqrt(np.outer(d, d))
        * band_correlation(point_sources_cfg, bands)
        * 2.0
        * np.pi
        / (ELL_REF * (ELL_REF + 1.0))
    )


def instrument_noise(
    ell: np.ndarray, bands: list[dict], red_cfg: dict | None, nside: int, white_uk_arcmin=None
) -> np.ndarray:
    """Instrument noise per band pair, µK_CMB^2 sr: white plus red (atmospheric), not beamed.

    ``N_bb'(ell) = delta_bb' N_white,b + R_bb' sqrt(N_red,b N_red,b')`` with
    N_white,b = (noise_uk_arcmin,b arcmin)^2, the red spectrum and its band correlation R of
    :mod:`skyhunt.sky.instrument` (the same functions that make the maps). With a tile's
    white level (from its depth maps) both parts scale by (white / noise_uk_arcmin)^2, as
    the simulated noise does (:func:`skyhunt.sky.pipeline.run_noise_map`).

    Parameters
    ----------
    ell : ndarray
        Wavenumbers, rad^-1.
    bands : list of dict
        ``sky.bands`` entries (``noise_uk_arcmin``; ``ell_knee``, ``alpha_knee`` for red noise).
    red_cfg : dict or None
        ``sky.noise`` (``red_correlation``, ``red_ell_min``, ``red_cut_fraction``); may be
        None only when no band has red noise.
    nside : int
        HEALPix resolution of the maps (caps the red noise's lmax).
    white_uk_arcmin : array_like, optional
        White level of each band in this tile, µK-arcmin (default ``noise_uk_arcmin``).

    Returns
    -------
    ndarray, shape (n_bands, n_bands, *ell.shape)
        µK^2 sr.
    """
    ell = np.asarray(ell, dtype=float)
    nb = len(bands)
    levels = np.array(
        [b["noise_uk_arcmin"] for b in bands] if white_uk_arcmin is None else white_uk_arcmin, dtype=float
    )
    out = np.zeros((nb, nb, *ell.shape))
    idx = np.arange(nb)
    out[idx, idx] = ((levels * ARCMIN) ** 2).reshape(-1, *([1] * ell.ndim))
    if any(has_red_noise(b) for b in bands):
        if red_cfg is None:
            raise ValueError("bands with red noise (ell_knee) need the sky.noise config")
        amp = np.sqrt(
            np.stack(
                [red_noise_cl(ell, b, red_cfg, nside, lev) for b, lev in zip(bands, levels, strict=True)]
            )
        )
        corr = red_correlation_matrix([b["name"] for b in bands], red_cfg)
        out += corr.reshape(nb, nb, *([1] * ell.ndim)) * amp[:, None] * amp[None, :]
    return out


def model_spectra(beamed: np.ndarray, instrument: np.ndarray, map_window: np.ndarray) -> np.ndarray:
    """Noise cross-spectra of flat tiles under the model.

    ``N_bb'(k) = W(k)^2 [T_b(k) T_b'(k) C^sky_bb'(k) + N^inst_bb'(k)]``, where
    T_b is the transfer of sky signals (beam, and the HEALPix pixel window if
    the maps carry it) and W the transfer of the map sampling (bilinear
    interpolation, which acts on noise pixels and sky alike). The instrument
    noise (white and red) is in the maps unbeamed, so it gets W^2 only.

    Parameters
    ----------
    beamed : ndarray, shape (nb, nb, ...)
        The sky part ``T_b T_b' C^sky_bb'`` (:func:`beamed_sky`), µK^2 sr.
    instrument : ndarray, shape (nb, nb, ...)
        From :func:`instrument_noise`, µK^2 sr.
    map_window : ndarray, shape (...)
        W(k).

    Returns
    -------
    ndarray, shape (nb, nb, ...)
        µK^2 sr.
    """
    return (beamed + instrument) * map_window**2


def beamed_sky(sky_cl: np.ndarray, sky_transfer: np.ndarray) -> np.ndarray:
    """The sky part of :func:`model_spectra`, ``T_b T_b' C^sky_bb'``, µK^2 sr, shape (nb, nb, ...).

    It depends on neither the tile's Dec nor its depth, so a search computes it once per alias
    (:func:`skyhunt.mf.search.alias_sky_noise`).

    Parameters
    ----------
    sky_cl : ndarray, shape (nb, nb, ...)
        From :func:`sky_terms`, µK^2 sr.
    sky_transfer : ndarray, shape (nb, ...)
        T_b(k), dimensionless.
    """
    return sky_cl * sky_transfer[:, None] * sky_transfer[None, :]


def estimate_spectra(
    maps_k: np.ndarray,
    ell: np.ndarray,
    pixel_rad: float,
    npix: int,
    w2_mean: float,
    bin_width: float,
    mode_weight: np.ndarray,
) -> np.ndarray:
    """Cross-spectra between bands estimated from the (apodized) tile maps themselves.

    ``N_bb'(ell) = <Re(m~_b m~_b'^*)> p^2 / (n_pix <w^2>)``, averaged over the
    modes in annuli of width ``bin_width`` in ell (an isotropic estimate; the
    average of rank-one positive matrices stays positive definite). The
    estimate includes every sky component actually in the maps, clusters
    included, as a real survey's would.

    Parameters
    ----------
    maps_k : ndarray, shape (nb, ny, nx // 2 + 1), complex
        ``scipy.fft.rfft2`` of the apodized maps, µK.
    ell : ndarray, shape (ny, nx // 2 + 1)
        |k| of the modes, rad^-1.
    pixel_rad : float
        Tile pixel side, rad.
    npix : int
        Pixels in the tile.
    w2_mean : float
        Mean of the squared apodization weight over the tile.
    bin_width : float
        Annulus width in ell.
    mode_weight : ndarray, shape (ny, nx // 2 + 1)
        How many modes of the full plane each rfft mode stands for (1 or 2).

    Returns
    -------
    ndarray, shape (nb, nb, ny, nx // 2 + 1)
        µK^2 sr, piecewise constant in ell.
    """
    nb = maps_k.shape[0]
    b = (ell / bin_width).astype(np.int64).ravel()
    nbin = int(b.max()) + 1
    wt = mode_weight.ravel()
    counts = np.bincount(b, weights=wt, minlength=nbin)
    norm = pixel_rad**2 / (npix * w2_mean)
    out = np.empty((nb, nb, *ell.shape))
    for i in range(nb):
        for j in range(i, nb):
            cross = (maps_k[i] * np.conj(maps_k[j])).real.ravel() * wt
            binned = np.bincount(b, weights=cross, minlength=nbin) / np.maximum(counts, 1.0) * norm
            out[i, j] = out[j, i] = binned[b].reshape(ell.shape)
    return out
