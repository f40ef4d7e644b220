"""Fast extraction of many TAN cutouts from partial HEALPix maps.

The straightforward way calls ``healpy.get_interp_val`` once per cutout, band
and map. Here all maps are stacked into one (npix, nmaps) array, gathered and
weighted for all of them at once (``torch.nn.functional.embedding_bag``, a
fused multi-threaded gather-and-sum), and the HEALPix
bilinear weights are computed by ring arithmetic rather than per point:
all cutouts of a grid row share their pixels' colatitudes, so the rings
bracketing each pixel and the weights along the meridian are computed once
per row; per cutout only the longitude part remains. The weights are those
of ``healpy.get_interp_weights`` (HEALPix ``get_interpol``), so the output
agrees with the straightforward loop to float32 precision.
"""

from __future__ import annotations

import healpy as hp
import numpy as np
import torch

from skyhunt.cutouts.grid import CutoutGeometry, tan_deproject


class PatchInterpolator:
    """Bilinear (or nearest-pixel) interpolation on the pixels of a partial RING map.

    Parameters
    ----------
    nside : int
        HEALPix resolution.
    pixels : ndarray of int
        Sorted RING pixel indices of the partial maps.
    """

    def __init__(self, nside: int, pixels: np.ndarray):
        self.nside = nside
        self.pixels = np.asarray(pixels, dtype=np.int64)
        rings = np.arange(1, 4 * nside)
        startpix, nphi, cos_theta, _, _ = hp.ringinfo(nside, rings)
        self.startpix = startpix.astype(np.int64)
        self.nphi = nphi.astype(np.int64)
        self.theta = np.arccos(cos_theta)
        self.phi0 = hp.pix2ang(nside, self.startpix)[1]
        # where each ring's footprint pixels sit in `pixels`: first index, first j, count
        # `pixels` is sorted, so each ring's footprint pixels form one run
        run_start = np.flatnonzero(np.diff(self.pixels, prepend=-2) != 1)
        run_ring = np.searchsorted(self.startpix, self.pixels[run_start], side="right") - 1
        if np.any(np.diff(run_ring) == 0):
            raise ValueError("footprint pixels must form one contiguous run per ring (an RA box)")
        self.first = np.full(rings.size, -1, dtype=np.int64)
        self.count = np.zeros(rings.size, dtype=np.int64)
        self.lo = np.zeros(rings.size, dtype=np.int64)
        self.first[run_ring] = run_start
        self.count[run_ring] = np.diff(run_start, append=self.pixels.size)
        self.lo[run_ring] = self.pixels[run_start] - self.startpix[run_ring]

    def _ring_taps(self, ring: np.ndarray, phi: np.ndarray, idx: np.ndarray, w: np.ndarray) -> None:
        """Write the two pixels of ``ring`` bracketing ``phi``, and their weights, into ``idx`` and ``w``.

        ``ring`` (0-based) has the shape of the trailing axis of ``phi`` (a row
        template), so per-ring constants are looked up once per template
        point. ``idx`` and ``w`` are (..., 2) views receiving footprint indices
        and longitude weights. Cutouts may not straddle RA = 0: pixels on both
        sides of it are never adjacent in a footprint's pixel list.
        """
        tmp = (phi - self.phi0[ring]) * (self.nphi[ring] / (2.0 * np.pi))
        j = np.floor(tmp)
        w[..., 1] = tmp - j
        w[..., 0] = 1.0 - w[..., 1]
        k = j - self.lo[ring]  # position within the ring's run of footprint pixels
        if k.min() < 0 or np.any(k >= self.count[ring] - 1):
            raise ValueError(
                "interpolation needs pixels outside the map footprint; keep cutouts further from its edge"
            )
        idx[..., 0] = k + self.first[ring]
        idx[..., 1] = idx[..., 0] + 1

    def meridian(self, theta: np.ndarray):
        """Rings bracketing each colatitude and the weight of the southern one.

        Returns
        -------
        ring1, ring2 : ndarray of int
            0-based rings north and south of each point.
        w_theta : ndarray
            Weight of ``ring2``; ``ring1`` gets ``1 - w_theta``.
        """
        above = np.searchsorted(self.theta, theta, side="right")  # 1-based ring north of the point
        if np.any((above == 0) | (above >= self.theta.size)):
            raise ValueError("cutout pixels beyond the polar rings are not supported")
        ring1 = above - 1
        ring2 = above
        w_theta = (theta - self.theta[ring1]) / (self.theta[ring2] - self.theta[ring1])
        return ring1, ring2, w_theta.astype(np.float32)

    def taps(self, theta: np.ndarray, phi: np.ndarray, method: str = "bilinear"):
        """Footprint indices and weights interpolating at (theta, phi).

        Parameters
        ----------
        theta : ndarray, shape (m,)
            Colatitudes in radians (a row template).
        phi : ndarray, shape (n, m)
            Longitudes in radians, one row per cutout.
        method : {"bilinear", "nearest"}
            HEALPix bilinear interpolation (as ``healpy.get_interp_val``) or
            the value of the pixel containing the point.

        Returns
        -------
        idx : ndarray of int64, shape (n * m, ntap)
        w : ndarray of float32, shape (n * m, ntap)
        """
        if method == "bilinear":
            ring1, ring2, wt = self.meridian(theta)
            idx = np.empty((*phi.shape, 4), dtype=np.int64)
            w = np.empty((*phi.shape, 4), dtype=np.float32)
            self._ring_taps(ring1, phi, idx[..., :2], w[..., :2])
            self._ring_taps(ring2, phi, idx[..., 2:], w[..., 2:])
            w[..., :2] *= (1.0 - wt)[:, None]
            w[..., 2:] *= wt[:, None]
        elif method == "nearest":
            pix = hp.ang2pix(self.nside, np.broadcast_to(theta, phi.shape), phi)
            idx = np.searchsorted(self.pixels, pix)
            if np.any(self.pixels[np.minimum(idx, self.pixels.size - 1)] != pix):
                raise ValueError(
                    "cutout pixels fall outside the map footprint; keep cutouts further from its edge"
                )
            idx = idx[..., None]
            w = np.ones(idx.shape, dtype=np.float32)
        else:
            raise ValueError(f"unknown interpolation {method!r}: expected 'bilinear' or 'nearest'")
        return idx.reshape(-1, idx.shape[-1]), w.reshape(-1, w.shape[-1])


def extract_row(
    interp: PatchInterpolator,
    maps: torch.Tensor,
    ra0: np.ndarray,
    dec0: float,
    geometry: CutoutGeometry,
    method: str = "bilinear",
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Cut out all cutouts of one grid row (same centre declination).

    Parameters
    ----------
    interp : PatchInterpolator
    maps : torch.Tensor, shape (npix, nmaps), float32
        Partial maps stacked as columns, rows in ``interp.pixels`` order.
    ra0 : ndarray
        Centre RAs of the row's cutouts, degrees.
    dec0 : float
        Centre declination of the row, degrees.
    geometry : CutoutGeometry
    method : {"bilinear", "nearest"}
    out : ndarray, optional
        C-contiguous float32 array (e.g. rows of a memmap) of the output shape
        to write into.

    Returns
    -------
    ndarray, shape (len(ra0), nmaps, npix, npix), float32
        ``out`` if given.
    """
    xi, eta = geometry.pixel_offsets()
    # the row template: positions relative to a centre at RA 0 (shared by every cutout of the row)
    dra, dec = tan_deproject(0.0, dec0, xi.ravel(), eta.ravel())
    dra = (dra + 180.0) % 360.0 - 180.0  # signed RA offsets from the centre
    theta = np.radians(90.0 - dec)
    phi = np.radians(np.asarray(ra0, dtype=float))[:, None] + np.radians(dra)[None, :]
    idx, w = interp.taps(theta, phi, method)
    vals = torch.nn.functional.embedding_bag(
        torch.from_numpy(idx), maps, per_sample_weights=torch.from_numpy(w), mode="sum"
    )  # (ncut * npix^2, nmaps): one fused gather and weighted sum
    n = geometry.npix
    if out is None:
        out = np.empty((len(ra0), maps.shape[1], n, n), dtype=np.float32)
    torch.from_numpy(out).view(len(ra0), -1, n * n).copy_(vals.view(len(ra0), n * n, -1).permute(0, 2, 1))
    return out


def interpolate_at(
    interp: PatchInterpolator, maps: torch.Tensor, ra: np.ndarray, dec: np.ndarray, method: str = "bilinear"
) -> np.ndarray:
    """Values of the stacked partial maps at arbitrary positions (e.g. the pixels of a large flat tile).

    Parameters
    ----------
    interp : PatchInterpolator
    maps : torch.Tensor, shape (npix, nmaps), float32
        Partial maps stacked as columns, rows in ``interp.pixels`` order.
    ra, dec : ndarray
        Positions in degrees (any shape, flattened); all must lie far enough
        inside the footprint for the interpolation.
    method : {"bilinear", "nearest"}

    Returns
    -------
    ndarray, shape (ra.size, nmaps), float32
    """
    theta = np.radians(90.0 - np.ravel(dec))
    phi = np.radians(np.ravel(ra))[None, :]  # one "row" whose template is the points themselves
    idx, w = interp.taps(theta, phi, method)
    vals = torch.nn.functional.embedding_bag(
        torch.from_numpy(idx), maps, per_sample_weights=torch.from_numpy(w), mode="sum"
    )
    return vals.numpy()


def extract_cutouts(
    interp: PatchInterpolator,
    maps: torch.Tensor,
    ra: np.ndarray,
    dec: np.ndarray,
    geometry: CutoutGeometry,
    method: str = "bilinear",
) -> np.ndarray:
    """Cutouts at arbitrary centres (grouped by declination to share row templates).

    Parameters
    ----------
    ra, dec : ndarray
        Centres in degrees.

    Returns
    -------
    ndarray, shape (len(ra), nmaps, npix, npix), float32, in the order of ``ra``.
    """
    ra = np.asarray(ra, dtype=float)
    dec = np.asarray(dec, dtype=float)
    out = np.empty((ra.size, maps.shape[1], geometry.npix, geometry.npix), dtype=np.float32)
    rows, inverse = np.unique(dec, return_inverse=True)
    for r, dec0 in enumerate(rows):
        sel = np.flatnonzero(inverse == r)
        if sel[-1] - sel[0] + 1 == sel.size:  # a run of rows (as on a grid): write in place
            extract_row(interp, maps, ra[sel], dec0, geometry, method, out=out[sel[0] : sel[-1] + 1])
        else:
            out[sel] = extract_row(interp, maps, ra[sel], dec0, geometry, method)
    return out


def interpolation_reach_arcmin(nside: int) -> float:
    """How far from a sample point bilinear interpolation may reach for pixels, arcmin.

    The four pixels used lie on the two rings bracketing the point, each at
    most about two pixel radii away; cutouts must stay this far inside the
    footprint (in addition to any configured margin).
    """
    return float(2.0 * np.degrees(hp.max_pixrad(nside)) * 60.0)
