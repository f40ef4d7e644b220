"""Cutout grids on the sphere and the gnomonic (TAN) projection of each cutout.

DeepSZ (Lin et al. 2021, section 1.2) cuts the maps into 8' x 8' cutouts of
32 x 32 pixels whose centres are 6' apart, so neighbours share 2'. Unlike the
original code, the grid here is a true on-sky grid: rows are ``stride`` apart
in declination and, within a row, centres are ``stride`` apart on the sky
(the RA step grows as 1 / cos Dec).

Pixel convention: a cutout array ``a[iy, ix]`` is north up and east left as
displayed with ``imshow(a)`` (row 0 is the northern edge, column 0 the
eastern edge). Its centre is the tangent point, which lies on the corner
shared by the four central pixels; pixel (iy, ix) is centred at tangent-plane
offsets xi = ((npix - 1) / 2 - ix) * pix (east positive) and
eta = ((npix - 1) / 2 - iy) * pix (north positive).
"""

from __future__ import annotations

from dataclasses import dataclass

import ducc0
import numpy as np

from skyhunt.sky.footprint import Footprint

ARCMIN = np.pi / (180.0 * 60.0)


@dataclass(frozen=True)
class CutoutGeometry:
    """Size and sampling of a cutout.

    Parameters
    ----------
    size_arcmin : float
        Side of the square cutout, arcmin.
    npix : int
        Pixels per side.
    """

    size_arcmin: float
    npix: int

    @classmethod
    def from_config(cls, cutouts: dict) -> CutoutGeometry:
        """The geometry of config ``cutouts`` (size_arcmin, npix)."""
        return cls(cutouts["size_arcmin"], cutouts["npix"])

    @property
    def pixel_arcmin(self) -> float:
        """Pixel side, arcmin."""
        return self.size_arcmin / self.npix

    def pixel_offsets(self) -> tuple[np.ndarray, np.ndarray]:
        """Tangent-plane offsets of the pixel centres.

        Returns
        -------
        xi, eta : ndarray, shape (npix, npix)
            East and north offsets in radians, indexed [iy, ix].
        """
        k = ((self.npix - 1) / 2.0 - np.arange(self.npix)) * self.pixel_arcmin * ARCMIN
        eta, xi = np.meshgrid(k, k, indexing="ij")
        return xi, eta

    def reach_deg(self, margin_arcmin: float) -> float:
        """Distance from a cutout's centre that bounds the cutout plus ``margin_arcmin``, degrees.

        The half-diagonal bounds the cutout's extent in every direction.
        """
        return (self.size_arcmin / 2.0 * np.sqrt(2.0) + margin_arcmin) / 60.0


def tan_deproject(ra0_deg, dec0_deg, xi, eta) -> tuple[np.ndarray, np.ndarray]:
    """Sky positions of tangent-plane offsets around tangent points (inverse gnomonic).

    Parameters
    ----------
    ra0_deg, dec0_deg : array_like
        Tangent points, degrees; broadcast against ``xi`` and ``eta``.
    xi, eta : array_like
        East and north offsets in the tangent plane, radians.

    Returns
    -------
    ra, dec : ndarray
        Degrees, RA in [0, 360).
    """
    dec0 = np.radians(dec0_deg)
    sin0, cos0 = np.sin(dec0), np.cos(dec0)
    denom = cos0 - eta * sin0
    dec = np.arctan2(sin0 + eta * cos0, np.hypot(xi, denom))
    ra = np.radians(ra0_deg) + np.arctan2(xi, denom)
    return np.degrees(ra) % 360.0, np.degrees(dec)


def tan_project(ra0_deg, dec0_deg, ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray]:
    """Tangent-plane offsets (xi east, eta north; radians) of sky positions (gnomonic)."""
    dec0 = np.radians(dec0_deg)
    dec = np.radians(dec_deg)
    dra = np.radians(np.asarray(ra_deg) - ra0_deg)
    cos_c = np.sin(dec0) * np.sin(dec) + np.cos(dec0) * np.cos(dec) * np.cos(dra)
    xi = np.cos(dec) * np.sin(dra) / cos_c
    eta = (np.cos(dec0) * np.sin(dec) - np.sin(dec0) * np.cos(dec) * np.cos(dra)) / cos_c
    return xi, eta


@dataclass(frozen=True)
class Grid:
    """Centres of a staggered cutout grid.

    Attributes
    ----------
    ra, dec : ndarray
        Centres in degrees, ordered by row (south to north), then by RA.
    row, col : ndarray of int
        Grid row and position within the row.
    stride_arcmin : float
        Distance between neighbouring centres, arcmin.
    """

    ra: np.ndarray
    dec: np.ndarray
    row: np.ndarray
    col: np.ndarray
    stride_arcmin: float

    def __len__(self) -> int:
        return self.ra.size

    @classmethod
    def from_index(cls, index, stride_arcmin: float) -> Grid:
        """The grid of a cutout table with columns ra, dec (deg), grid_row and grid_col, in its row order."""
        return cls(
            index["ra"].to_numpy(),
            index["dec"].to_numpy(),
            index["grid_row"].to_numpy(),
            index["grid_col"].to_numpy(),
            stride_arcmin,
        )

    @classmethod
    def from_centres(cls, ra: np.ndarray, dec: np.ndarray, stride_arcmin: float = np.nan) -> Grid:
        """Arbitrary cutout centres (deg) as one grid row, in the given order."""
        n = np.size(ra)
        ra, dec = np.asarray(ra, float), np.asarray(dec, float)
        return cls(ra, dec, np.zeros(n, int), np.arange(n), stride_arcmin)

    def subset(self, mask: np.ndarray) -> Grid:
        """The centres where ``mask`` (bool, or indices) holds, in their order here."""
        return Grid(self.ra[mask], self.dec[mask], self.row[mask], self.col[mask], self.stride_arcmin)


def fits_inside(footprint: Footprint, geometry: CutoutGeometry, margin_arcmin: float, ra, dec) -> np.ndarray:
    """Whether whole cutouts centred at (ra, dec) (deg) stay ``margin_arcmin`` inside the footprint.

    The cutout's half-diagonal bounds its extent, as in :func:`make_grid`.
    """
    return footprint.padded(-geometry.reach_deg(margin_arcmin)).contains(ra, dec)


def make_grid(
    footprint: Footprint, geometry: CutoutGeometry, stride_arcmin: float, margin_arcmin: float
) -> Grid:
    """Grid of cutout centres whose whole cutout lies inside the footprint.

    Rows are ``stride_arcmin`` apart in Dec starting ``margin + half-size``
    above ``dec_min``; within a row the centres are ``stride_arcmin`` apart on
    the sky, starting at the row's first RA that keeps the cutout (at its
    widest, the edge nearer the pole) ``margin`` inside ``ra_min``.

    Parameters
    ----------
    footprint : Footprint
        The map footprint.
    geometry : CutoutGeometry
    stride_arcmin : float
        Centre spacing on the sky, arcmin (6' in DeepSZ; a quarter of the
        size for the denser grid of DeepSZ section 3.4.2).
    margin_arcmin : float
        Minimum distance between any cutout pixel and the footprint edge,
        arcmin (keeps interpolation inside the map).
    """
    reach = geometry.reach_deg(margin_arcmin)
    stride = stride_arcmin / 60.0
    dec_rows = np.arange(footprint.dec_min + reach, footprint.dec_max - reach + 1e-12, stride)
    ras, decs, rows, cols = [], [], [], []
    for r, dec in enumerate(dec_rows):
        widest = max(abs(dec - reach), abs(dec + reach))
        if widest >= 90.0:
            continue
        cos_w = np.cos(np.radians(widest))
        ra_lo = footprint.ra_min + reach / cos_w
        ra_hi = footprint.ra_max - reach / cos_w
        step = stride / np.cos(np.radians(dec))
        ra = np.arange(ra_lo, ra_hi + 1e-12, step)
        ras.append(ra)
        decs.append(np.full(ra.size, dec))
        rows.append(np.full(ra.size, r))
        cols.append(np.arange(ra.size))
    if not ras:
        raise ValueError(
            f"footprint {footprint} is too small for {geometry.size_arcmin}' cutouts with a "
            f"{margin_arcmin}' margin"
        )
    return Grid(
        np.concatenate(ras), np.concatenate(decs), np.concatenate(rows), np.concatenate(cols), stride_arcmin
    )


def interpolation_reach_arcmin(nside: int) -> float:
    """How far from a sample point bilinear interpolation may reach for pixels, arcmin.

    The four pixels used lie on the two rings bracketing the point, each at
    most about two pixel radii away; cutouts must stay this far inside the
    footprint (in addition to any configured margin).
    """
    # ducc0's HEALPix geometry, not healpy's: this runs in every Snakemake start (config validation)
    return float(2.0 * np.degrees(ducc0.healpix.Healpix_Base(nside, "RING").max_pixrad()) * 60.0)


def edge_margin_arcmin(cutouts: dict, nside: int) -> float:
    """Distance every cutout pixel keeps from the footprint edge, arcmin.

    Config ``cutouts.edge_margin_arcmin``, but at least :func:`interpolation_reach_arcmin` of the
    maps' ``nside``, so that interpolation stays inside the map.
    """
    return max(cutouts["edge_margin_arcmin"], interpolation_reach_arcmin(nside))


def standard_grid(footprint: Footprint, cutouts: dict, nside: int) -> Grid:
    """The grid of the cutout index: config ``cutouts`` (size, npix, stride) over ``footprint``.

    Cutouts keep :func:`edge_margin_arcmin` from the footprint edge (see :func:`make_grid`).
    """
    geometry = CutoutGeometry.from_config(cutouts)
    return make_grid(footprint, geometry, cutouts["stride_arcmin"], edge_margin_arcmin(cutouts, nside))


def recut_centres(
    ra_deg: np.ndarray, dec_deg: np.ndarray, offset_arcmin: np.ndarray, angle_deg: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Centres of cutouts that show objects at chosen offsets and angles (DeepSZ Fig. 9c).

    The object at (ra, dec) appears ``offset_arcmin`` from the new cutout's
    centre at position angle ``angle_deg`` (east of north), i.e. at
    tangent-plane offsets (xi, eta) = offset (sin angle, cos angle).

    Returns
    -------
    ra, dec : ndarray
        New centres, degrees (to be cut with
        :func:`skyhunt.cutouts.extract.extract_cutouts`).
    """
    r = np.asarray(offset_arcmin, dtype=float) * ARCMIN
    a = np.radians(angle_deg)
    # start from the object and step the opposite way, then refine once so the object,
    # projected in the new centre's own tangent plane, sits at the requested offset
    ra_c, dec_c = tan_deproject(ra_deg, dec_deg, -r * np.sin(a), -r * np.cos(a))
    xi, eta = tan_project(ra_c, dec_c, ra_deg, dec_deg)
    ra_c, dec_c = tan_deproject(ra_c, dec_c, xi - r * np.sin(a), eta - r * np.cos(a))
    return ra_c, dec_c
