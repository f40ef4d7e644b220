"""Instrument beams: the transfer function b_ell of a band, its real-space profile and support.

A band's beam is a Gaussian of ``beam_fwhm_arcmin`` (> 0), or a table of b_ell
read from ``beam_file``; with neither the band has no beam (b_ell = 1). Each
sky component is convolved with the beam where it is made, exactly and at a
cost that scales with the footprint (docs/design.md, "Beams"):

- Gaussian fields (CMB, dust) and imported full-sky maps: a_lm times b_ell
  before the ring synthesis (``healpy.almxfl``);
- point sources and painted clusters: the real-space profile B(theta),
  ``B(theta) = sum_ell (2 ell + 1) / (4 pi) b_ell P_ell(cos theta)``
  (``healpy.bl2beam``), which integrates to b_0 = 1 over the sphere, and is
  painted out to the beam's support radius.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path

import ducc0
import numpy as np
from astropy.table import Table

from skyhunt import io

#: Fraction of the beam's flux outside its support radius.
SUPPORT_LOSS = 1e-4
#: A Gaussian b_ell below this is taken as zero (sets a Gaussian beam's band limit).
BL_FLOOR = 1e-9
#: A beam table may end where |b_ell| is below this; asked beyond a larger last b_ell, it fails.
TABLE_END_MAX = 1e-3
#: Radial samples of the tabulated profile, out to ``PROFILE_REACH`` equivalent Gaussian sigmas.
PROFILE_SAMPLES = 600
PROFILE_REACH = 12.0


def read_beam_file(path) -> tuple[np.ndarray, np.ndarray]:
    """Read a beam transfer table: ``ell, b_ell``, normalised to b_0 = 1.

    An ``.ecsv`` file needs columns ``ell`` and ``b_ell``; any other file is
    whitespace-separated text whose first two columns are ell and b_ell
    (``#`` starts a comment).

    Returns
    -------
    ell, bl : ndarray of float64
        Multipoles from 0, strictly increasing, and b_ell / b_0.

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing or unreadable, or its values are not finite, ell does
        not start at 0 and increase, or b_0 <= 0. The message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise io.InputFileError(f"beam file {path} does not exist")
    try:
        if path.suffix == ".ecsv":
            table = Table.read(path, format="ascii.ecsv")
            io.require_columns(table, ("ell", "b_ell"), path)
            ell, bl = (np.asarray(table[c], dtype=float) for c in ("ell", "b_ell"))
        else:
            data = np.loadtxt(path, comments="#", ndmin=2)
            if data.shape[1] < 2:
                raise ValueError("expected two columns, ell and b_ell")
            ell, bl = data[:, 0], data[:, 1]
    except io.InputFileError:
        raise
    except Exception as exc:
        raise io.InputFileError(f"beam file {path} is not a readable table of ell, b_ell: {exc}") from exc
    if ell.size < 2 or not (np.all(np.isfinite(ell)) and np.all(np.isfinite(bl))):
        raise io.InputFileError(f"beam file {path}: expected at least two rows of finite ell, b_ell")
    if ell[0] != 0 or np.any(np.diff(ell) <= 0):
        raise io.InputFileError(f"beam file {path}: expected ell to start at 0 and increase strictly")
    if bl[0] <= 0:
        raise io.InputFileError(f"beam file {path}: expected b_0 > 0, got {bl[0]!r}")
    return ell, bl / bl[0]


@dataclasses.dataclass(frozen=True)
class Beam:
    """A circularly symmetric beam.

    Attributes
    ----------
    name : str
        ``'<fwhm> arcmin Gaussian'`` or the beam file.
    bl : ndarray
        b_ell for ell = 0 .. ``lmax`` (b_0 = 1), zero beyond.
    theta : ndarray
        Radii of the tabulated profile, rad.
    profile : ndarray
        B(theta) at ``theta``, sr^-1 (unit integral over the sphere).
    support_rad : float
        Radius enclosing all but :data:`SUPPORT_LOSS` of the beam's integral, rad.
    fwhm_rad : float
        Full width at half maximum of B(theta), rad.
    """

    name: str
    bl: np.ndarray
    theta: np.ndarray
    profile: np.ndarray
    support_rad: float
    fwhm_rad: float

    @property
    def lmax(self) -> int:
        return self.bl.size - 1

    def transfer(self, ell) -> np.ndarray:
        """b_ell at (possibly non-integer) multipoles ``ell``, linearly interpolated; 0 beyond lmax."""
        return np.interp(np.asarray(ell, dtype=float), np.arange(self.bl.size), self.bl, right=0.0)

    def at(self, theta) -> np.ndarray:
        """B(theta) in sr^-1 at radii ``theta`` (rad), interpolated; 0 beyond the tabulated reach."""
        return np.interp(theta, self.theta, self.profile, right=0.0)


def _gaussian_bl(fwhm_arcmin: float) -> np.ndarray:
    import healpy as hp

    sigma = np.radians(fwhm_arcmin / 60.0) / np.sqrt(8.0 * np.log(2.0))
    lmax = int(np.ceil(np.sqrt(-2.0 * np.log(BL_FLOOR)) / sigma))
    return hp.gauss_beam(np.radians(fwhm_arcmin / 60.0), lmax=lmax)


def _file_bl(path: str) -> np.ndarray:
    ell, bl = read_beam_file(path)
    lmax = int(np.floor(ell[-1]))
    return np.interp(np.arange(lmax + 1), ell, bl)


@functools.lru_cache(maxsize=16)
def _beam(fwhm_arcmin: float, beam_file: str | None) -> Beam:
    import healpy as hp

    if beam_file is not None:
        name, bl = beam_file, _file_bl(beam_file)
    else:
        name, bl = f"{fwhm_arcmin:g} arcmin Gaussian", _gaussian_bl(fwhm_arcmin)
    below = np.flatnonzero(bl < 0.5)
    if below.size == 0:
        raise io.InputFileError(f"beam {name}: b_ell never falls below 0.5 up to ell = {bl.size - 1}")
    ell_half = max(int(below[0]), 1)
    sigma_eq = np.sqrt(2.0 * np.log(2.0) / (ell_half * (ell_half + 1.0)))
    theta = np.linspace(0.0, PROFILE_REACH * sigma_eq, PROFILE_SAMPLES)
    profile = hp.bl2beam(bl, theta)
    ring = 0.5 * (profile[1:] + profile[:-1]) * (np.cos(theta[:-1]) - np.cos(theta[1:]))
    enclosed = 2.0 * np.pi * np.concatenate([[0.0], np.cumsum(ring)])
    reach = np.flatnonzero(enclosed >= 1.0 - SUPPORT_LOSS)
    if reach.size == 0:
        raise io.InputFileError(
            f"beam {name}: the profile encloses only {enclosed[-1]:.6f} of its integral within "
            f"{np.degrees(theta[-1]) * 60:.3g} arcmin; expected a compact beam"
        )
    half = np.flatnonzero(profile < 0.5 * profile[0])[0]
    for arr in (bl, theta, profile):
        arr.setflags(write=False)
    return Beam(name, bl, theta, profile, float(theta[reach[0]]), float(2.0 * theta[half]))


def beam_of(band: Mapping) -> Beam | None:
    """The band's beam (``beam_fwhm_arcmin`` > 0 or ``beam_file``), or None without one.

    Both keys are optional in ``band`` (no beam when absent); the config check
    guarantees at most one is set.
    """
    fwhm = float(band.get("beam_fwhm_arcmin") or 0.0)
    beam_file = band.get("beam_file")
    if beam_file is None and fwhm <= 0.0:
        return None
    return _beam(fwhm, None if beam_file is None else str(beam_file))


def beam_key(band: Mapping) -> tuple:
    """A hashable identity of the band's beam: bands with equal keys have the same beam."""
    return (float(band.get("beam_fwhm_arcmin") or 0.0), band.get("beam_file"))


def beam_transfer(band: Mapping, lmax: int) -> np.ndarray:
    """The band's b_ell for ell = 0 .. ``lmax`` (dimensionless, b_0 = 1; all ones without a beam).

    A beam table ending below ``lmax`` is zero beyond its last ell; that fails
    (:class:`skyhunt.io.InputFileError`) unless its last |b_ell| is below
    :data:`TABLE_END_MAX`.
    """
    beam = beam_of(band)
    if beam is None:
        return np.ones(lmax + 1)
    if lmax > beam.lmax and band.get("beam_file") is not None and abs(beam.bl[-1]) > TABLE_END_MAX:
        raise io.InputFileError(
            f"beam file {beam.name} ends at ell = {beam.lmax} with b_ell = {beam.bl[-1]:.3g}; expected "
            f"it to reach ell = {lmax} or to end where |b_ell| < {TABLE_END_MAX:g}"
        )
    return beam.transfer(np.arange(lmax + 1))


def beamed_alm(alm: np.ndarray, band: Mapping) -> np.ndarray:
    """``alm`` (healpy order, lmax = mmax) times the band's b_ell; ``alm`` itself without a beam."""
    import healpy as hp

    if beam_of(band) is None:
        return alm
    return hp.almxfl(alm, beam_transfer(band, hp.Alm.getlmax(alm.size)))


def healpix_analysis(
    full_map: np.ndarray, nside: int, lmax: int, iterations: int, nthreads: int
) -> np.ndarray:
    """a_lm of a full-sky RING HEALPix map with ducc0, refined like ``healpy.map2alm(iter=...)``.

    The first estimate is the quadrature ``4 pi / N_pix`` times the adjoint
    synthesis; each of ``iterations`` Jacobi steps adds the same of the residual
    map (healpy's scheme, exact for band-limited maps as iterations grow).

    Parameters
    ----------
    full_map : ndarray, shape (12 nside^2,)
        The map (float64), RING order.
    nside, lmax : int
        Resolution and band limit (lmax = mmax).
    iterations : int
        Jacobi refinement steps (0: quadrature only).
    nthreads : int
        ducc0 threads.

    Returns
    -------
    ndarray of complex128, healpy order
    """
    geom = ducc0.healpix.Healpix_Base(nside, "RING").sht_info()
    weight = 4.0 * np.pi / full_map.size
    kwargs = dict(lmax=lmax, spin=0, nthreads=nthreads, **geom)
    sht = ducc0.sht.experimental
    alm = sht.adjoint_synthesis(map=full_map.reshape(1, -1), **kwargs)
    alm *= weight
    if iterations:  # peak memory: the map, one residual map and two a_lm arrays
        residual = np.empty_like(full_map).reshape(1, -1)
        step = np.empty_like(alm)
        for _ in range(iterations):
            sht.synthesis(alm=alm, map=residual, **kwargs)
            np.subtract(full_map, residual[0], out=residual[0])
            sht.adjoint_synthesis(map=residual, alm=step, **kwargs)
            step *= weight
            alm += step
    return alm[0]


def map_slots(pixels: np.ndarray, ipix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Positions of HEALPix pixels ``ipix`` in the sorted map pixels ``pixels``.

    Returns
    -------
    slot : ndarray of int
        Index into ``pixels`` (meaningful where ``inside``).
    inside : ndarray of bool
        Whether each of ``ipix`` is a map pixel.
    """
    slot = np.searchsorted(pixels, ipix)
    inside = slot < len(pixels)
    inside[inside] = pixels[slot[inside]] == ipix[inside]
    return slot, inside


def disc_offsets(nside: int, vec: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Pixels whose centres lie within ``radius`` (rad) of the unit vector ``vec``, and their distances.

    A disc holding no pixel centre gives the pixel containing ``vec`` (distance from its centre).
    """
    import healpy as hp

    disc = hp.query_disc(nside, vec, radius)
    if disc.size == 0:
        disc = np.array([hp.vec2pix(nside, *vec)])
    cos_sep = np.clip(np.dot(np.column_stack(hp.pix2vec(nside, disc)), vec), -1.0, 1.0)
    return disc, np.arccos(cos_sep)


def paint_beam(
    nside: int, pixels: np.ndarray, vec: np.ndarray, amplitude: np.ndarray, beam: Beam
) -> np.ndarray:
    """Point-like sources seen through ``beam``: each amplitude spread as B(theta) over its support.

    Each source's weights B(theta_p) at the pixel centres within the beam's
    support are normalised to sum to one, so the pixel sum of a source fully
    inside the map is its amplitude (flux conservation at any pixel size).

    Parameters
    ----------
    nside : int
    pixels : ndarray of int
        Sorted RING pixels of the map.
    vec : ndarray, shape (n, 3)
        Unit vectors of the sources.
    amplitude : ndarray, shape (n,)
        Pixel-sum of each source (any unit).
    beam : Beam

    Returns
    -------
    ndarray of float64
        Sum over sources at ``pixels`` (units of ``amplitude``).
    """
    out = np.zeros(len(pixels))
    for v, amp in zip(vec, amplitude, strict=True):
        disc, dist = disc_offsets(nside, v, beam.support_rad)
        slot, inside = map_slots(pixels, disc)
        if inside.any():
            weight = beam.at(dist)
            if not weight.sum() > 0.0:  # a beam narrower than a pixel: all in the pixel holding it
                weight = np.ones(dist.size)
            np.add.at(out, slot[inside], weight[inside] * (amp / weight.sum()))
    return out
