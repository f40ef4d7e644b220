"""Cluster search over partial HEALPix maps: tiles, filters, peaks, stitched into one catalogue.

DeepSZ section 2.1. For each tile of the layout (:mod:`skyhunt.mf.tiles`):
sample the bands by bilinear interpolation, apodize, build the filter bank
for the tile's noise (model or estimated from the tile), compute the SNR maps
of all scales, find groups, suppress side-lobes, and keep the detections in
the tile's own core and clear of the apodized border.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.fft
from scipy import ndimage
from scipy.spatial import cKDTree

from skyhunt.cutouts.extract import PatchInterpolator, PointSampler, interpolate_at
from skyhunt.cutouts.grid import interpolation_reach_arcmin
from skyhunt.mf import noise, templates
from skyhunt.mf.filter import FlatGrid, MatchedFilter
from skyhunt.mf.peaks import find_groups, suppress_sidelobes
from skyhunt.mf.tiles import TileLayout, apodization, inside_mask, make_layout
from skyhunt.sky.beam import beam_transfer
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.instrument import level_uk_arcmin
from skyhunt.sky.spectra import T_CMB_K, tsz_spectrum

if TYPE_CHECKING:
    from skyhunt.mf.transfer import ScanTransfer

log = logging.getLogger("skyhunt.mf")

#: Columns of a candidate table and their units.
CANDIDATE_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "snr": "",
    "scale_arcmin": "arcmin (beta-model core radius, or theta500 for Arnaud templates)",
    "scale_index": "",
    "y0": "Compton-y (template central value)",
    "y0_fixed": "Compton-y (central value, Arnaud template at mf.masses.reference_theta500_arcmin)",
    "snr_fixed": "",
    "tile": "",
    "stage": "",
}


def scale_snr_column(k: int) -> str:
    """Candidate column of the SNR of template scale ``k`` at the candidate's pixel, e.g. ``snr_s03``."""
    return f"snr_s{k:02d}"


def candidate_units(n_scales: int) -> dict:
    """Columns of a candidate table of a bank of ``n_scales`` templates: :data:`CANDIDATE_UNITS`, then
    the SNR of every scale at the candidate's pixel (the features of the vetting classifier)."""
    return {**CANDIDATE_UNITS, **{scale_snr_column(k): f"SNR of scale {k}" for k in range(n_scales)}}


@dataclass
class SearchInputs:
    """Everything the search needs besides the maps.

    Attributes
    ----------
    nside : int
    footprint : Footprint
    bands : list of dict
        ``sky.bands``.
    ps_cl : ndarray or None
        Point-source C_ell of the noise model, µK^2 sr, shape (n_bands, n_bands)
        (:func:`skyhunt.mf.pipeline.point_source_noise`); None when no sources are modelled.
    mf_cfg : dict
        ``mf`` config.
    cl_cmb : ndarray
        CMB C_ell, µK^2.
    components : list of str
        Sky components in the maps.
    holes : tuple of ndarray, optional
        (ra, dec) in degrees of sources to mask (``point_sources.treatment: mask``).
    scan_transfer : ScanTransfer, optional
        Measured transfer of the scan filter (``sky.scan_filter``), :mod:`skyhunt.mf.transfer`.
    red_noise : dict, optional
        ``sky.noise`` (red-noise correlation and regularisation); needed when a band has
        red noise (``ell_knee``).
    ivar : ndarray, shape (npix, n_bands), optional
        Inverse variance of each band's white noise at the maps' pixels, µK^-2 per pixel
        (depth maps; ``mf.noise: model`` only): each tile's model noise takes its mean
        depth, and the SNR is normalised to the local depth (:func:`local_noise`).
    """

    nside: int
    footprint: Footprint
    bands: list
    ps_cl: np.ndarray | None
    mf_cfg: dict
    cl_cmb: np.ndarray
    components: list
    holes: tuple | None = None
    scan_transfer: ScanTransfer | None = None
    red_noise: dict | None = None
    ivar: np.ndarray | None = None


def search_margin_arcmin(nside: int, mf_cfg: dict) -> float:
    """Distance from the footprint edge within which no detection is kept, arcmin.

    Tiles only sample the maps this far inside (the interpolation reach), and
    detections are kept only where the apodization weight is 1.
    """
    return interpolation_reach_arcmin(nside) + mf_cfg["tiles"]["apodization_arcmin"]


def sz_vector(bands: list[dict]) -> np.ndarray:
    """F_b = T_CMB f(x_b): µK_CMB per unit Compton-y in each band (non-relativistic)."""
    return T_CMB_K * 1e6 * tsz_spectrum([b["freq_ghz"] for b in bands])


def sky_transfer(inp: SearchInputs, kx: np.ndarray, ky: np.ndarray) -> np.ndarray:
    """Transfer function T_b(k) of sky signals into each band's map, before the map sampling.

    The band's beam b_ell (:func:`skyhunt.sky.beam.beam_transfer`: Gaussian, table or none,
    linearly interpolated to non-integer ell = |k|), and the HEALPix pixel window if
    ``mf.healpix_pixwin`` is set. Every sky signal (clusters, and the astrophysical terms of
    the noise model) is multiplied by it; the sampling window W(k) of
    :func:`skyhunt.mf.templates.interpolation_window` comes on top.

    Parameters
    ----------
    inp : SearchInputs
    kx, ky : ndarray
        Wavenumbers along RA and Dec, rad^-1 (broadcast together).

    Returns
    -------
    ndarray, shape (n_bands, *broadcast shape)
        Dimensionless.
    """
    ell = np.hypot(kx, ky)
    lmax = int(np.ceil(ell.max())) + 1
    out = np.stack([np.interp(ell, np.arange(lmax + 1), beam_transfer(b, lmax)) for b in inp.bands])
    if inp.mf_cfg["healpix_pixwin"]:
        out = out * templates.healpix_pixel_window(ell, inp.nside)
    return out


#: Aliases summed in the tile spectra: shifts of k by (i, j) 2 pi / p, |i|, |j| <= 1.
ALIASES = [(i, j) for i in (-1, 0, 1) for j in (-1, 0, 1)]


def alias_wavenumbers(grid: FlatGrid):
    """(k_x, k_y) of the tile's ``rfft2`` modes shifted to each alias of :data:`ALIASES`, rad^-1.

    Shapes (1, nx // 2 + 1) and (ny, 1), which broadcast to the modes' (ny, nx // 2 + 1).
    """
    ky0, kx0 = grid.wavenumbers()
    ky0, kx0 = ky0[:, :1], kx0[:1, :]
    k_nyq = 2.0 * np.pi / grid.pixel_rad
    for i, j in ALIASES:
        yield kx0 + i * k_nyq, ky0 + j * k_nyq


@dataclass(frozen=True)
class AliasModes:
    """One alias of a tile's ``rfft2`` modes and the parts of the tile spectra that do not depend on Dec.

    Attributes
    ----------
    kx, ky : ndarray, shapes (1, nx // 2 + 1) and (ny, 1)
        Wavenumbers of the alias (:func:`alias_wavenumbers`), rad^-1.
    ell : ndarray, shape (ny, nx // 2 + 1)
        Their modulus |k|, rad^-1.
    sky_t : ndarray, shape (nb, ny, nx // 2 + 1)
        :func:`sky_transfer` there, dimensionless.
    """

    kx: np.ndarray
    ky: np.ndarray
    ell: np.ndarray
    sky_t: np.ndarray


def alias_modes(inp: SearchInputs, grid: FlatGrid, cache: dict | None) -> list[AliasModes]:
    """The :class:`AliasModes` of every alias of :data:`ALIASES`, kept in ``cache`` (if given).

    Every tile of a layout has the same grid, so a search computes these once, not once per
    row of tiles (only the interpolation window and the scan transfer depend on the row's Dec).
    """
    key = ("aliases", grid)
    if cache is not None and key in cache:
        return cache[key]
    modes = [
        AliasModes(kx, ky, np.hypot(kx, ky), sky_transfer(inp, kx, ky)) for kx, ky in alias_wavenumbers(grid)
    ]
    if cache is not None:
        cache[key] = modes
    return modes


def alias_banks(inp: SearchInputs, modes: list[AliasModes], cache: dict | None) -> list[np.ndarray]:
    """The template bank of ``inp.mf_cfg`` on each alias's modes, float32, kept in ``cache`` (if given)."""
    key = ("bank", templates.bank_key(inp.mf_cfg), modes[0].ell.shape)
    if cache is not None and key in cache:
        return cache[key]
    banks = [templates.template_bank(m.ell, inp.mf_cfg)[1].astype(np.float32) for m in modes]
    if cache is not None:
        cache[key] = banks
    return banks


def alias_sky_noise(inp: SearchInputs, modes: list[AliasModes], cache: dict | None) -> list[np.ndarray]:
    """The beamed sky terms of the model noise on each alias's modes (:func:`skyhunt.mf.noise.beamed_sky`).

    Shape (nb, nb, ny, nx // 2 + 1) each, µK^2 sr; kept in ``cache`` (if given), as they depend
    on neither the row's Dec nor the tile's depth.
    """
    key = ("sky noise", modes[0].ell.shape)
    if cache is not None and key in cache:
        return cache[key]
    out = [
        noise.beamed_sky(
            noise.sky_terms(
                m.ell, inp.cl_cmb, inp.bands, inp.ps_cl, inp.mf_cfg["noise_model"], inp.components
            ),
            m.sky_t,
        )
        for m in modes
    ]
    if cache is not None:
        cache[key] = out
    return out


def tile_signal(inp: SearchInputs, grid: FlatGrid, dec0: float, cache: dict | None = None) -> np.ndarray:
    """Templates as seen in each band, ``F_b T_b t~_s`` summed over aliases, µK sr per unit y.

    The signal half of :func:`tile_spectra`; shape (n_scales, nb, ny, nx // 2 + 1), float32.
    ``cache``: where the Dec-independent terms (:func:`alias_modes`, :func:`alias_banks`) are
    kept between calls.
    """
    fsz = sz_vector(inp.bands)
    modes = alias_modes(inp, grid, cache)
    banks = alias_banks(inp, modes, cache)
    signal = np.zeros((banks[0].shape[0], len(inp.bands), grid.ny, grid.nx // 2 + 1), dtype=np.float32)
    tmp = np.empty_like(banks[0])
    for m, bank in zip(modes, banks, strict=True):
        window = templates.interpolation_window(m.kx, m.ky, inp.nside, dec0)
        band_t = (fsz[:, None, None] * m.sky_t * window).astype(np.float32)
        for b in range(len(inp.bands)):
            signal[:, b] += np.multiply(bank, band_t[b], out=tmp)
    if inp.scan_transfer is not None:
        signal *= inp.scan_transfer.at(grid, dec0)[0].astype(np.float32)
    return signal


def tile_noise(
    inp: SearchInputs, grid: FlatGrid, dec0: float, white_uk_arcmin=None, cache: dict | None = None
) -> np.ndarray:
    """Model cross-spectra of a tile centred at ``dec0``, summed over aliases, µK^2 sr.

    The noise half of :func:`tile_spectra`; shape (nb, nb, ny, nx // 2 + 1). It does not
    depend on the templates, so the search's bank and the reference filter share it.
    """
    nb = len(inp.bands)
    n_model = np.zeros((nb, nb, grid.ny, grid.nx // 2 + 1))
    modes = alias_modes(inp, grid, cache)
    for m, sky in zip(modes, alias_sky_noise(inp, modes, cache), strict=True):
        window = templates.interpolation_window(m.kx, m.ky, inp.nside, dec0)
        inst = noise.instrument_noise(m.ell, inp.bands, inp.red_noise, inp.nside, white_uk_arcmin)
        n_model += noise.model_spectra(sky, inst, window)
    if inp.scan_transfer is not None:
        n_model *= inp.scan_transfer.at(grid, dec0)[1]
    return n_model


def tile_spectra(
    inp: SearchInputs, grid: FlatGrid, dec0: float, white_uk_arcmin=None, cache: dict | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """Templates as seen in each band, and the model noise, for a tile centred at ``dec0``.

    The tile samples the bilinearly interpolated HEALPix maps at its pixels,
    so the continuous spectra (sky signal times the band's beam, and the
    HEALPix pixel window if configured, everything times the interpolation
    window W, see :func:`skyhunt.mf.templates.interpolation_window`) alias:
    a tile mode k holds the continuous modes k + 2 pi (i, j) / p. The
    interpolation window has zeros inside the tile band (its in-ring pixel
    spacing, 0.66' at nside 8192, exceeds two tile pixels), where only the
    aliases remain, so both the noise model and the templates sum the
    aliases in :data:`ALIASES`. With a scan filter, the templates are multiplied by its
    measured transfer T(k) of the tile's row and the model noise by its power transfer P(k)
    (:mod:`skyhunt.mf.transfer`): the filter acts on the maps after everything is summed.
    ``white_uk_arcmin`` is the tile's white level per band (µK-arcmin, from its depth maps;
    default ``noise_uk_arcmin``). ``cache``: as :func:`tile_signal`.

    Returns
    -------
    signal : ndarray, shape (n_scales, nb, ny, nx // 2 + 1)
        ``F_b T_b t~_s`` summed over aliases, µK sr per unit y.
    noise : ndarray, shape (nb, nb, ny, nx // 2 + 1) or None
        Model cross-spectra, µK^2 sr (None when ``mf.noise`` is ``maps``).
    """
    signal = tile_signal(inp, grid, dec0, cache)
    if inp.mf_cfg["noise"] != "model":
        return signal, None
    return signal, tile_noise(inp, grid, dec0, white_uk_arcmin, cache)


def search(maps: np.ndarray, pixels: np.ndarray, inp: SearchInputs, nthreads: int = 1) -> pd.DataFrame:
    """Matched-filter detections over the footprint.

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands), float32
        Partial maps in µK_CMB (bright sources already subtracted if so configured).
    pixels : ndarray of int
        Their sorted RING pixels.
    inp : SearchInputs
    nthreads : int
        Threads for the gather and the FFTs.

    Returns
    -------
    pandas.DataFrame
        One row per detection (columns of :func:`candidate_units` but
        ``stage``), sorted by decreasing SNR.
    """
    if inp.ivar is not None and inp.mf_cfg["noise"] != "model":
        raise ValueError("the depth maps' local SNR normalisation needs mf.noise: model")
    tcfg = inp.mf_cfg["tiles"]
    layout = make_layout(inp.footprint, tcfg["core_deg"], tcfg["overlap_deg"], tcfg["pixel_arcmin"])
    interp = PatchInterpolator(inp.nside, pixels)
    maps = np.ascontiguousarray(maps, dtype=np.float32)
    scales, _ = templates.template_bank(np.ones(1), inp.mf_cfg)
    out = []
    t0 = time.perf_counter()
    cache: dict = {}  # tiles of one row share their spectra (and, with model noise, their filter)
    for tile in layout.tiles:
        found = search_tile(layout, tile, interp, maps, inp, cache, nthreads)
        found["scale_arcmin"] = scales[found["scale_index"]]
        out.append(found)
    cand = (
        pd.concat(out, ignore_index=True)
        if out
        else pd.DataFrame(columns=[*candidate_units(scales.size), "depth"])
    )
    cand = cand[deduplicate_seams(cand)].drop(columns="depth")
    log.info(
        "%d tiles of %d^2 pixels (%.2f arcmin) in %.1f s: %d candidates above SNR %.1f",
        len(layout.tiles),
        layout.npix,
        layout.pixel_arcmin,
        time.perf_counter() - t0,
        len(cand),
        inp.mf_cfg["detection"]["snr_min"],
    )
    return cand.sort_values(["snr", "ra", "dec"], ascending=[False, True, True], ignore_index=True)


@dataclass
class TileSampling:
    """Where one tile samples the maps (:func:`tile_sampling`).

    Attributes
    ----------
    valid : ndarray of bool, shape (npix, npix)
        Tile pixels sampled from the maps (inside the footprint's interpolation reach and
        clear of masked sources); the others are 0.
    weight : ndarray, shape (npix, npix)
        Apodization weight (:func:`skyhunt.mf.tiles.apodization`), dimensionless.
    sampler : PointSampler
        Bilinear interpolation at the valid pixels' positions.
    """

    valid: np.ndarray
    weight: np.ndarray
    sampler: PointSampler


def tile_sampling(layout: TileLayout, tile, interp, inp: SearchInputs) -> TileSampling:
    """The valid pixels, apodization and interpolation of a tile: all that does not depend on the maps."""
    ra, dec = layout.pixel_positions(tile)
    valid = inside_mask(inp.footprint, ra, dec, interpolation_reach_arcmin(inp.nside))
    if inp.holes is not None and len(inp.holes[0]):
        hy, hx = layout.pixel_of(tile, *inp.holes)
        iy, ix = np.rint(hy).astype(np.int64), np.rint(hx).astype(np.int64)
        on = (iy >= 0) & (iy < layout.npix) & (ix >= 0) & (ix < layout.npix)
        seeds = np.ones(valid.shape, dtype=bool)
        seeds[iy[on], ix[on]] = False
        dist = ndimage.distance_transform_edt(seeds) * layout.pixel_arcmin
        valid &= dist > inp.mf_cfg["point_sources"]["mask_radius_arcmin"]
    weight = apodization(valid, layout.pixel_arcmin, inp.mf_cfg["tiles"]["apodization_arcmin"])
    v = valid.ravel()
    return TileSampling(valid, weight, PointSampler(interp, ra.ravel()[v], dec.ravel()[v]))


def sampled_tile(sampling: TileSampling, maps: np.ndarray) -> np.ndarray:
    """Apodized tile maps (n_bands, npix, npix) of the partial maps (npix, n_bands), µK."""
    nb = maps.shape[1]
    flat = np.zeros((nb, sampling.valid.size), dtype=np.float32)
    flat[:, sampling.valid.ravel()] = sampling.sampler(maps).T
    return flat.reshape(nb, *sampling.valid.shape) * sampling.weight


def tile_maps(layout: TileLayout, tile, interp, maps, inp: SearchInputs):
    """Apodized tile maps (n_bands, npix, npix) and the apodization weight."""
    sampling = tile_sampling(layout, tile, interp, inp)
    return sampled_tile(sampling, maps), sampling.weight


def tile_filter(
    inp: SearchInputs, grid: FlatGrid, dec0: float, maps_k, weight, cache: dict, white_uk_arcmin=None
) -> MatchedFilter:
    """The tile's filter bank: model noise, or noise estimated from its apodized maps (``mf.noise``).

    ``white_uk_arcmin``: the tile's white level per band (:func:`tile_depth`), default the
    bands' ``noise_uk_arcmin``. ``cache`` keeps, per row of tiles (and white level), each
    template bank's filter (or, for ``mf.noise: maps``, its signal), and the terms that do not
    depend on the row (:func:`tile_signal`); the banks of one row share its model noise and
    its inverse.
    """
    row = (dec0,) if white_uk_arcmin is None else (dec0, *white_uk_arcmin)
    key = ("filter", templates.bank_key(inp.mf_cfg), *row)
    if key not in cache:
        signal = tile_signal(inp, grid, dec0, cache)
        noise_key = ("noise filter", *row)  # the row's first filter of model noise
        if inp.mf_cfg["noise"] != "model":
            cache[key] = signal
        elif noise_key in cache:
            cache[key] = cache[noise_key].with_signal(signal)
        else:
            n_model = tile_noise(inp, grid, dec0, white_uk_arcmin, cache)
            cache[key] = cache[noise_key] = MatchedFilter(grid, n_model, signal)
    if inp.mf_cfg["noise"] == "model":
        return cache[key]
    n = noise.estimate_spectra(
        maps_k,
        grid.ell(),
        grid.pixel_rad,
        grid.npix,
        float(np.mean(weight.astype(np.float64) ** 2)),
        inp.mf_cfg["noise_ell_bin"],
        grid.mode_weight(),
    )
    return MatchedFilter(grid, n, cache[key])


@dataclass
class TileDepth:
    """The depth of one tile's bands.

    Attributes
    ----------
    ivar : ndarray, shape (nb, ny, nx)
        Inverse variance of the white noise sampled at the tile's pixels, µK^-2 per pixel
        (0 outside the tile's valid pixels).
    white_uk_arcmin : ndarray, shape (nb,)
        White level of the tile's model noise, µK-arcmin: that of the mean ivar over its
        valid pixels, to 3 significant digits (tiles of one row with nearly the same depth
        share a filter; :func:`local_noise` normalises to exactly this level).
    """

    ivar: np.ndarray
    white_uk_arcmin: np.ndarray


def reference_inputs(inp: SearchInputs) -> SearchInputs:
    """The search inputs of the fixed reference filter: one Arnaud template of θ500 = reference.

    nemo's "fixed" filter (Hilton et al. 2021, ACT DR5, section 2.3): every candidate's central
    Compton-y is also measured with the Arnaud et al. (2010) template of
    ``mf.masses.reference_theta500_arcmin`` (2.4′), truncated at ``mf.arnaud.truncation_r500``,
    whatever ``mf.template`` is, so that one filter-mismatch function Q(θ500) converts it to a mass.
    """
    mf_cfg = copy.deepcopy(inp.mf_cfg)
    mf_cfg["template"] = "arnaud"
    mf_cfg["arnaud"]["theta500_arcmin"] = [float(mf_cfg["masses"]["reference_theta500_arcmin"])]
    return replace(inp, mf_cfg=mf_cfg)


def fixed_scale_maps(
    inp: SearchInputs, grid: FlatGrid, dec0: float, maps_k, weight, depth, cache: dict, nthreads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Central Compton-y and SNR maps of the reference filter on one tile (nemo's fixed_y_c).

    The filter of :func:`reference_inputs` with the tile's own noise (model or maps) and depth
    normalisation, as the search's filter bank; its filters and variance terms are cached in
    ``cache`` with the search's (:func:`tile_filter`).

    Returns
    -------
    y0 : ndarray, shape (ny, nx)
        The reference filter's estimate of the central Compton-y at each pixel.
    snr : ndarray, shape (ny, nx)
        ``y0`` over its local noise rms.
    """
    ref = reference_inputs(inp)
    mf = tile_filter(ref, grid, dec0, maps_k, weight, cache, None if depth is None else depth.white_uk_arcmin)
    snr = mf.snr(maps_k, workers=nthreads)[0]
    y0 = snr * np.float32(mf.sigma[0])
    rel = local_noise(ref, grid, dec0, mf, depth, cache)
    return y0, snr if rel is None else snr / rel[0]


def tile_depth(layout: TileLayout, tile, interp, inp: SearchInputs, weight: np.ndarray) -> TileDepth | None:
    """Depth maps sampled on a tile (bilinear, as the maps), or None without depth maps."""
    if inp.ivar is None:
        return None
    ra, dec = layout.pixel_positions(tile)
    valid = weight > 0
    ivar = np.zeros((inp.ivar.shape[1], *valid.shape), dtype=np.float32)
    ivar[:, valid] = interpolate_at(interp, inp.ivar, ra[valid], dec[valid]).T
    levels = level_uk_arcmin(ivar[:, valid].mean(axis=1, dtype=np.float64), inp.nside)
    return TileDepth(ivar, np.array([float(f"{v:.3g}") for v in levels]))


def instrument_spectra(inp: SearchInputs, grid: FlatGrid, dec0: float, white_uk_arcmin) -> np.ndarray:
    """The instrument part of the tile's model noise: sum over aliases of W^2 N^inst, µK^2 sr.

    Times the scan filter's power transfer P(k) when the maps are scan-filtered, as in
    :func:`tile_spectra`.
    """
    out = 0.0
    for kx, ky in alias_wavenumbers(grid):
        window = templates.interpolation_window(kx, ky, inp.nside, dec0)
        inst = noise.instrument_noise(np.hypot(kx, ky), inp.bands, inp.red_noise, inp.nside, white_uk_arcmin)
        out = out + inst * window**2
    if inp.scan_transfer is not None:
        out = out * inp.scan_transfer.at(grid, dec0)[1]
    return out


def local_noise(
    inp: SearchInputs, grid: FlatGrid, dec0: float, mf: MatchedFilter, depth: TileDepth | None, cache: dict
) -> np.ndarray | None:
    """Local noise rms of each SNR map in units of the tile's, (n_scales, ny, nx); None without depth.

    The instrument noise of band b at x is the tile model's times
    r_b(x) = sqrt(ivar_tile,b / ivar_b(x)) (white and red alike,
    :func:`skyhunt.sky.pipeline.run_noise_map`); the sky terms do not change. Where the
    depth varies slowly on the filter's scale, the y0 variance at x is therefore

        sigma^2(x) = sigma^2 + sum_bb' [r_b(x) r_b'(x) - 1] V_bb',

    V_bb' the instrument part of the filter's variance per band pair
    (:meth:`skyhunt.mf.filter.MatchedFilter.variance_terms`). Dividing the SNR by
    sigma(x) / sigma makes it unit-variance everywhere, as nemo's SNR maps are (nemo divides
    by a noise map measured in cells; here it is exact for the model, with no cell noise
    and no bias from the clusters themselves).
    """
    if depth is None:
        return None
    key = ("variance", templates.bank_key(inp.mf_cfg), dec0, *depth.white_uk_arcmin)
    if key not in cache:
        terms = mf.variance_terms(instrument_spectra(inp, grid, dec0, depth.white_uk_arcmin))
        cache[key] = (terms / mf.sigma[:, None, None] ** 2).astype(np.float32)
    terms = cache[key]
    valid = depth.ivar > 0
    r = np.ones(depth.ivar.shape, dtype=np.float32)
    level = np.broadcast_to(depth.white_uk_arcmin[:, None, None], r.shape)
    r[valid] = level_uk_arcmin(depth.ivar[valid], inp.nside) / level[valid]
    var = np.einsum("sab,ayx,byx->syx", terms, r, r) + (1.0 - terms.sum(axis=(1, 2)))[:, None, None]
    return np.sqrt(var)


#: Tiles keep detections up to this far outside their core (arcmin); neighbouring tiles
#: measure a cluster on a seam at slightly different positions, so each may place it in the
#: other's core. :func:`deduplicate_seams` then keeps one of each pair.
SEAM_ARCMIN = 2.0

#: Detections of different tiles closer than this (arcmin) are one cluster seen twice.
DUPLICATE_ARCMIN = 1.0


def core_depth_arcmin(tile, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
    """Signed distance (arcmin) of positions inside the tile's core box: > 0 inside, < 0 outside."""
    cos_dec = np.cos(np.radians(dec))
    d = np.minimum.reduce(
        [(ra - tile.ra_lo) * cos_dec, (tile.ra_hi - ra) * cos_dec, dec - tile.dec_lo, tile.dec_hi - dec]
    )
    return d * 60.0


def deduplicate_seams(cand: pd.DataFrame) -> np.ndarray:
    """Keep-mask removing the second sighting of a cluster near a tile seam.

    Among detections of different tiles within :data:`DUPLICATE_ARCMIN`, the
    one deepest inside its own tile's core is kept, so a cluster on a seam
    (or a corner shared by four cores) is counted exactly once; detections
    outside their own core are kept only if no other tile saw them.
    """
    import healpy as hp

    n = len(cand)
    keep = np.ones(n, dtype=bool)
    if n < 2:
        return keep
    vec = hp.ang2vec(cand["ra"].to_numpy(), cand["dec"].to_numpy(), lonlat=True)
    pairs = cKDTree(vec).query_pairs(
        2.0 * np.sin(np.radians(DUPLICATE_ARCMIN / 60.0) / 2.0), output_type="ndarray"
    )
    tile = cand["tile"].to_numpy()
    depth = cand["depth"].to_numpy()
    pairs = pairs[tile[pairs[:, 0]] != tile[pairs[:, 1]]]
    order = np.lexsort((np.arange(n), -depth))  # deepest first
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    partners = [[] for _ in range(n)]
    for a, b in pairs:
        partners[a].append(b)
        partners[b].append(a)
    for i in order:
        if any(keep[j] and rank[j] < rank[i] for j in partners[i]):
            keep[i] = False
    return keep


def search_tile(
    layout: TileLayout, tile, interp, sky_maps, inp: SearchInputs, cache: dict, nthreads: int = 1
) -> pd.DataFrame:
    """Detections of one tile that lie in its core and where its apodization weight is 1."""
    maps, weight = tile_maps(layout, tile, interp, sky_maps, inp)
    depth = tile_depth(layout, tile, interp, inp, weight)
    grid = FlatGrid(layout.npix, layout.npix, layout.pixel_arcmin)
    maps_k = scipy.fft.rfft2(maps, axes=(-2, -1), workers=nthreads)
    mf = tile_filter(
        inp, grid, tile.dec0, maps_k, weight, cache, None if depth is None else depth.white_uk_arcmin
    )
    snr = mf.snr(maps_k, workers=nthreads)
    rel = local_noise(inp, grid, tile.dec0, mf, depth, cache)
    if rel is not None:
        snr /= rel
    det = inp.mf_cfg["detection"]
    g = find_groups(snr, det["snr_min"], det["centroid_fraction"])
    keep = suppress_sidelobes(
        g["ix"] * layout.pixel_arcmin,
        g["iy"] * layout.pixel_arcmin,
        g["snr"],
        det["sidelobe_radius_arcmin"],
        det["sidelobe_snr_ratio"],
    )
    ra, dec = layout.sky_of(tile, g["iy"], g["ix"])
    iy = np.clip(np.rint(g["iy"]).astype(np.int64), 0, layout.npix - 1)
    ix = np.clip(np.rint(g["ix"]).astype(np.int64), 0, layout.npix - 1)
    core = core_depth_arcmin(tile, ra, dec)
    keep &= (core > -SEAM_ARCMIN) & (weight[iy, ix] >= 1.0) & inside_mask(inp.footprint, ra, dec, 0.0)
    sigma = mf.sigma[g["scale"]] * (1.0 if rel is None else rel[g["scale"], iy, ix])
    y0_fixed, snr_fixed = fixed_scale_maps(inp, grid, tile.dec0, maps_k, weight, depth, cache, nthreads)
    return pd.DataFrame(
        {
            "ra": ra[keep],
            "dec": dec[keep],
            "depth": core[keep],
            "snr": g["snr"][keep],
            "scale_index": g["scale"][keep],
            "y0": (g["snr"] * sigma)[keep],
            "y0_fixed": y0_fixed[iy, ix][keep].astype(np.float64),
            "snr_fixed": snr_fixed[iy, ix][keep].astype(np.float64),
            "tile": np.full(int(keep.sum()), tile.index, dtype=np.int64),
            **{scale_snr_column(k): snr[k, iy, ix][keep].astype(np.float64) for k in range(snr.shape[0])},
        }
    )
