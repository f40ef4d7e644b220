"""Extragalactic point sources: radio galaxies and dusty star-forming (IR) galaxies.

DeepSZ (Lin et al. 2021, section 2.1, "Point Sources") models the point-source
foreground as two populations, dusty galaxies that brighten with frequency and
radio-loud galaxies that dim with it, whose combined power is white (flat in
C_ell) and normalised per band to ``D_3000 = (2.7, 8.8, 71) µK_CMB^2`` at
(90, 148, 219) GHz. This module draws a catalogue realising that model:

* Each population has power-law number counts at the reference frequency
  ``nu0`` (``sky.point_sources.ref_freq_ghz``),
  ``dN/dS = A p(S)``, ``p(S) ∝ S^-slope`` for ``s_min <= S <= s_max``, with
  ``A`` the expected number of sources per steradian and ``p`` the normalised
  truncated power law (``scipy.stats.truncpareto``).
* Each source has its own spectral index ``alpha ~ Normal(mean, sigma)`` and
  flux ``S(nu) = S(nu0) (nu / nu0)^alpha`` (bands are monochromatic, DeepSZ
  section 1.1).
* The amplitudes ``A`` are fitted (:func:`normalise_counts`) so that the
  expected Poisson power summed over populations matches the per-band targets
  ``ps_d3000_uk2`` of ``sky.bands``; those targets count all sources, bright
  ones included.
* Halo-hosted radio sources put a bright radio galaxy at the centre of some
  massive haloes, the situation of DeepSZ Fig. 2. They are drawn on top of
  the field populations and are not part of the normalisation.

Fluxes are in mJy, positions in degrees, maps in µK_CMB.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.optimize import nnls

from skyhunt.sky.beam import beam_of, map_slots, paint_beam
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.spectra import jy_per_sr_to_uk_cmb

#: Source populations, in the order they are drawn and listed in catalogues.
POPULATIONS = ("radio", "ir")

#: Multipole at which the D_ell targets are set (DeepSZ section 2.1).
ELL_REF = 3000

#: Units of the catalogue columns that do not depend on the bands; see :func:`source_units`.
SOURCE_UNITS = {
    "source_id": "",
    "ra": "deg",
    "dec": "deg",
    "population": "",
    "host_halo_id": "",
    "spectral_index": "",
}

_SR_PER_DEG2 = np.radians(1.0) ** 2
_JY_PER_MJY = 1e-3


def flux_column(band: Mapping) -> str:
    """Catalogue column holding a band's flux density, e.g. ``flux_090_mjy`` (mJy)."""
    return f"flux_{band['name']}_mjy"


def source_units(bands: Sequence[Mapping]) -> dict[str, str]:
    """Unit of every column of a :func:`draw_sources` catalogue.

    Parameters
    ----------
    bands : sequence of mapping
        The ``sky.bands`` entries (``name`` is used).

    Returns
    -------
    dict
        Column name -> unit string (``""`` for dimensionless or labels), for
        the Parquet metadata written by :func:`skyhunt.io.write_table`.
    """
    return {**SOURCE_UNITS, **{flux_column(b): "mJy" for b in bands}}


def _check_config(cfg: Mapping) -> None:
    """Raise ValueError if the ``sky.point_sources`` mapping is unusable."""
    if cfg["ref_freq_ghz"] <= 0:
        raise ValueError(f"point_sources.ref_freq_ghz must be > 0 GHz, got {cfg['ref_freq_ghz']}")
    for name in POPULATIONS:
        pop = cfg["populations"][name]
        if pop["slope"] <= 1.0:
            raise ValueError(f"point_sources.populations.{name}.slope must be > 1, got {pop['slope']}")
        if not 0.0 < pop["s_min_mjy"] < pop["s_max_mjy"]:
            raise ValueError(
                f"point_sources.populations.{name} needs 0 < s_min_mjy < s_max_mjy, "
                f"got {pop['s_min_mjy']}, {pop['s_max_mjy']}"
            )
        if pop["spectral_index_sigma"] < 0:
            raise ValueError(f"point_sources.populations.{name}.spectral_index_sigma must be >= 0")
    hosted = cfg["halo_hosted_radio"]
    radio = cfg["populations"]["radio"]
    if not 0.0 <= hosted["probability"] <= 1.0:
        raise ValueError(f"halo_hosted_radio.probability must be in [0, 1], got {hosted['probability']}")
    if not radio["s_min_mjy"] <= hosted["s_min_mjy"] < radio["s_max_mjy"]:
        raise ValueError(
            "halo_hosted_radio.s_min_mjy must lie in the radio counts' range "
            f"[{radio['s_min_mjy']}, {radio['s_max_mjy']}) mJy, got {hosted['s_min_mjy']}"
        )


def flux_distribution(pop_cfg: Mapping, s_min_mjy: float | None = None):
    """Normalised flux distribution ``p(S) ∝ S^-slope`` at the reference frequency.

    Parameters
    ----------
    pop_cfg : mapping
        One entry of ``sky.point_sources.populations`` (``slope``,
        ``s_min_mjy``, ``s_max_mjy``).
    s_min_mjy : float, optional
        Lower truncation in mJy replacing ``pop_cfg['s_min_mjy']`` (used for
        halo-hosted radio sources).

    Returns
    -------
    scipy.stats frozen distribution
        ``truncpareto(slope - 1, s_max / s_min, scale=s_min)``, a density in
        S (mJy) on ``[s_min, s_max]``.
    """
    from scipy.stats import truncpareto  # scipy.stats costs 0.5 s of CPU: only the jobs that draw fluxes

    s_min = pop_cfg["s_min_mjy"] if s_min_mjy is None else s_min_mjy
    return truncpareto(pop_cfg["slope"] - 1.0, pop_cfg["s_max_mjy"] / s_min, scale=s_min)


def _flux_moments(cfg: Mapping, bands: Sequence[Mapping], order: int) -> np.ndarray:
    """Per-source expectation ``E[S_nu^order]`` in mJy^order, shape (n_bands, n_populations).

    Flux and spectral index are independent, so the expectation factorises
    into the flux moment at ``nu0`` and the log-normal moment
    ``E[(nu/nu0)^(order alpha)] = exp(order mu L + order^2 sigma^2 L^2 / 2)``
    with ``L = ln(nu / nu0)``.
    """
    log_ratio = np.log(np.array([b["freq_ghz"] for b in bands], dtype=float) / cfg["ref_freq_ghz"])
    cols = []
    for name in POPULATIONS:
        pop = cfg["populations"][name]
        mu, sigma = pop["spectral_index_mean"], pop["spectral_index_sigma"]
        spectral = np.exp(order * mu * log_ratio + 0.5 * (order * sigma * log_ratio) ** 2)
        cols.append(flux_distribution(pop).moment(order) * spectral)
    return np.stack(cols, axis=1)


def _d3000_per_amplitude(cfg: Mapping, bands: Sequence[Mapping]) -> np.ndarray:
    """D_3000 in µK_CMB^2 per unit amplitude (one source per sr), shape (n_bands, n_populations).

    ``C_ell = A E[S^2]`` (Jy^2/sr) for a Poisson population, converted to
    µK_CMB^2 sr with the exact dB/dT of each band.
    """
    to_uk = jy_per_sr_to_uk_cmb([b["freq_ghz"] for b in bands])[:, None]
    c_ell = _flux_moments(cfg, bands, 2) * (_JY_PER_MJY * to_uk) ** 2
    return ELL_REF * (ELL_REF + 1) / (2.0 * np.pi) * c_ell


def _amplitude_vector(amplitudes: Mapping[str, float]) -> np.ndarray:
    return np.array([amplitudes[name] for name in POPULATIONS], dtype=float)


def expected_d3000(
    point_sources_cfg: Mapping, bands: Sequence[Mapping], amplitudes: Mapping[str, float]
) -> np.ndarray:
    """Expected Poisson ``D_3000`` of the field populations in each band.

    Parameters
    ----------
    point_sources_cfg : mapping
        The ``sky.point_sources`` config.
    bands : sequence of mapping
        The ``sky.bands`` entries (``freq_ghz`` is used).
    amplitudes : mapping
        Population -> expected number of sources per steradian with
        ``s_min_mjy <= S(nu0) <= s_max_mjy`` (as from :func:`normalise_counts`).

    Returns
    -------
    ndarray
        ``D_3000 = 3000 * 3001 / (2 pi) * C_3000`` in µK_CMB^2, one per band.
    """
    return _d3000_per_amplitude(point_sources_cfg, bands) @ _amplitude_vector(amplitudes)


def band_correlation(point_sources_cfg: Mapping, bands: Sequence[Mapping]) -> np.ndarray:
    """Correlation coefficient of the field sources' Poisson power between bands.

    For a Poisson population the cross-power of bands b and b' is
    ``C_bb' = sum_p A_p E[S_b S_b']`` with
    ``E[S_b S_b'] = E[S(nu0)^2] exp(mu L + sigma^2 L^2 / 2)``, ``L = ln(nu_b nu_b' / nu0^2)``
    (independent flux and Gaussian spectral index); the amplitudes are those
    of :func:`normalise_counts`. Used by the matched filter's noise model
    (DeepSZ section 2.1), which takes the per-band power from the config and
    the correlation from here.

    Parameters
    ----------
    point_sources_cfg : mapping
        The ``sky.point_sources`` config.
    bands : sequence of mapping
        The ``sky.bands`` entries (``freq_ghz``, ``ps_d3000_uk2``).

    Returns
    -------
    ndarray, shape (n_bands, n_bands)
        ``C_bb' / sqrt(C_bb C_b'b')``, dimensionless, ones on the diagonal.
    """
    amp = _amplitude_vector(normalise_counts(point_sources_cfg, bands))
    log_ratio = np.log(
        np.array([b["freq_ghz"] for b in bands], dtype=float) / point_sources_cfg["ref_freq_ghz"]
    )
    lsum = log_ratio[:, None] + log_ratio[None, :]
    cross = np.zeros_like(lsum)
    for a, name in zip(amp, POPULATIONS, strict=True):
        pop = point_sources_cfg["populations"][name]
        mu, sigma = pop["spectral_index_mean"], pop["spectral_index_sigma"]
        cross += a * flux_distribution(pop).moment(2) * np.exp(mu * lsum + 0.5 * (sigma * lsum) ** 2)
    diag = np.sqrt(np.diag(cross))
    return cross / np.outer(diag, diag)


def d3000_relative_scatter(
    point_sources_cfg: Mapping,
    bands: Sequence[Mapping],
    amplitudes: Mapping[str, float],
    area_deg2: float,
) -> np.ndarray:
    """Relative standard deviation of the realised Poisson power on a patch.

    The realised white level on a patch of solid angle Omega is
    ``C_hat = sum_i S_i^2 / Omega``; for a Poisson process its variance is
    ``int S^4 dN/dS dS / Omega``, so the relative scatter is
    ``sqrt(sum_p A_p E[S^4] / Omega) / sum_p A_p E[S^2]`` (per band,
    spectral indices included). Halo-hosted sources are not counted.

    Parameters
    ----------
    point_sources_cfg : mapping
        The ``sky.point_sources`` config.
    bands : sequence of mapping
        The ``sky.bands`` entries.
    amplitudes : mapping
        Population -> expected number of sources per steradian.
    area_deg2 : float
        Area over which sources are drawn, in deg^2.

    Returns
    -------
    ndarray
        std(D_3000) / E[D_3000], dimensionless, one per band.
    """
    amp = _amplitude_vector(amplitudes)
    omega = area_deg2 * _SR_PER_DEG2
    second = _flux_moments(point_sources_cfg, bands, 2) @ amp
    fourth = _flux_moments(point_sources_cfg, bands, 4) @ amp
    return np.sqrt(fourth / omega) / second


def normalise_counts(point_sources_cfg: Mapping, bands: Sequence[Mapping]) -> dict[str, float]:
    """Fit the population amplitudes to the per-band point-source power targets.

    The amplitude ``A_p`` of population p is the expected number of sources
    per steradian with ``s_min_mjy <= S(nu0) <= s_max_mjy``, so that
    ``dN/dS = A_p p(S)`` with ``p`` from :func:`flux_distribution`. The
    expected Poisson power is linear in the amplitudes,
    ``D_b = sum_p K_bp A_p`` (see :func:`expected_d3000`); with two
    populations and three bands the system is overdetermined, and the
    amplitudes minimise the sum of squared *relative* residuals
    ``sum_b (D_b / D_b^target - 1)^2`` subject to ``A_p >= 0`` (non-negative
    least squares, ``scipy.optimize.nnls``). Relative residuals weigh the
    bands equally although the targets span a factor 26; a linear problem
    keeps the fit exact and unique. Targets are ``ps_d3000_uk2`` in each
    band, the total point-source ``D_3000`` of DeepSZ section 2.1.

    Parameters
    ----------
    point_sources_cfg : mapping
        The ``sky.point_sources`` config.
    bands : sequence of mapping
        The ``sky.bands`` entries (``freq_ghz`` and ``ps_d3000_uk2`` in
        µK_CMB^2, which must be > 0).

    Returns
    -------
    dict
        Population name -> amplitude in sources per steradian.
    """
    _check_config(point_sources_cfg)
    target = np.array([b["ps_d3000_uk2"] for b in bands], dtype=float)
    if np.any(target <= 0):
        raise ValueError(f"ps_d3000_uk2 must be > 0 in every band, got {target.tolist()}")
    design = _d3000_per_amplitude(point_sources_cfg, bands) / target[:, None]
    amp, _ = nnls(design, np.ones_like(target))
    return {name: float(a) for name, a in zip(POPULATIONS, amp, strict=True)}


def _catalogue_block(
    population: str,
    ra: np.ndarray,
    dec: np.ndarray,
    host: np.ndarray,
    s_ref: np.ndarray,
    pop_cfg: Mapping,
    cfg: Mapping,
    bands: Sequence[Mapping],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw spectral indices and build one population's catalogue rows."""
    alpha = rng.normal(pop_cfg["spectral_index_mean"], pop_cfg["spectral_index_sigma"], len(s_ref))
    block = {
        "ra": np.asarray(ra, dtype=float),
        "dec": np.asarray(dec, dtype=float),
        "population": np.full(len(s_ref), population, dtype=object),
        "host_halo_id": np.asarray(host, dtype=np.int64),
        "spectral_index": alpha,
    }
    for band in bands:
        block[flux_column(band)] = s_ref * (band["freq_ghz"] / cfg["ref_freq_ghz"]) ** alpha
    return pd.DataFrame(block)


def draw_sources(
    point_sources_cfg: Mapping,
    bands: Sequence[Mapping],
    footprint: Footprint,
    halos: pd.DataFrame | None,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw a point-source catalogue over a footprint.

    Field sources (DeepSZ section 2.1): for each population in
    :data:`POPULATIONS` order, a Poisson number with mean ``A_p * Omega``
    (amplitudes from :func:`normalise_counts`, Omega the footprint's solid
    angle), positions uniform on the sphere inside the box, reference-band
    fluxes by inverse CDF of the truncated power law, Gaussian spectral
    indices. Halo-hosted radio sources (DeepSZ Fig. 2): each halo with
    ``m_vir >= halo_hosted_radio.m_vir_min``, taken in ascending
    ``halo_id``, hosts with probability ``halo_hosted_radio.probability`` a
    radio source exactly at its centre, whose reference-band flux follows the
    radio counts truncated below ``halo_hosted_radio.s_min_mjy``. All halos
    passed are considered; select them to the footprint beforehand.

    Parameters
    ----------
    point_sources_cfg : mapping
        The ``sky.point_sources`` config.
    bands : sequence of mapping
        The ``sky.bands`` entries (``name``, ``freq_ghz``, ``ps_d3000_uk2``).
    footprint : Footprint
        Box to fill, already padded by the caller's margin.
    halos : pandas.DataFrame or None
        Columns ``halo_id``, ``ra``, ``dec`` (deg), ``m_vir`` (M_sun); ``z`` is
        not used. None or empty for no halo-hosted sources.
    rng : numpy.random.Generator
        Random stream; the same state gives the same catalogue.

    Returns
    -------
    pandas.DataFrame
        One row per source, field radio then field IR then halo-hosted radio:
        ``source_id`` (int64, 0..N-1 in that order), ``ra``, ``dec`` (deg),
        ``population`` ('radio' or 'ir'), ``host_halo_id`` (int64, -1 for
        field sources), ``spectral_index`` (S ∝ nu^index) and
        ``flux_<band>_mjy`` per band (mJy). Units: :func:`source_units`.
    """
    amplitudes = normalise_counts(point_sources_cfg, bands)
    omega = footprint.area_deg2 * _SR_PER_DEG2
    blocks = []
    for name in POPULATIONS:
        pop = point_sources_cfg["populations"][name]
        n = rng.poisson(amplitudes[name] * omega)
        ra, dec = footprint.sample_uniform(n, rng)
        s_ref = flux_distribution(pop).ppf(rng.random(n))
        host = np.full(n, -1, dtype=np.int64)
        blocks.append(_catalogue_block(name, ra, dec, host, s_ref, pop, point_sources_cfg, bands, rng))

    if halos is not None and len(halos):
        hosted = point_sources_cfg["halo_hosted_radio"]
        radio = point_sources_cfg["populations"]["radio"]
        candidates = halos.loc[halos["m_vir"] >= hosted["m_vir_min"]].sort_values("halo_id")
        hosts = candidates.loc[rng.random(len(candidates)) < hosted["probability"]]
        s_ref = flux_distribution(radio, hosted["s_min_mjy"]).ppf(rng.random(len(hosts)))
        blocks.append(
            _catalogue_block(
                "radio",
                hosts["ra"].to_numpy(),
                hosts["dec"].to_numpy(),
                hosts["halo_id"].to_numpy(),
                s_ref,
                radio,
                point_sources_cfg,
                bands,
                rng,
            )
        )

    sources = pd.concat(blocks, ignore_index=True)
    sources["population"] = sources["population"].astype("str")
    sources.insert(0, "source_id", np.arange(len(sources), dtype=np.int64))
    return sources


def paint_sources(
    sources: pd.DataFrame, population: str, band: Mapping, nside: int, pixels: np.ndarray
) -> np.ndarray:
    """Map of one population's sources in one band, in µK_CMB.

    Without a beam each source's flux lands in the HEALPix pixel containing
    it; with one (``beam_fwhm_arcmin`` > 0 or ``beam_file``) it is spread as
    the beam profile B(theta) over the pixels within the beam's support,
    normalised to the source's flux (:func:`skyhunt.sky.beam.paint_beam`), so
    sources just outside the map spill into it. The temperature is
    ``Delta T = S / (dB/dT * Omega_pix)`` per pixel with the exact Planck
    derivative at T_CMB. Several sources in a pixel add.

    Parameters
    ----------
    sources : pandas.DataFrame
        Catalogue from :func:`draw_sources`.
    population : str
        ``'radio'`` or ``'ir'``; halo-hosted sources are ``'radio'``.
    band : mapping
        One ``sky.bands`` entry (``name``, ``freq_ghz``; optional ``beam_fwhm_arcmin``
        in arcmin and ``beam_file``).
    nside : int
        HEALPix resolution (RING ordering).
    pixels : ndarray of int
        Strictly increasing RING pixel indices of the map, e.g.
        ``Footprint.pixels(nside)``; flux falling on other pixels is dropped.

    Returns
    -------
    ndarray of float64
        Temperature in µK_CMB at ``pixels``.
    """
    if population not in POPULATIONS:
        raise ValueError(f"population must be one of {POPULATIONS}, got {population!r}")
    selected = sources.loc[sources["population"] == population]
    return paint_fluxes(
        selected["ra"].to_numpy(),
        selected["dec"].to_numpy(),
        selected[flux_column(band)].to_numpy(),
        band,
        nside,
        pixels,
    )


def uk_sr_per_mjy(freq_ghz) -> np.ndarray:
    """Integrated temperature of a 1 mJy point source, µK_CMB sr (exact dB/dT at T_CMB)."""
    return _JY_PER_MJY * jy_per_sr_to_uk_cmb(freq_ghz)


def paint_fluxes(
    ra: np.ndarray, dec: np.ndarray, flux_mjy: np.ndarray, band: Mapping, nside: int, pixels: np.ndarray
) -> np.ndarray:
    """Map of point sources of given fluxes in one band, in µK_CMB, as :func:`paint_sources` paints.

    Parameters
    ----------
    ra, dec : ndarray
        Positions, degrees.
    flux_mjy : ndarray
        Fluxes in the band, mJy.
    band : mapping
        One ``sky.bands`` entry (``freq_ghz`` in GHz; optional ``beam_fwhm_arcmin`` and ``beam_file``).
    nside : int
        HEALPix resolution (RING ordering).
    pixels : ndarray of int
        Strictly increasing RING pixel indices of the map; flux falling on other pixels is dropped.

    Returns
    -------
    ndarray of float64
        Temperature in µK_CMB at ``pixels``.
    """
    import healpy as hp

    pixels = np.asarray(pixels, dtype=np.int64)
    if np.any(np.diff(pixels) <= 0):
        raise ValueError("pixels must be strictly increasing RING indices")
    ra, dec = np.asarray(ra, dtype=float), np.asarray(dec, dtype=float)
    flux_jy = np.asarray(flux_mjy, dtype=float) * _JY_PER_MJY
    beam = beam_of(band)
    if beam is None:
        slot, inside = map_slots(pixels, hp.ang2pix(nside, ra, dec, lonlat=True))
        flux_per_pixel = np.bincount(slot[inside], weights=flux_jy[inside], minlength=len(pixels))
    else:
        flux_per_pixel = paint_beam(nside, pixels, hp.ang2vec(ra, dec, lonlat=True), flux_jy, beam)
    return flux_per_pixel / hp.nside2pixarea(nside) * jy_per_sr_to_uk_cmb(band["freq_ghz"])
