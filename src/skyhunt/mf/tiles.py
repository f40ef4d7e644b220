"""Flat tangent-plane tiles covering the footprint, with overlap and apodization.

The matched filter is a Fourier-domain operation on flat maps. The footprint
(an RA/Dec box) is partitioned into *core* boxes, rows of equal height in
Dec and, within a row, equal widths in RA of about ``core_deg`` on the sky.
Each tile is a gnomonic (TAN) projection about its core's centre, large
enough to hold the core plus ``overlap_deg`` on every side, sampled from the
HEALPix maps by bilinear interpolation. Tiles are apodized (a cosine taper
over ``apodization_arcmin`` from the tile edge and the footprint edge) and a
detection is kept only by the tile whose core holds it, so neighbouring
tiles neither miss nor double-count clusters. Pixel convention as for
cutouts (:mod:`skyhunt.cutouts.grid`): ``a[iy, ix]`` north up, east left.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft
from scipy import ndimage

from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, tan_deproject, tan_project
from skyhunt.sky.footprint import Footprint


@dataclass(frozen=True)
class Tile:
    """One tile: its TAN centre (degrees) and the core box it is responsible for (degrees)."""

    index: int
    ra0: float
    dec0: float
    ra_lo: float
    ra_hi: float
    dec_lo: float
    dec_hi: float


@dataclass(frozen=True)
class TileLayout:
    """Tiles partitioning a footprint, all of ``npix`` x ``npix`` pixels of ``pixel_arcmin``.

    Attributes
    ----------
    tiles : list of Tile
    dec_edges : ndarray
        Edges of the Dec rows of cores, degrees.
    ra_edges : list of ndarray
        Per row, the RA edges of its cores, degrees.
    npix : int
    pixel_arcmin : float
    """

    tiles: list
    dec_edges: np.ndarray
    ra_edges: list
    npix: int
    pixel_arcmin: float

    @property
    def geometry(self) -> CutoutGeometry:
        return CutoutGeometry(self.npix * self.pixel_arcmin, self.npix)

    def core_index(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Index of the tile whose core box holds each position (-1 outside the footprint)."""
        ra = np.asarray(ra, dtype=float)
        dec = np.asarray(dec, dtype=float)
        row = np.searchsorted(self.dec_edges, dec, side="right") - 1
        row = np.where(dec == self.dec_edges[-1], row - 1, row)  # the top edge belongs to the last row
        out = np.full(ra.shape, -1, dtype=np.int64)
        first = 0
        for r, edges in enumerate(self.ra_edges):
            sel = row == r
            col = np.searchsorted(edges, ra[sel], side="right") - 1
            col = np.where(ra[sel] == edges[-1], col - 1, col)
            ok = (col >= 0) & (col < edges.size - 1)
            out[np.flatnonzero(sel)[ok]] = first + col[ok]
            first += edges.size - 1
        return out

    def pixel_positions(self, tile: Tile) -> tuple[np.ndarray, np.ndarray]:
        """RA and Dec (degrees) of the tile's pixel centres, shape (npix, npix)."""
        xi, eta = self.geometry.pixel_offsets()
        return tan_deproject(tile.ra0, tile.dec0, xi, eta)

    def pixel_of(self, tile: Tile, ra: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractional (iy, ix) tile pixel coordinates of sky positions."""
        xi, eta = tan_project(tile.ra0, tile.dec0, ra, dec)
        c = (self.npix - 1) / 2.0
        p = self.pixel_arcmin * ARCMIN
        return c - eta / p, c - xi / p

    def sky_of(self, tile: Tile, iy: np.ndarray, ix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Sky positions (degrees) of fractional tile pixel coordinates."""
        c = (self.npix - 1) / 2.0
        p = self.pixel_arcmin * ARCMIN
        return tan_deproject(tile.ra0, tile.dec0, (c - np.asarray(ix)) * p, (c - np.asarray(iy)) * p)


def make_layout(footprint: Footprint, core_deg: float, overlap_deg: float, pixel_arcmin: float) -> TileLayout:
    """Partition the footprint into core boxes and size the tiles around them.

    Parameters
    ----------
    footprint : Footprint
    core_deg : float
        Target side of a core on the sky, degrees (cores are at most this size).
    overlap_deg : float
        Extra margin of every tile beyond its core, degrees; must exceed the
        apodization width plus the filter's reach.
    pixel_arcmin : float
        Tile pixel side, arcmin.

    Returns
    -------
    TileLayout
        Tiles of one common size, ``scipy.fft.next_fast_len`` pixels (even).
    """
    n_rows = max(int(np.ceil((footprint.dec_max - footprint.dec_min) / core_deg - 1e-9)), 1)
    dec_edges = np.linspace(footprint.dec_min, footprint.dec_max, n_rows + 1)
    tiles, ra_edges = [], []
    half = 0.0
    for r in range(n_rows):
        d_lo, d_hi = dec_edges[r], dec_edges[r + 1]
        cos_min = np.cos(np.radians(min(abs(d_lo), abs(d_hi)) if d_lo * d_hi > 0 else 0.0))
        width_sky = (footprint.ra_max - footprint.ra_min) * cos_min
        n_cols = max(int(np.ceil(width_sky / core_deg - 1e-9)), 1)
        edges = np.linspace(footprint.ra_min, footprint.ra_max, n_cols + 1)
        ra_edges.append(edges)
        for c in range(n_cols):
            r_lo, r_hi = edges[c], edges[c + 1]
            ra0, dec0 = 0.5 * (r_lo + r_hi), 0.5 * (d_lo + d_hi)
            tiles.append(Tile(len(tiles), ra0, dec0, r_lo, r_hi, d_lo, d_hi))
            # the core's boundary in the tangent plane
            t = np.linspace(0.0, 1.0, 33)
            bra = np.concatenate(
                [r_lo + (r_hi - r_lo) * t, np.full(33, r_hi), r_lo + (r_hi - r_lo) * t, np.full(33, r_lo)]
            )
            bdec = np.concatenate(
                [np.full(33, d_lo), d_lo + (d_hi - d_lo) * t, np.full(33, d_hi), d_lo + (d_hi - d_lo) * t]
            )
            xi, eta = tan_project(ra0, dec0, bra, bdec)
            half = max(half, float(np.max(np.abs(np.concatenate([xi, eta])))) / ARCMIN)
    half += overlap_deg * 60.0
    npix = scipy.fft.next_fast_len(int(np.ceil(2.0 * half / pixel_arcmin)), real=True)
    npix += npix % 2
    return TileLayout(tiles, dec_edges, ra_edges, npix, pixel_arcmin)


def inside_mask(footprint: Footprint, ra: np.ndarray, dec: np.ndarray, margin_arcmin: float) -> np.ndarray:
    """Positions (degrees) at least ``margin_arcmin`` on the sky inside the footprint box."""
    m = margin_arcmin / 60.0
    cos_dec = np.cos(np.radians(dec))
    return (
        (dec >= footprint.dec_min + m)
        & (dec <= footprint.dec_max - m)
        & (ra >= footprint.ra_min + m / cos_dec)
        & (ra <= footprint.ra_max - m / cos_dec)
    )


def apodization(valid: np.ndarray, pixel_arcmin: float, width_arcmin: float) -> np.ndarray:
    """Cosine taper rising from 0 to 1 over ``width_arcmin`` away from invalid pixels and the tile edge.

    Parameters
    ----------
    valid : ndarray of bool, shape (ny, nx)
        Pixels with map data (inside the footprint, outside masked holes).
    pixel_arcmin : float
    width_arcmin : float

    Returns
    -------
    ndarray of float32
        ``sin^2(pi/2 min(d / width, 1))``, d the distance to the nearest
        invalid pixel or beyond the tile edge; exactly 1 where d >= width.
    """
    padded = np.pad(valid, 1, constant_values=False)
    dist = ndimage.distance_transform_edt(padded)[1:-1, 1:-1] * pixel_arcmin
    if width_arcmin <= 0:
        return (dist > 0).astype(np.float32)
    return (np.sin(0.5 * np.pi * np.clip((dist - 0.5 * pixel_arcmin) / width_arcmin, 0.0, 1.0)) ** 2).astype(
        np.float32
    )
