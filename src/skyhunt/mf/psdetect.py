"""Point sources found in the maps themselves (``mf.point_sources.treatment: detect``).

A first matched-filter pass per band, as nemo does for ACT (Hilton et al.
2021, ApJS 253, 3) before its cluster search: on every tile of the
cluster search's layout, each band is filtered for an unresolved source. The
template is the band's point response in the tile, i.e. exactly what a delta
source becomes there: the sky transfer T_b(k) (beam, HEALPix pixel window if
configured; :func:`skyhunt.mf.search.sky_transfer`) times the sampling window
W(k) of :func:`skyhunt.mf.templates.interpolation_window`, summed over the
aliases of :data:`skyhunt.mf.search.ALIASES`. The noise is the band's own
2-D power spectrum measured in the tile (:func:`smoothed_power`), so no
catalogue or model enters. Peaks above ``detect.snr_min`` are candidates;
each one's position, flux and SNR are fitted in the HEALPix map
(:func:`fit_fluxes`), those at ``snr_min`` or more are sources, they are
subtracted, and the pass repeated (:func:`detect_sources`).

Only positive fluxes are sources: clusters are decrements at 90 and 148 GHz
(and at 219 GHz, near the SZ null, a few per cent of that, positive). A
decrement's tile peaks are negative and not candidates; the positive lobes
of its filtered ring (and of a bright source's) are candidates, but the map
holds no positive flux there, so their HEALPix fits fail the SNR cut.
"""

from __future__ import annotations

import dataclasses
import logging
import time

import healpy as hp
import numpy as np
import pandas as pd
import scipy.fft
from scipy import ndimage

from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.mf import templates
from skyhunt.mf.filter import FlatGrid, MatchedFilter
from skyhunt.mf.peaks import find_groups
from skyhunt.mf.pointsources import subtract_fluxes
from skyhunt.mf.search import (
    SEAM_ARCMIN,
    SearchInputs,
    alias_wavenumbers,
    core_depth_arcmin,
    deduplicate_seams,
    sky_transfer,
    tile_maps,
)
from skyhunt.mf.tiles import inside_mask, make_layout
from skyhunt.sky.beam import beam_of
from skyhunt.sky.sources import paint_fluxes

log = logging.getLogger("skyhunt.mf")

#: Columns of the detected-source table and their units.
DETECTED_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "band": "",
    "snr": "",
    "flux_mjy": "mJy",
}


def point_response(inp: SearchInputs, grid: FlatGrid, dec0: float) -> np.ndarray:
    """Transform of a unit point source (1 µK sr) as seen in each band's tile map.

    ``sum_aliases T_b(k) W(k)``, dimensionless (µK sr per µK sr), on the
    ``rfft2`` modes of ``grid``, for a tile centred at ``dec0`` (degrees); times
    the scan filter's measured transfer when the maps are scan-filtered.

    Returns
    -------
    ndarray, shape (n_bands, ny, nx // 2 + 1)
    """
    out = np.zeros((len(inp.bands), grid.ny, grid.nx // 2 + 1))
    for kx, ky in alias_wavenumbers(grid):
        out += sky_transfer(inp, kx, ky) * templates.interpolation_window(kx, ky, inp.nside, dec0)
    if inp.scan_transfer is not None:
        out *= inp.scan_transfer.at(grid, dec0)[0]
    return out


def smoothed_power(map_k: np.ndarray, grid: FlatGrid, w2_mean: float, smooth_ell: float) -> np.ndarray:
    """Noise power of one band's apodized tile, its periodogram smoothed in the 2-D Fourier plane.

    ``N(k) = <|m~(k')|^2> p^2 / (n_pix <w^2>)`` averaged over a box of side
    ``smooth_ell`` around k (as nemo smooths the 2-D noise power for its
    filters). Unlike annuli (:func:`skyhunt.mf.noise.estimate_spectra`) it keeps
    the anisotropy of the HEALPix sampling, which matters at the high k a
    point-source filter weighs: interpolated white pixel noise along k_y has
    about half the power the separable window of
    :func:`skyhunt.mf.templates.interpolation_window` predicts, and keeps
    power where that window vanishes. On a tile of white noise at nside 8192
    the point-source SNR has a standard deviation of 0.98 with this estimate
    and 1.65 with annuli.

    Parameters
    ----------
    map_k : ndarray, shape (ny, nx // 2 + 1), complex
        ``rfft2`` of the apodized map, µK.
    grid : FlatGrid
    w2_mean : float
        Mean squared apodization weight.
    smooth_ell : float
        Box side in ell.

    Returns
    -------
    ndarray, shape (1, 1, ny, nx // 2 + 1)
        µK^2 sr.
    """
    power = np.abs(map_k) ** 2 * (grid.pixel_rad**2 / (grid.npix * w2_mean))
    dl = 2.0 * np.pi / (np.array([grid.ny, grid.nx]) * grid.pixel_rad)
    size = np.maximum(np.rint(smooth_ell / dl).astype(int) | 1, 1)
    return ndimage.uniform_filter(power, size=tuple(size), mode=("wrap", "reflect"))[None, None]


def find_peaks(maps: np.ndarray, interp, inp: SearchInputs, nthreads: int = 1) -> pd.DataFrame:
    """One point-source pass over every tile: candidate peaks above ``detect.snr_min`` per band.

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands), float32, C-contiguous
        Partial maps in µK_CMB.
    interp : PatchInterpolator
        For the maps' pixels.
    inp : SearchInputs
        As for the cluster search, with ``holes`` None.
    nthreads : int
        Threads for the FFTs.

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (deg, the SNR-weighted centroid), ``band`` (index into
        ``inp.bands``), ``snr``; a source seen by two tiles is listed once.
    """
    mf = inp.mf_cfg
    cfg = mf["point_sources"]["detect"]
    tcfg = mf["tiles"]
    layout = make_layout(inp.footprint, tcfg["core_deg"], tcfg["overlap_deg"], tcfg["pixel_arcmin"])
    grid = FlatGrid(layout.npix, layout.npix, layout.pixel_arcmin)
    cache: dict = {}
    rows = []
    for tile in layout.tiles:
        tmaps, weight = tile_maps(layout, tile, interp, maps, inp)
        maps_k = scipy.fft.rfft2(tmaps, axes=(-2, -1), workers=nthreads)
        if tile.dec0 not in cache:
            cache[tile.dec0] = point_response(inp, grid, tile.dec0)
        w2 = float(np.mean(weight.astype(np.float64) ** 2))
        for b in range(len(inp.bands)):
            n = smoothed_power(maps_k[b], grid, w2, cfg["noise_smooth_ell"])
            filt = MatchedFilter(grid, n, cache[tile.dec0][b][None, None])
            snr = filt.snr(maps_k[b : b + 1], workers=nthreads)
            p = find_groups(snr, cfg["snr_min"], mf["detection"]["centroid_fraction"])
            ra, dec = layout.sky_of(tile, p["iy"], p["ix"])
            iy = np.clip(np.rint(p["iy"]).astype(np.int64), 0, layout.npix - 1)
            ix = np.clip(np.rint(p["ix"]).astype(np.int64), 0, layout.npix - 1)
            depth = core_depth_arcmin(tile, ra, dec)
            keep = (depth > -SEAM_ARCMIN) & (weight[iy, ix] >= 1.0) & inside_mask(inp.footprint, ra, dec, 0.0)
            rows.append(
                pd.DataFrame(
                    {"ra": ra[keep], "dec": dec[keep], "band": b, "snr": p["snr"][keep], "tile": tile.index}
                ).assign(depth=depth[keep])
            )
    found = pd.concat(rows, ignore_index=True)
    keep = np.zeros(len(found), dtype=bool)
    for b in range(len(inp.bands)):
        sel = np.flatnonzero(found["band"].to_numpy() == b)
        keep[sel] = deduplicate_seams(found.iloc[sel].reset_index(drop=True))
    return found[keep].drop(columns=["tile", "depth"]).reset_index(drop=True)


def fit_fluxes(
    maps: np.ndarray, pixels: np.ndarray, nside: int, peaks: pd.DataFrame, bands: list[dict]
) -> pd.DataFrame:
    """Position, flux and significance of each peak, fitted to the HEALPix map of its band.

    The tile filter finds candidates, but it cannot measure them: without a
    beam a source is one HEALPix pixel, and interpolated HEALPix noise is
    neither stationary nor isotropic on the tile grid (its variance follows
    the pixel lattice), so the tile SNR misses a source's amplitude by up to
    half and has tails far heavier than Gaussian (hundreds of 5-sigma peaks
    per square degree of pure white noise). So each candidate is measured
    where the source lives: for every pixel within :data:`SNAP_ARCMIN` of
    the peak, least squares of the map in a disc of radius :data:`FIT_ARCMIN`
    (plus 1.7 beam FWHM) on a constant plus the source as painted there
    (:func:`skyhunt.sky.sources.paint_fluxes`, beam included); the
    pixel of largest fitted flux is the source's. The flux error is the
    residual scatter in the disc propagated through the fit (white pixel
    noise; the CMB and other smooth terms are nearly constant over the disc,
    and what is not only inflates the error).

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands)
        Partial maps, µK_CMB.
    pixels : ndarray of int
        Their sorted RING pixels.
    nside : int
    peaks : pandas.DataFrame
        From :func:`find_peaks`.
    bands : list of dict
        ``sky.bands``.

    Returns
    -------
    pandas.DataFrame
        ``peaks`` with ``pixel`` (RING index), ``ra``, ``dec`` (its centre,
        deg), ``flux_mjy`` and ``snr`` (fitted flux over its error) replacing
        the tile's.
    """
    out = {"pixel": [], "flux_mjy": [], "snr": []}
    for ra, dec, b in zip(peaks["ra"], peaks["dec"], peaks["band"], strict=True):
        band = bands[b]
        beam = beam_of(band)
        fwhm = 0.0 if beam is None else np.degrees(beam.fwhm_rad) * 60.0
        vec = hp.ang2vec(ra, dec, lonlat=True)
        disc = _present(hp.query_disc(nside, vec, np.radians((FIT_ARCMIN + 1.7 * fwhm) / 60.0)), pixels)
        cand = _present(hp.query_disc(nside, vec, np.radians(SNAP_ARCMIN / 60.0), inclusive=True), disc)
        values = maps[np.searchsorted(pixels, disc), b].astype(np.float64)
        values -= values.mean()
        best = (-np.inf, 0.0, -1)
        for c in cand:
            ra_c, dec_c = hp.pix2ang(nside, [c], lonlat=True)
            k = paint_fluxes(ra_c, dec_c, [1.0], band, nside, disc)  # µK per mJy
            k -= k.mean()
            norm = float(k @ k)
            flux = float(k @ values) / norm
            resid = values - flux * k
            err = np.sqrt(float(resid @ resid) / max(disc.size - 2, 1) / norm)
            best = max(best, (flux, flux / err, int(c)))
        out["flux_mjy"].append(best[0])
        out["snr"].append(best[1])
        out["pixel"].append(best[2])
    pix = np.asarray(out["pixel"], dtype=np.int64)
    ra, dec = hp.pix2ang(nside, pix, lonlat=True) if pix.size else (np.array([]), np.array([]))
    return peaks.assign(
        pixel=pix,
        ra=ra,
        dec=dec,
        flux_mjy=np.asarray(out["flux_mjy"], dtype=float),
        snr=np.asarray(out["snr"], dtype=float),
    )


#: Pixels within this distance of a tile peak (arcmin) may hold its source (:func:`fit_fluxes`).
SNAP_ARCMIN = 0.5

#: Radius of the disc a source's flux is fitted in, arcmin, beyond four beam sigmas (:func:`fit_fluxes`).
FIT_ARCMIN = 2.0


def _present(candidates: np.ndarray, pixels: np.ndarray) -> np.ndarray:
    """The sorted ``candidates`` that are in the sorted ``pixels``."""
    candidates = np.sort(candidates)
    loc = np.minimum(np.searchsorted(pixels, candidates), pixels.size - 1)
    return candidates[pixels[loc] == candidates]


def detect_sources(
    maps: np.ndarray,
    pixels: np.ndarray,
    inp: SearchInputs,
    nthreads: int = 1,
    scan_filter: dict | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Point sources above ``mf.point_sources.detect.snr_min`` in each band, from the maps alone.

    Passes of :func:`find_peaks` and :func:`fit_fluxes`, each subtracting
    what it found (in its own band, as painted: :func:`skyhunt.mf.pointsources.subtract_fluxes`)
    before the next, up to ``detect.max_passes`` or until a pass finds
    nothing. A bright source's filtered ring, and the faint sources next to
    it that the side-lobe suppression holds back, are seen only once it is
    gone; the tile noise estimates also lose the bright sources' power.

    Parameters
    ----------
    maps : ndarray, shape (npix, n_bands), float32
        Partial maps in µK_CMB (not modified).
    pixels : ndarray of int
        Their sorted RING pixels.
    inp : SearchInputs
        As for the cluster search (its ``holes`` are not used).
    nthreads : int
        Threads for the gather and the FFTs.
    scan_filter : dict, optional
        Config ``sky.scan_filter`` when the maps are scan-filtered: the found sources are
        subtracted filtered alike (their fluxes are fitted to the unfiltered shape, which the
        fit's constant offset and an ell_x cut far below the beam scale leave almost unbiased).

    Returns
    -------
    found : pandas.DataFrame
        One row per source and band it is detected in (columns of
        :data:`DETECTED_UNITS`; ``band`` is the ``sky.bands`` name, ``snr``
        that of its first detection, ``flux_mjy`` the sum over passes), sorted
        by band then decreasing SNR.
    cleaned : ndarray, shape (npix, n_bands), float32
        The maps with the found sources subtracted.
    """
    cfg = inp.mf_cfg["point_sources"]["detect"]
    inp = dataclasses.replace(inp, holes=None)
    cleaned = np.array(maps, dtype=np.float32, order="C")
    interp = PatchInterpolator(inp.nside, pixels)
    t0 = time.perf_counter()
    passes = []
    for _ in range(cfg["max_passes"]):
        peaks = fit_fluxes(cleaned, pixels, inp.nside, find_peaks(cleaned, interp, inp, nthreads), inp.bands)
        peaks = peaks[peaks["snr"] >= cfg["snr_min"]]
        if peaks.empty:
            break
        peaks = peaks.sort_values("snr", ascending=False, kind="stable").drop_duplicates(["band", "pixel"])
        passes.append(peaks)
        fluxes = np.zeros((len(peaks), len(inp.bands)))
        fluxes[np.arange(len(peaks)), peaks["band"].to_numpy()] = peaks["flux_mjy"].to_numpy()
        ra, dec = peaks["ra"].to_numpy(), peaks["dec"].to_numpy()
        subtract_fluxes(cleaned, pixels, inp.nside, ra, dec, fluxes, inp.bands, scan_filter)
    columns = ["ra", "dec", "band", "snr", "flux_mjy", "pixel"]
    found = pd.concat(passes, ignore_index=True) if passes else pd.DataFrame({c: [] for c in columns})
    found = (
        found.groupby(["band", "pixel"], as_index=False, sort=False)
        .agg(ra=("ra", "first"), dec=("dec", "first"), snr=("snr", "first"), flux_mjy=("flux_mjy", "sum"))
        .sort_values(["band", "snr", "pixel"], ascending=[True, False, True], ignore_index=True)
    )
    counts = np.bincount(found["band"].to_numpy(dtype=np.int64), minlength=len(inp.bands))
    log.info(
        "point-source passes (%d) in %.1f s: %s sources with SNR >= %.1f",
        len(passes),
        time.perf_counter() - t0,
        ", ".join(f"{n} at {b['name']}" for n, b in zip(counts, inp.bands, strict=True)),
        cfg["snr_min"],
    )
    names = np.array([b["name"] for b in inp.bands])
    found["band"] = names[found["band"].to_numpy(dtype=np.int64)]
    return found[list(DETECTED_UNITS)], cleaned
