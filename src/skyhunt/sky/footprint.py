"""The survey footprint: an RA/Dec box on the sphere and its HEALPix pixels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Footprint:
    """A box in equatorial coordinates, ``ra_min <= RA <= ra_max``, ``dec_min <= Dec <= dec_max``.

    Parameters
    ----------
    ra_min, ra_max : float
        Right-ascension limits in degrees, ``0 <= ra_min < ra_max <= 360``.
    dec_min, dec_max : float
        Declination limits in degrees, ``-90 <= dec_min < dec_max <= 90``.
    """

    ra_min: float
    ra_max: float
    dec_min: float
    dec_max: float

    def __post_init__(self):
        if not 0.0 <= self.ra_min < self.ra_max <= 360.0:
            raise ValueError(
                f"footprint needs 0 <= ra_min < ra_max <= 360 deg, got {self.ra_min}, {self.ra_max}"
            )
        if not -90.0 <= self.dec_min < self.dec_max <= 90.0:
            raise ValueError(
                f"footprint needs -90 <= dec_min < dec_max <= 90 deg, got {self.dec_min}, {self.dec_max}"
            )

    @classmethod
    def from_config(cls, cfg: dict) -> Footprint:
        """Build from the ``sky.footprint`` config mapping (keys in degrees)."""
        return cls(cfg["ra_min"], cfg["ra_max"], cfg["dec_min"], cfg["dec_max"])

    @property
    def area_deg2(self) -> float:
        """Solid angle of the box in square degrees."""
        d_sin = np.sin(np.radians(self.dec_max)) - np.sin(np.radians(self.dec_min))
        return float((self.ra_max - self.ra_min) * np.degrees(d_sin))

    def padded(self, margin_deg: float) -> Footprint:
        """The box grown by ``margin_deg`` on every side (on the sky, RA scaled by 1/cos Dec)."""
        dec_min = max(self.dec_min - margin_deg, -90.0)
        dec_max = min(self.dec_max + margin_deg, 90.0)
        cos_dec = np.cos(np.radians(max(abs(dec_min), abs(dec_max))))
        d_ra = margin_deg / max(cos_dec, 1e-3)
        return Footprint(max(self.ra_min - d_ra, 0.0), min(self.ra_max + d_ra, 360.0), dec_min, dec_max)

    def contains(self, ra: np.ndarray, dec: np.ndarray) -> np.ndarray:
        """Boolean mask of positions (degrees) inside the box."""
        ra = np.asarray(ra)
        dec = np.asarray(dec)
        return (ra >= self.ra_min) & (ra <= self.ra_max) & (dec >= self.dec_min) & (dec <= self.dec_max)

    def sample_uniform(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` positions uniform on the sphere inside the box.

        Returns
        -------
        ra, dec : ndarray
            Degrees.
        """
        ra = rng.uniform(self.ra_min, self.ra_max, n)
        s0, s1 = np.sin(np.radians([self.dec_min, self.dec_max]))
        dec = np.degrees(np.arcsin(rng.uniform(s0, s1, n)))
        return ra, dec

    def rings(self, nside: int) -> np.ndarray:
        """RING-scheme ring numbers (1-based) whose centres lie inside the Dec range."""
        import healpy as hp

        ring = np.arange(1, 4 * nside)
        startpix = hp.ringinfo(nside, ring)[0].astype(np.int64)
        dec = hp.pix2ang(nside, startpix, lonlat=True)[1]
        return ring[(dec >= self.dec_min) & (dec <= self.dec_max)]

    def pixels(self, nside: int) -> np.ndarray:
        """Sorted RING pixel indices whose centres lie inside the box.

        Computed ring by ring from the HEALPix ring geometry, so the cost is
        proportional to the number of pixels returned, not to the sky.
        """
        import healpy as hp

        ring = self.rings(nside)
        startpix, ringpix, _, _, _ = hp.ringinfo(nside, ring)
        startpix = startpix.astype(np.int64)
        _, phi0 = hp.pix2ang(nside, startpix)
        dphi = 2.0 * np.pi / ringpix
        lo = np.ceil((np.radians(self.ra_min) - phi0) / dphi - 1e-9).astype(np.int64)
        hi = np.floor((np.radians(self.ra_max) - phi0) / dphi + 1e-9).astype(np.int64)
        lo = np.clip(lo, 0, ringpix - 1)
        hi = np.clip(hi, -1, ringpix - 1)
        count = np.maximum(hi - lo + 1, 0)
        offsets = np.repeat(startpix + lo - np.cumsum(count) + count, count)
        return offsets + np.arange(count.sum(), dtype=np.int64)
