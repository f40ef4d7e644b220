"""Catalogue files: a FITS binary table (units in ``TUNITn``) and a Parquet twin of each catalogue.

Every catalogue has the columns ``ra``, ``dec`` (deg), ``score`` (larger: more likely a cluster;
method-specific), ``class`` and ``split`` (the RA stripe, :func:`skyhunt.cutouts.layout.split_of`),
then its method's columns (:data:`METHOD_COLUMNS`). Rows are sorted by decreasing score, ties by
ra then dec. The FITS header records the stage (``STAGE``), the method (``METHOD``), the config
keys that made the catalogue (``CONFIG``, JSON) and, for catalogues with mass columns, where the
masses and their redshifts come from (``MASSES``, JSON); the Parquet metadata holds the same. FITS
columns with a physical unit carry ``TUNITn`` (deg, arcmin, solMass); the others are
dimensionless (no ``TUNITn``, the FITS convention); the Parquet units describe every column.

Masses (issue 16): the MF catalogue and the vetted ones carry rule ``mf_masses``' M500c of each
candidate (the fixed-scale y0 through the Arnaud et al. 2010 Y-M relation at the *true* redshift
of the matched halo, NaN without a match) with its interval (:data:`MF_MASS_COLUMNS`); the
detector catalogue carries rule ``cnn_masses``' CNN mass of the halo each entry matches, with
exp(-/+ sigma) of its predicted ln M (:data:`DETECTOR_MASS_COLUMNS`; NaN where that halo has no
CNN mass); the ensembles carry both, the masses of their matched MF entry as ``*_mf`` (NaN for
detector-only entries) and of their matched detector entry as ``*_detector`` (NaN for MF-only
entries).
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from skyhunt import io

#: Catalogue methods, in report order, and their display names.
CATALOGUE_NAMES = {
    "mf": "MF",
    "detector": "CNN detector",
    "ens_prod": "Catalogue EnsemblePROD",
    "ens_learned": "Catalogue learned ensemble",
    "vetted_cnn": "MF vetted by the CNN",
    "vetted_classical": "MF vetted by gradient boosting",
}
#: The catalogues of the two finders and their ensembles; the vetted MF catalogues (issue 17) follow.
CATALOGUES = ("mf", "detector", "ens_prod", "ens_learned")
VETTED = ("vetted_cnn", "vetted_classical")
ALL_CATALOGUES = (*CATALOGUES, *VETTED)

#: Columns of every catalogue and their units.
COMMON_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "score": "method score (larger: more likely a cluster)",
    "class": "",
    "split": "RA stripe",
}

#: Columns of the MF's search (the MF catalogue and the vetted ones) and their units.
MF_SEARCH_COLUMNS = {
    "snr": "SNR",
    "scale_arcmin": "arcmin (template scale of the largest SNR)",
    "scale_index": "",
    "y0": "Compton-y (template central value)",
    "tile": "",
}
#: Mass columns of the MF catalogue (rule mf_masses, in candidate order) and their units.
MF_MASS_COLUMNS = {
    "z": "true redshift of the matched halo (NaN: no halo within mf.matching.radius_arcmin)",
    "m500c": "M_sun (fixed-scale y0 through the Arnaud Y-M relation at z; NaN: no mass)",
    "m500c_lo": "M_sun (lower end of the mass interval)",
    "m500c_hi": "M_sun (upper end of the mass interval)",
}

#: Mass columns of the detector catalogue (the CNN mass network of rule cnn_masses) and their units.
DETECTOR_MASS_COLUMNS = {
    "z": "true redshift of the matched halo (NaN: no halo within catalogues.match_radius_arcmin)",
    "m500c": (
        "M_sun (CNN mass network on the cutout holding the matched halo; NaN: the halo is not the "
        "qualifying halo of a validation or test positive cutout)"
    ),
    "m500c_lo": "M_sun (predicted ln M500c minus its predicted sigma)",
    "m500c_hi": "M_sun (predicted ln M500c plus its predicted sigma)",
}

#: Method columns (after the common ones) and their units.
METHOD_COLUMNS = {
    "mf": {**MF_SEARCH_COLUMNS, **MF_MASS_COLUMNS},
    "detector": {
        "prob": "heat-map probability of the class",
        "p_cluster": "heat-map probability",
        "p_radio": "heat-map probability",
        "p_dusty": "heat-map probability",
        "p_cluster_radio": "heat-map probability",
        "pos_err_arcmin": "arcmin (1-sigma position uncertainty)",
        "tile": "",
        **DETECTOR_MASS_COLUMNS,
    },
}
ENSEMBLE_COLUMNS = {
    "found_by": "both, mf or detector",
    "score_mf": "SNR (0: not in the MF catalogue)",
    "score_detector": "probability (0: not in the detector catalogue)",
    "q_mf": "rank percentile of score_mf within the split",
    "q_detector": "rank percentile of score_detector within the split",
    "ra_mf": "deg (NaN: not in the MF catalogue)",
    "dec_mf": "deg (NaN: not in the MF catalogue)",
    "ra_detector": "deg (NaN: not in the detector catalogue)",
    "dec_detector": "deg (NaN: not in the detector catalogue)",
    "separation_arcmin": "arcmin (MF to detector position; NaN unless both)",
    **{
        f"{c}_mf": f"{u}, of the matched MF entry (NaN: not in the MF catalogue)"
        for c, u in MF_MASS_COLUMNS.items()
    },
    **{
        f"{c}_detector": f"{u}, of the matched detector entry (NaN: not in the detector catalogue)"
        for c, u in DETECTOR_MASS_COLUMNS.items()
    },
}
METHOD_COLUMNS["ens_prod"] = METHOD_COLUMNS["ens_learned"] = ENSEMBLE_COLUMNS
METHOD_COLUMNS["vetted_cnn"] = METHOD_COLUMNS["vetted_classical"] = {
    **MF_SEARCH_COLUMNS,
    "p_cnn": "probability of a real cluster (CNN vetter)",
    "p_classical": "probability of a real cluster (gradient-boosting vetter)",
    **MF_MASS_COLUMNS,
}

#: FITS units of the columns that have one.
FITS_UNITS = {
    **{c: "deg" for c in ("ra", "dec", "ra_mf", "dec_mf", "ra_detector", "dec_detector")},
    **{c: "arcmin" for c in ("scale_arcmin", "pos_err_arcmin", "separation_arcmin")},
    **{
        f"{c}{suffix}": "solMass"
        for c in ("m500c", "m500c_lo", "m500c_hi")
        for suffix in ("", "_mf", "_detector")
    },
}


def catalogue_units(method: str) -> dict:
    """Column -> unit of the catalogue of ``method``, in column order."""
    return {**COMMON_UNITS, **METHOD_COLUMNS[method]}


def sort_catalogue(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by decreasing score, ties by ra then dec (independent of the input order)."""
    order = np.lexsort((table["dec"].to_numpy(), table["ra"].to_numpy(), -table["score"].to_numpy()))
    return table.iloc[order].reset_index(drop=True)


def _fits_column(name: str, values: np.ndarray) -> fits.Column:
    if values.dtype.kind in "OUS":
        text = values.astype(str)
        width = max(1, max((len(s) for s in text), default=1))
        return fits.Column(name=name, format=f"{width}A", array=np.char.encode(text, "ascii"))
    fmt = {"i": "K", "u": "K", "b": "L"}.get(values.dtype.kind, "D")
    return fits.Column(name=name, format=fmt, unit=FITS_UNITS.get(name), array=values)


def write_catalogue(table: pd.DataFrame, method: str, meta: dict, fits_path, parquet_path) -> None:
    """Write one catalogue as FITS and Parquet (columns of :func:`catalogue_units`, sorted).

    Parameters
    ----------
    table : DataFrame
        The catalogue, with every column of the method.
    method : str
        One of :data:`ALL_CATALOGUES`.
    meta : dict
        ``stage`` and ``config`` (the config keys that made it), and ``masses`` (where the mass
        columns come from) for catalogues with masses; JSON-serialisable.
    fits_path, parquet_path : path-like
        Outputs, each written atomically; same inputs give the same bytes.
    """
    units = catalogue_units(method)
    table = sort_catalogue(table)
    columns = {c: table[c].to_numpy() for c in units}
    meta = {"method": method, **meta}
    io.write_table(parquet_path, columns, units, meta=meta)
    hdu = fits.BinTableHDU.from_columns([_fits_column(c, v) for c, v in columns.items()], name="CATALOG")
    hdu.header["METHOD"] = (method, CATALOGUE_NAMES[method])
    hdu.header["STAGE"] = (meta["stage"], "noise stage of the maps searched")
    hdu.header["CONFIG"] = json.dumps(meta["config"], sort_keys=True)
    if "masses" in meta:
        hdu.header["MASSES"] = json.dumps(meta["masses"], sort_keys=True)
    hdul = fits.HDUList([fits.PrimaryHDU(), hdu])
    for h in hdul:
        h.add_checksum(when="skyhunt")  # a fixed comment, not a timestamp: same inputs, same bytes
    with io.atomic_output(fits_path) as tmp:
        hdul.writeto(tmp)


def read_catalogue(path, method: str) -> pd.DataFrame:
    """A catalogue of ``method`` (Parquet, or FITS by its ``.fits`` suffix) with all its columns.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the file if it is missing, unreadable, lacks a column or holds a non-finite
        ra, dec or score.
    """
    units = catalogue_units(method)
    if str(path).endswith(".fits"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", AstropyUserWarning)
                with fits.open(path, memmap=False) as hdul:
                    hdu = hdul["CATALOG"]
                    if "CHECKSUM" in hdu.header and not (
                        hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1
                    ):
                        raise io.InputFileError(
                            f"catalogue {path} fails its FITS checksum (corrupt or truncated)"
                        )
                    fits_table = Table.read(hdu)
                fits_table.convert_bytestring_to_unicode()
                table = fits_table.to_pandas()
        except io.InputFileError:
            raise
        except Exception as exc:  # astropy raises many types for missing or corrupt FITS
            raise io.InputFileError(f"catalogue {path} is not a readable FITS catalogue: {exc}") from exc
        io.require_columns(table, units, path)
    else:
        table = io.read_checked_table(path, units)
    check_finite(table, ("ra", "dec", "score"), path)
    return table


def check_finite(table: pd.DataFrame, columns, path) -> None:
    """Fail naming ``path`` and the column if one of ``columns`` holds NaN or infinity."""
    for c in columns:
        bad = ~np.isfinite(table[c].to_numpy(np.float64))
        if bad.any():
            raise io.InputFileError(f"{path}: column {c} is NaN or infinite in {bad.sum()} rows")
