"""External skies: the Sehgal et al. (2010) simulation, or the user's own HEALPix maps.

DeepSZ (Lin et al. 2021, section 1.1) trains and tests on the Sehgal et al.
(2010) microwave-sky simulation from NASA LAMBDA: full-sky HEALPix maps per
component and frequency, and catalogues of the N-body halos and of the point
sources. Halos and sources are unique only on the octant 0 < RA < 90,
0 < Dec < 90 deg; the other octants are reflections, so DeepSZ (and skyhunt)
uses that octant only.

This module turns such inputs into exactly the files the simulated sky
writes (:mod:`skyhunt.sky.pipeline`): one partial map per component and band
in µK_CMB on the footprint's pixels, ``halos.parquet`` and
``sources.parquet``, so the noise, observed-stage, cutout and later rules run
unchanged. Full-sky maps are memory-mapped and only the footprint's pixels
are read, so an nside-8192 map (3.2 GB in float32) never has to fit in memory.

Formats assumed for the Sehgal et al. (2010) files (LAMBDA, "High Resolution
Microwave Full Sky Simulations"):

- maps ``<freq>_<component>_healpix.fits``: full-sky HEALPix, nside 8192,
  surface brightness in Jy/sr, first column of the first binary table;
- ``halo_nbody.ascii``: 20 whitespace-separated columns per halo
  (https://lambda.gsfc.nasa.gov/simulation/full_sky_sims_readme_halo.html):
  redshift, RA and Dec (deg), comoving position (Mpc), proper peculiar
  velocity (km/s), M_fof, M_vir (M_sun, not M_sun/h), R_vir (proper Mpc),
  then (M, R) for overdensities 200, 500, 1500 and 2500 times critical;
- ``IRBlastPop.dat``: halo id, RA, Dec (deg), redshift and fluxes at 30, 90,
  148, 219, 277, 350 GHz in mJy
  (https://lambda.gsfc.nasa.gov/simulation/full_sky_sims_readme_ir.html).
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from pathlib import Path

import healpy as hp
import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.table import Table

from skyhunt import io
from skyhunt.sky import sources as sky_sources
from skyhunt.sky.beam import Beam, beam_of, beamed_alm, healpix_analysis
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.gaussian_field import synthesize_on_pixels
from skyhunt.sky.halos import HALO_UNITS, m500c_from_mvir
from skyhunt.sky.pipeline import write_band_map
from skyhunt.sky.profiles import arnaud_halo_properties
from skyhunt.sky.spectra import jy_per_sr_to_uk_cmb

log = logging.getLogger("skyhunt.sky.imported")

#: Column names of ``halo_nbody.ascii`` (LAMBDA halo README), in file order.
SEHGAL_HALO_COLUMNS = (
    "z",
    "ra",
    "dec",
    "x_mpc",
    "y_mpc",
    "z_mpc",
    "vx_km_s",
    "vy_km_s",
    "vz_km_s",
    "m_fof",
    "m_vir",
    "r_vir",
    "m200c",
    "r200c",
    "m500c",
    "r500c",
    "m1500c",
    "r1500c",
    "m2500c",
    "r2500c",
)

#: Map units a configuration may declare, and their factor to µK_CMB (None: depends on frequency).
MAP_UNIT_FACTORS = {"uK_CMB": 1.0, "K_CMB": 1e6, "Jy/sr": None, "MJy/sr": None}

#: The octant on which the Sehgal et al. (2010) halos and sources are unique, degrees.
SEHGAL_UNIQUE_OCTANT = Footprint(0.0, 90.0, 0.0, 90.0)


def to_uk_cmb_factor(unit: str, freq_ghz: float) -> float:
    """Factor converting a map in ``unit`` at ``freq_ghz`` to µK_CMB.

    Parameters
    ----------
    unit : str
        One of :data:`MAP_UNIT_FACTORS`: ``uK_CMB``, ``K_CMB``, ``Jy/sr`` or ``MJy/sr``
        (surface brightness, converted with the exact Planck derivative at
        T_CMB, :func:`skyhunt.sky.spectra.jy_per_sr_to_uk_cmb`).
    freq_ghz : float
        Band centre in GHz (delta bandpass, as in the Sehgal maps).
    """
    if unit not in MAP_UNIT_FACTORS:
        raise ValueError(f"map unit {unit!r} is not one of {sorted(MAP_UNIT_FACTORS)}")
    if unit == "Jy/sr":
        return float(jy_per_sr_to_uk_cmb(freq_ghz))
    if unit == "MJy/sr":
        return 1e6 * float(jy_per_sr_to_uk_cmb(freq_ghz))
    return MAP_UNIT_FACTORS[unit]


def read_healpix_pixels(path, nside: int, pixels: np.ndarray | None, field: int = 0) -> np.ndarray:
    """Values of a full-sky HEALPix FITS map at some RING pixels, without reading the whole map.

    The binary table is memory-mapped; only the pages holding ``pixels`` are
    read. Both the one-value-per-row and the 1024-values-per-row layouts
    written by HEALPix/healpy are accepted, in RING or NESTED ordering.

    Parameters
    ----------
    path : path-like
        FITS file with the map in its first binary-table extension.
    nside : int
        Expected NSIDE.
    pixels : ndarray of int or None
        RING pixel indices to read; None reads the whole map, in RING order.
    field : int
        Table column holding the map (0 = first).

    Returns
    -------
    ndarray of float64
        Map values at ``pixels`` in the file's units.

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing, not a full-sky HEALPix map, of another NSIDE,
        or holds non-finite or UNSEEN values at the requested pixels.
    """
    path = Path(path)
    if not path.is_file():
        raise io.InputFileError(f"map file {path} does not exist")
    try:
        with warnings.catch_warnings(), fits.open(path, memmap=True) as hdul:
            warnings.simplefilter("ignore")
            hdu = next((h for h in hdul[1:] if isinstance(h, fits.BinTableHDU)), None)
            if hdu is None:
                raise io.InputFileError(f"map file {path} has no binary table extension")
            hdr = hdu.header
            if str(hdr.get("PIXTYPE", "")).strip() != "HEALPIX":
                raise io.InputFileError(f"map file {path}: PIXTYPE is {hdr.get('PIXTYPE')!r}, not 'HEALPIX'")
            if str(hdr.get("INDXSCHM", "IMPLICIT")).strip() != "IMPLICIT":
                raise io.InputFileError(f"map file {path}: expected a full-sky (IMPLICIT) map")
            file_nside = int(hdr.get("NSIDE", -1))
            if file_nside != nside:
                raise io.InputFileError(
                    f"map file {path} has NSIDE={file_nside}, the configuration (sky.nside) needs {nside}"
                )
            ordering = str(hdr.get("ORDERING", "")).strip().upper()
            if ordering not in ("RING", "NESTED"):
                raise io.InputFileError(f"map file {path}: ORDERING {ordering!r} is neither RING nor NESTED")
            if field >= len(hdu.columns):
                raise io.InputFileError(f"map file {path} has {len(hdu.columns)} column(s), no field {field}")
            column = hdu.data.field(field)
            per_row = int(np.prod(column.shape[1:])) if column.ndim > 1 else 1
            if column.shape[0] * per_row != hp.nside2npix(nside):
                raise io.InputFileError(
                    f"map file {path} holds {column.shape[0] * per_row} pixels, "
                    f"a full sky at NSIDE={nside} has {hp.nside2npix(nside)}"
                )
            if pixels is None:
                values = np.asarray(column, dtype=np.float64).reshape(-1)
                if ordering == "NESTED":
                    values = hp.reorder(values, n2r=True)
            else:
                index = hp.ring2nest(nside, pixels) if ordering == "NESTED" else np.asarray(pixels)
                flat = column.reshape(column.shape[0], per_row)
                values = np.asarray(flat[index // per_row, index % per_row], dtype=np.float64)
    except io.InputFileError:
        raise
    except Exception as exc:  # astropy raises many types for truncated or corrupt FITS
        raise io.InputFileError(f"map file {path} is not a readable HEALPix FITS map: {exc}") from exc
    chunk = 1 << 22  # bounds the check's temporaries for a full-sky read
    n_bad = sum(
        int(np.count_nonzero(~np.isfinite(part) | np.isclose(part, hp.UNSEEN)))
        for part in (values[i : i + chunk] for i in range(0, values.size, chunk))
    )
    if n_bad:
        raise io.InputFileError(
            f"map file {path} has {n_bad} missing (UNSEEN or non-finite) pixels where they are read"
        )
    return values


def smoothing_lmax(beam: Beam, nside: int, lmax: int | None) -> int:
    """Band limit of the harmonic beam smoothing: ``lmax``, or min(3 nside - 1, the beam's band limit)."""
    return int(lmax) if lmax is not None else min(3 * nside - 1, beam.lmax)


def run_import_map(
    *,
    footprint: dict,
    nside: int,
    band: dict,
    component: str,
    unit: str,
    field: int,
    beam_smoothing: dict,
    threads: int,
    full_sky,
    component_map,
) -> None:
    """Cut one full-sky component map to the footprint (through the band's beam), convert it to µK_CMB.

    Without a beam only the footprint's pixels are read. With one
    (``beam_fwhm_arcmin`` > 0 or ``beam_file``), the whole map is read and
    smoothed in harmonic space: a_lm by ducc0 (:func:`skyhunt.sky.beam.healpix_analysis`,
    to :func:`smoothing_lmax`), times b_ell, synthesised on the footprint's
    rings only (:func:`skyhunt.sky.gaussian_field.synthesize_on_pixels`).

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution of the full-sky map and of the output.
    band : dict
        The band's ``sky.bands`` entry (``name``; ``freq_ghz`` in GHz sets the Jy/sr conversion;
        ``beam_fwhm_arcmin`` in arcmin, ``beam_file``).
    component : str
        skyhunt component name (cmb, tsz, ksz, ir, radio, dust).
    unit : str
        Unit of the input map (:data:`MAP_UNIT_FACTORS`).
    field : int
        Table column of the map.
    beam_smoothing : dict
        Config ``sky.beam_smoothing`` (``lmax``: null or an int; ``iterations``: Jacobi steps of
        the analysis).
    threads : int
        Threads of the spherical-harmonic transforms.
    full_sky : path-like
        Full-sky HEALPix map.
    component_map : path-like
        Output partial map in µK_CMB, the format of :func:`skyhunt.io.write_partial_map`.
    """
    pixels = Footprint.from_config(footprint).pixels(nside)
    factor = to_uk_cmb_factor(unit, band["freq_ghz"])
    beam = beam_of(band)
    if beam is None:
        values = read_healpix_pixels(full_sky, nside, pixels, field) * factor
    else:
        t0 = time.perf_counter()
        lmax = smoothing_lmax(beam, nside, beam_smoothing["lmax"])
        full_map = read_healpix_pixels(full_sky, nside, None, field)
        alm = healpix_analysis(full_map, nside, lmax, beam_smoothing["iterations"], threads)
        del full_map
        values = synthesize_on_pixels(beamed_alm(alm, band), nside, pixels, threads) * factor
        log.info(
            "smoothed with the %s beam to lmax %d (%d analysis iterations) in %.1f s",
            beam.name,
            lmax,
            beam_smoothing["iterations"],
            time.perf_counter() - t0,
        )
    source = {
        "SRCFILE": (Path(full_sky).name[:68], "imported full-sky map"),
        "SRCUNIT": (unit, "unit of the imported map"),
    }
    write_band_map(component_map, pixels, values, nside, band, component, source)
    log.info(
        "imported %s (%s, x %.6g uK_CMB per %s): %d pixels, rms %.3g uK",
        full_sky,
        component,
        factor,
        unit,
        pixels.size,
        np.std(values),
    )


# --------------------------------------------------------------------------------------------
# halos


def read_numeric_table(path, what: str, columns, expected: str) -> pd.DataFrame:
    """A headerless whitespace-separated numeric ASCII table with exactly ``columns``.

    Parameters
    ----------
    path : path-like
        The table.
    what : str
        What it is, for messages ("halo catalogue").
    columns : sequence of str
        Column names, in file order.
    expected : str
        Who says how many columns there are, for messages ("halo_nbody.ascii has").

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing, not numeric, or has another number of columns.
    """
    path = Path(path)
    if not path.is_file():
        raise io.InputFileError(f"{what} {path} does not exist")
    try:
        raw = pd.read_csv(path, sep=r"\s+", header=None, comment="#", dtype=np.float64)
    except Exception as exc:
        raise io.InputFileError(f"{what} {path} is not a whitespace-separated numeric table: {exc}") from exc
    if raw.shape[1] != len(columns):
        raise io.InputFileError(
            f"{what} {path} has {raw.shape[1]} columns; {expected} {len(columns)} ({', '.join(columns)})"
        )
    raw.columns = list(columns)
    return raw


def read_sehgal_halos(path) -> pd.DataFrame:
    """Read ``halo_nbody.ascii`` into columns ``halo_id, z, ra, dec, m_vir, m500c, v_los``.

    ``halo_id`` is the 0-based row in the file. ``v_los`` (km/s, positive =
    receding) is the peculiar velocity projected on the line of sight, the
    direction of the comoving position. Masses are in M_sun (the LAMBDA README
    gives M_sun, not M_sun/h); ``m500c`` is the catalogue's M500 (500 times the
    critical density).

    Raises
    ------
    skyhunt.io.InputFileError
        If the file is missing or does not have 20 numeric columns.
    """
    raw = read_numeric_table(path, "halo catalogue", SEHGAL_HALO_COLUMNS, "halo_nbody.ascii has")
    pos = raw[["x_mpc", "y_mpc", "z_mpc"]].to_numpy()
    vel = raw[["vx_km_s", "vy_km_s", "vz_km_s"]].to_numpy()
    dist = np.linalg.norm(pos, axis=1)
    v_los = np.einsum("ij,ij->i", vel, pos) / np.where(dist > 0, dist, 1.0)
    return pd.DataFrame(
        {
            "halo_id": np.arange(len(raw), dtype=np.int64),
            "z": raw["z"].to_numpy(),
            "ra": raw["ra"].to_numpy(),
            "dec": raw["dec"].to_numpy(),
            "m_vir": raw["m_vir"].to_numpy(),
            "m500c": raw["m500c"].to_numpy(),
            "v_los": v_los,
        }
    )


def read_user_halos(path) -> pd.DataFrame:
    """Read a user's halo catalogue (Parquet, or any table astropy reads: FITS, ECSV, CSV).

    Required columns: ``ra``, ``dec`` (deg), ``z``, ``m_vir`` (M_sun).
    Optional: ``halo_id`` (default: row number), ``m500c`` (M_sun; default:
    from M_vir with the configured c(M)), ``v_los`` (km/s; default 0).
    """
    path = Path(path)
    table = _read_any_table(path, "halo catalogue")
    missing = [c for c in ("ra", "dec", "z", "m_vir") if c not in table.columns]
    if missing:
        raise io.InputFileError(
            f"halo catalogue {path} lacks column(s) {missing}; it needs ra, dec (deg), z, m_vir (M_sun)"
        )
    if "halo_id" not in table.columns:
        table.insert(0, "halo_id", np.arange(len(table), dtype=np.int64))
    return table


def build_halo_table(
    footprint: dict, margin_deg: float, cosmology: dict, halo_model: dict, catalogue: pd.DataFrame
) -> pd.DataFrame:
    """Halos of a catalogue within the padded footprint, with the columns of :data:`HALO_UNITS`
    (all but ``y5r500_mean_arcmin2``: imported halos have no Y-M scatter).

    R500, theta500, Y5R500 and T follow from M500c and z with the Arnaud et al.
    (2010) relations, as for simulated halos; M500c comes from the catalogue
    when it has one, else from M_vir with the configured c(M). Y5R500 is the
    mean relation, without the Y-M scatter of simulated halos
    (``sky.halos.y_scatter_ln``, which config validation keeps at 0 here): the
    imported maps hold the SZ signal, and a drawn scatter would not be theirs.
    """
    box = Footprint.from_config(footprint)
    padded = box.padded(margin_deg)
    cat = catalogue.loc[padded.contains(catalogue["ra"].to_numpy(), catalogue["dec"].to_numpy())]
    cat = cat.loc[cat["m_vir"] >= halo_model["m_vir_min"]]
    z = cat["z"].to_numpy(dtype=float)
    m_vir = cat["m_vir"].to_numpy(dtype=float)
    if "m500c" in cat.columns:
        m500 = cat["m500c"].to_numpy(dtype=float)
    else:
        m500 = m500c_from_mvir(cosmology, halo_model, m_vir, z)
    bad = ~(m500 > 0) | ~(z > 0)
    if bad.any():
        raise io.InputFileError(f"{bad.sum()} halos in the footprint have M500c <= 0 or z <= 0")
    props = arnaud_halo_properties(colossus(cosmology), m500, z, halo_model["truncation_r500"])
    v_los = cat["v_los"].to_numpy(dtype=float) if "v_los" in cat.columns else np.zeros(len(cat))
    ra, dec = cat["ra"].to_numpy(dtype=float), cat["dec"].to_numpy(dtype=float)
    table = pd.DataFrame(
        {
            "halo_id": cat["halo_id"].to_numpy(dtype=np.int64),
            "ra": ra,
            "dec": dec,
            "z": z,
            "m_vir": m_vir,
            "m500c": m500,
            "r500": props["r500"],
            "theta500_arcmin": props["theta500_arcmin"],
            "y5r500_arcmin2": props["y_arcmin2"],
            "t_keV": props["t_keV"],
            "v_los": v_los,
            "in_footprint": box.contains(ra, dec),
        }
    )
    return table.iloc[np.lexsort((ra, dec))].reset_index(drop=True)


def run_import_halos(
    *, footprint: dict, margin_deg: float, cosmology: dict, halo_model: dict, kind: str, catalogue, halos
) -> None:
    """Write ``halos.parquet`` from a Sehgal (``kind='sehgal2010'``) or user (``'maps'``) catalogue.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    margin_deg : float
        Padding of the footprint (deg); halos in the padded footprint are kept.
    cosmology, halo_model : dict
        Config ``sky.cosmology`` and ``sky.halos`` (``m_vir_min``, ``concentration_model``,
        ``truncation_r500``).
    kind : str
        ``sehgal2010`` or ``maps`` (config ``sky.source``).
    catalogue : path-like
        Input halo catalogue.
    halos : path-like
        Output Parquet table (:data:`skyhunt.sky.halos.HALO_UNITS`).
    """
    rows = read_sehgal_halos(catalogue) if kind == "sehgal2010" else read_user_halos(catalogue)
    table = build_halo_table(footprint, margin_deg, cosmology, halo_model, rows)
    log.info(
        "%d of %d catalogue halos in the padded footprint, %d of them in the footprint",
        len(table),
        len(rows),
        table["in_footprint"].sum(),
    )
    io.write_table(
        halos,
        {c: table[c].to_numpy() for c in table.columns},
        {c: HALO_UNITS[c] for c in table.columns},
        meta={"catalogue": Path(catalogue).name, "kind": kind, "footprint": footprint},
    )


# --------------------------------------------------------------------------------------------
# point sources


def read_source_catalogue(path, columns: list[str], population: str, bands: list[dict]) -> pd.DataFrame:
    """Read one whitespace-separated point-source catalogue into the rows of ``sources.parquet``.

    Parameters
    ----------
    path : path-like
        ASCII catalogue, one source per line.
    columns : list of str
        Name of every column in file order; ``ra`` and ``dec`` (deg) are
        required, ``halo_id`` is optional (host halo), and ``flux_<band>`` (mJy)
        is required for every configured band name (e.g. ``flux_148``).
    population : str
        ``radio`` or ``ir``.
    bands : list of dict
        ``sky.bands``.

    Returns
    -------
    pandas.DataFrame
        Columns ``ra, dec, population, host_halo_id, spectral_index`` and
        ``flux_<band>_mjy``. The spectral index is fitted between the lowest
        and highest configured band, S ∝ nu^index (NaN for one band or a
        non-positive flux).
    """
    need = ["ra", "dec", *(f"flux_{b['name']}" for b in bands)]
    missing = [c for c in need if c not in columns]
    if missing:
        raise io.InputFileError(f"source catalogue {path}: the configured columns lack {missing}")
    raw = read_numeric_table(path, "source catalogue", columns, "the configuration names")
    out = {
        "ra": raw["ra"].to_numpy(),
        "dec": raw["dec"].to_numpy(),
        "population": np.full(len(raw), population, dtype=object),
        "host_halo_id": raw["halo_id"].to_numpy().astype(np.int64)
        if "halo_id" in raw
        else np.full(len(raw), -1),
    }
    by_freq = sorted(bands, key=lambda b: b["freq_ghz"])
    lo, hi = by_freq[0], by_freq[-1]
    s_lo, s_hi = raw[f"flux_{lo['name']}"].to_numpy(), raw[f"flux_{hi['name']}"].to_numpy()
    alpha = np.full(len(raw), np.nan)
    ok = (s_lo > 0) & (s_hi > 0) & (hi["freq_ghz"] > lo["freq_ghz"])
    alpha[ok] = np.log(s_hi[ok] / s_lo[ok]) / np.log(hi["freq_ghz"] / lo["freq_ghz"])
    out["spectral_index"] = alpha
    for band in bands:
        out[sky_sources.flux_column(band)] = raw[f"flux_{band['name']}"].to_numpy()
    return pd.DataFrame(out)


def run_import_sources(
    *, footprint: dict, margin_deg: float, bands: list, specs: list, catalogues: list, sources
) -> None:
    """Write ``sources.parquet`` from point-source catalogues, cut to the padded footprint.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    margin_deg : float
        Padding of the footprint (deg).
    bands : list of dict
        ``sky.bands`` entries (``name``, ``freq_ghz``): one flux column per band.
    specs : list of (columns, population)
        Column layout and population of each catalogue, in the order of ``catalogues``.
    catalogues : list of path-like
        Catalogues to merge, in order; an empty list writes an empty table.
    sources : path-like
        Output Parquet file (columns and units of :func:`skyhunt.sky.sources.source_units`).
    """
    padded = Footprint.from_config(footprint).padded(margin_deg)
    blocks = [
        read_source_catalogue(path, columns, population, bands)
        for path, (columns, population) in zip(catalogues, specs, strict=True)
    ]
    units = sky_sources.source_units(bands)
    empty = pd.DataFrame({c: pd.Series(dtype=_source_dtype(c)) for c in units if c != "source_id"})
    cat = pd.concat([empty, *blocks], ignore_index=True).astype({c: _source_dtype(c) for c in empty.columns})
    cat = cat.loc[padded.contains(cat["ra"].to_numpy(), cat["dec"].to_numpy())].reset_index(drop=True)
    cat.insert(0, "source_id", np.arange(len(cat), dtype=np.int64))
    if not catalogues:
        log.warning("no point-source catalogue configured: writing an empty sources table")
    log.info(
        "%d point sources in the padded footprint: %s", len(cat), cat["population"].value_counts().to_dict()
    )
    io.write_table(
        sources,
        {c: cat[c].to_numpy() for c in units},
        units,
        meta={"catalogues": [os.fspath(Path(p).name) for p in catalogues]},
    )


def _source_dtype(column: str):
    if column == "population":
        return object
    if column == "host_halo_id":
        return np.int64
    return np.float64


def _read_any_table(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise io.InputFileError(f"{what} {path} does not exist")
    if path.suffix == ".parquet":
        return io.read_table(path)[0]
    try:
        return Table.read(path).to_pandas()
    except Exception as exc:
        raise io.InputFileError(f"{what} {path} is not a table astropy can read: {exc}") from exc
