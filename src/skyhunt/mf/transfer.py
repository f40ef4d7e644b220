"""The scan filter's transfer function on the matched filter's tiles, measured with simulations.

The scan-synchronous filter (:mod:`skyhunt.sky.scan`) acts on the HEALPix maps, ring by ring,
so its effect on a tile of the matched filter (:mod:`skyhunt.mf.tiles`) depends on the scan
length (the footprint's RA width times cos Dec) and passes through the tile's projection,
interpolation and apodization. As SPT does (Schaffer et al. 2011; Bleem et al. 2015), it is
measured by passing simulated skies through the same filter: ``realisations`` Gaussian fields of
a known isotropic spectrum (unit white noise on the footprint's pixels, C_ell = Omega_pix µK^2 sr,
flat over the whole tile band) are filtered, input and output are sampled onto every tile
exactly as the search samples maps (:func:`skyhunt.mf.search.tile_maps`), and per tile row

    T(k) = <Re(F_out F_in^*)> / <|F_in|^2>,    P(k) = <|F_out|^2> / <|F_in|^2>

on the tile's ``rfft2`` grid, averaged over realisations, the row's tiles and the pair of modes
(k_x, +-k_y) (the filter is the same on every ring). T multiplies the
templates (the filter acts on the clusters); P multiplies the model noise. P = T^2 for a filter
that is diagonal in the tile's modes; the tile's apodization mixes neighbouring modes, so P also
holds the power leaking into filtered-out modes (P >= T^2 always), which keeps the filter
weights ``T / P`` bounded where T vanishes.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.fft
from astropy.io import fits

from skyhunt import io
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.mf.filter import FlatGrid
from skyhunt.mf.search import SearchInputs, tile_maps
from skyhunt.mf.tiles import TileLayout, make_layout
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.scan import filter_scans

log = logging.getLogger("skyhunt.mf")

#: White fields filtered and sampled per pass (bounds the memory to a few maps of the footprint).
FIELDS_PER_PASS = 4


@dataclass(frozen=True)
class ScanTransfer:
    """Measured transfer of the scan filter, one table per tile row.

    Attributes
    ----------
    dec0_deg : ndarray, shape (rows,)
        Centre declination of each tile row, degrees (increasing).
    transfer : ndarray, shape (rows, npix, npix // 2 + 1)
        T(k_y, k_x) on the tile's ``rfft2`` grid, dimensionless.
    power : ndarray, shape (rows, npix, npix // 2 + 1)
        P(k_y, k_x), the power transfer, dimensionless.
    npix : int
        Tile side, pixels.
    pixel_arcmin : float
        Tile pixel side, arcmin.
    """

    dec0_deg: np.ndarray
    transfer: np.ndarray
    power: np.ndarray
    npix: int
    pixel_arcmin: float

    def at(self, grid: FlatGrid, dec0: float) -> tuple[np.ndarray, np.ndarray]:
        """T and P of the tile row centred at ``dec0`` (degrees) on ``grid``."""
        same_pixel = np.isclose(grid.pixel_arcmin, self.pixel_arcmin)
        if (grid.ny, grid.nx) != (self.npix, self.npix) or not same_pixel:
            raise ValueError(
                f"scan transfer is for {self.npix}^2 tiles of {self.pixel_arcmin}', "
                f"not {grid.ny}x{grid.nx} of {grid.pixel_arcmin}'"
            )
        row = np.flatnonzero(np.isclose(self.dec0_deg, dec0, rtol=0.0, atol=1e-9))
        if row.size != 1:
            raise ValueError(f"scan transfer has no tile row at Dec {dec0} deg (rows at {self.dec0_deg})")
        return self.transfer[row[0]], self.power[row[0]]

    def matches(self, layout: TileLayout) -> bool:
        """Whether the tables are those of ``layout`` (tile size, pixel and row declinations)."""
        rows = np.unique([t.dec0 for t in layout.tiles])
        return (
            self.npix == layout.npix
            and np.isclose(self.pixel_arcmin, layout.pixel_arcmin)
            and rows.size == self.dec0_deg.size
            and bool(np.allclose(rows, self.dec0_deg, rtol=0.0, atol=1e-9))
        )


def tile_layout(footprint: Footprint, tiles: dict) -> TileLayout:
    """The matched filter's tile layout of the ``mf.tiles`` config (degrees, arcmin)."""
    return make_layout(footprint, tiles["core_deg"], tiles["overlap_deg"], tiles["pixel_arcmin"])


def measure_scan_transfer(
    nside: int,
    footprint: Footprint,
    scan_filter: dict,
    tiles: dict,
    realisations: int,
    rng: np.random.Generator,
    nthreads: int = 1,
) -> ScanTransfer:
    """Measure the scan filter's transfer on the matched filter's tiles (see the module docstring).

    Parameters
    ----------
    nside : int
        HEALPix resolution of the maps.
    footprint : Footprint
    scan_filter : dict
        Config ``sky.scan_filter`` (:func:`skyhunt.sky.scan.filter_scans`).
    tiles : dict
        Config ``mf.tiles`` (``core_deg``, ``overlap_deg`` in degrees, ``pixel_arcmin``,
        ``apodization_arcmin`` in arcmin).
    realisations : int
        Number of simulated white fields.
    rng : numpy.random.Generator
    nthreads : int
        Threads of the FFTs.

    Returns
    -------
    ScanTransfer
    """
    t0 = time.perf_counter()
    pixels = footprint.pixels(nside)
    layout = tile_layout(footprint, tiles)
    inp = SearchInputs(nside, footprint, [], {}, {"tiles": tiles}, np.zeros(0), [])
    interp = PatchInterpolator(nside, pixels)
    rows = np.unique([t.dec0 for t in layout.tiles])
    shape = (rows.size, layout.npix, layout.npix // 2 + 1)
    cross, p_in, p_out = np.zeros(shape), np.zeros(shape), np.zeros(shape)
    for first in range(0, realisations, FIELDS_PER_PASS):
        count = min(FIELDS_PER_PASS, realisations - first)
        white = rng.standard_normal((pixels.size, count))
        maps = np.ascontiguousarray(
            np.concatenate([white, filter_scans(nside, pixels, white, scan_filter)], axis=1), dtype=np.float32
        )
        del white
        for tile in layout.tiles:
            tmaps, _ = tile_maps(layout, tile, interp, maps, inp)
            f = scipy.fft.rfft2(tmaps.astype(np.float64), axes=(-2, -1), workers=nthreads)
            f_in, f_out = f[:count], f[count:]
            r = int(np.searchsorted(rows, tile.dec0))
            cross[r] += np.sum(f_out.real * f_in.real + f_out.imag * f_in.imag, axis=0)
            p_in[r] += np.sum(np.abs(f_in) ** 2, axis=0)
            p_out[r] += np.sum(np.abs(f_out) ** 2, axis=0)
    # the filter acts alike on every ring, so it is symmetric under Dec -> -Dec about the tile
    # centre: T(kx, ky) = T(kx, -ky); summing both halves the variance of the estimate
    flip = (-np.arange(layout.npix)) % layout.npix
    cross, p_in, p_out = (a + a[:, flip] for a in (cross, p_in, p_out))
    log.info(
        "scan transfer from %d white fields on %d tiles (%d rows) in %.1f s",
        realisations,
        len(layout.tiles),
        rows.size,
        time.perf_counter() - t0,
    )
    return ScanTransfer(rows, cross / p_in, p_out / p_in, layout.npix, layout.pixel_arcmin)


def write_scan_transfer(path, st: ScanTransfer, header: dict) -> None:
    """Write a :class:`ScanTransfer` to FITS.

    HDUs: ``TRANSFER`` and ``POWER`` (rows, k_y, k_x) images, dimensionless; ``KX`` and ``KY``,
    the wavenumbers of the ``rfft2`` axes in rad^-1 (= multipole; k_x along RA, k_y along Dec,
    in ``scipy.fft`` order); ``DEC0``, each row's tile-centre declination in degrees. The primary
    header carries ``NPIX``, ``PIXARCM`` and the cards of ``header`` (``{key: (value, comment)}``).
    """
    grid = FlatGrid(st.npix, st.npix, st.pixel_arcmin)
    ky, kx = grid.wavenumbers()
    primary = fits.PrimaryHDU()
    primary.header["NPIX"] = (st.npix, "tile side [pixels]")
    primary.header["PIXARCM"] = (st.pixel_arcmin, "tile pixel side [arcmin]")
    for key, val in header.items():
        primary.header[key] = val
    hdus = [primary]
    for name, data, unit, comment in (
        ("TRANSFER", st.transfer, "", "T(k) = <Re(F_out F_in*)> / <|F_in|^2>, (row, ky, kx)"),
        ("POWER", st.power, "", "P(k) = <|F_out|^2> / <|F_in|^2>, (row, ky, kx)"),
        ("KX", np.ascontiguousarray(kx[0]), "rad-1", "wavenumber along RA of the rfft2 columns"),
        ("KY", np.ascontiguousarray(ky[:, 0]), "rad-1", "wavenumber along Dec of the rfft2 rows"),
        ("DEC0", st.dec0_deg, "deg", "centre declination of each tile row"),
    ):
        hdu = fits.ImageHDU(np.asarray(data, dtype=np.float64), name=name)
        hdu.header["BUNIT"] = (unit, comment)
        hdus.append(hdu)
    hdul = fits.HDUList(hdus)
    for h in hdul:
        h.add_checksum(when="skyhunt")  # a fixed comment, not a timestamp: same inputs, same bytes
    with io.atomic_output(path) as tmp:
        hdul.writeto(tmp, overwrite=True)
