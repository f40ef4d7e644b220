"""The selection-function products: the completeness grid and the mass-limit table, as FITS.

The completeness file follows nemo's selection-function products (Hilton et al. 2021, ACT DR5,
section 4.1: completeness on a grid of M500c and z with its axes): one image extension per
quantity and method, shape (n_z, n_m500c), and two binary tables with the bin edges and
centres of the axes, each column with its ``TUNITn``. Headers carry the method's threshold and
the comparison with the simulated sky's own halos. Written with checksums under a fixed
comment, so the same inputs give the same bytes.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import healpy as hp
import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning

from skyhunt import io

#: Image extensions per method (``<METHOD>_<NAME>``), shape (n_z, n_m500c), and their BUNIT.
GRID_QUANTITIES = {
    "COMPLETENESS": "",  # recovered over injected
    "LOWER": "",  # central interval of the completeness
    "UPPER": "",
    "N_INJECTED": "count",
    "N_RECOVERED": "count",
    "TRUTH_COMPLETENESS": "",  # the sky's own halos found over halos
    "TRUTH_LOWER": "",
    "TRUTH_UPPER": "",
    "TRUTH_N": "count",
    "TRUTH_K": "count",
}


@dataclass
class CompletenessGrid:
    """Completeness of each method on a grid of M500c and z.

    Attributes
    ----------
    m500c_edges : ndarray
        Bin edges in M500c, M_sun (increasing).
    z_edges : ndarray
        Bin edges in redshift (increasing).
    methods : dict
        Method name (``mf``, ...) to a dict of :data:`GRID_QUANTITIES` arrays, shape
        (n_z, n_m500c); counts as integers, proportions NaN where a bin holds nothing.
    headers : dict
        Method name to extra header cards, key to (value, comment).
    """

    m500c_edges: np.ndarray
    z_edges: np.ndarray
    methods: dict
    headers: dict = field(default_factory=dict)


def _axis_hdu(name: str, edges: np.ndarray, unit: str | None, centre: np.ndarray) -> fits.BinTableHDU:
    cols = [
        fits.Column(name=c, format="D", unit=unit, array=v)
        for c, v in (("lo", edges[:-1]), ("hi", edges[1:]), ("centre", centre))
    ]
    return fits.BinTableHDU.from_columns(cols, name=name)


def _check_sums(hdul, path) -> None:
    """Every HDU's CHECKSUM and DATASUM verify (astropy only warns), else InputFileError."""
    for hdu in hdul:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", AstropyUserWarning)
            ok = hdu.verify_checksum() == 1 and hdu.verify_datasum() == 1
        if not ok:
            raise io.InputFileError(
                f"{path} fails its FITS checksum in extension {hdu.name!r} (corrupt or truncated)"
            )


def write_completeness(path, grid: CompletenessGrid) -> None:
    """Write the completeness grid to FITS (atomically).

    Extensions: ``M500C`` (lo, hi, centre: the geometric centre; solMass, the FITS unit of
    M_sun), ``Z`` (lo, hi, centre), then per method the images of :data:`GRID_QUANTITIES` named
    ``<METHOD>_<QUANTITY>``.
    """
    m, z = np.asarray(grid.m500c_edges, float), np.asarray(grid.z_edges, float)
    primary = fits.PrimaryHDU()
    # the list of eight methods leaves no room for a comment on its card
    primary.header["METHODS"] = ",".join(grid.methods)
    primary.header.add_comment("METHODS: the methods with a completeness grid, comma-separated")
    primary.header["NM500C"] = (m.size - 1, "M500c bins (axis 1 of the images)")
    primary.header["NZ"] = (z.size - 1, "redshift bins (axis 2 of the images)")
    hdus = [
        primary,
        _axis_hdu("M500C", m, "solMass", np.sqrt(m[:-1] * m[1:])),
        _axis_hdu("Z", z, None, 0.5 * (z[:-1] + z[1:])),
    ]
    for method, arrays in grid.methods.items():
        for quantity, unit in GRID_QUANTITIES.items():
            data = np.asarray(arrays[quantity])
            if data.shape != (z.size - 1, m.size - 1):
                raise ValueError(
                    f"{method} {quantity}: shape {data.shape}, expected {(z.size - 1, m.size - 1)}"
                )
            hdu = fits.ImageHDU(
                data.astype(np.int64 if unit == "count" else np.float64), name=f"{method.upper()}_{quantity}"
            )
            hdu.header["BUNIT"] = unit or "dimensionless"
            hdu.header["METHOD"] = method
            for key, card in grid.headers.get(method, {}).items():
                hdu.header[key] = card
            hdus.append(hdu)
    hdul = fits.HDUList(hdus)
    for h in hdul:
        h.add_checksum(when="skyhunt")  # a fixed comment, not a timestamp: same inputs, same bytes
    with io.atomic_output(path) as tmp:
        hdul.writeto(tmp)


def read_completeness(path) -> CompletenessGrid:
    """Read a file of :func:`write_completeness`, checking its checksums, axes and units."""
    try:
        with fits.open(path) as hdul:
            _check_sums(hdul, path)
            names = [h.name for h in hdul]
            if "M500C" not in names or "Z" not in names:
                raise io.InputFileError(f"completeness file {path} has no M500C or Z axis extension")
            if hdul["M500C"].columns["lo"].unit != "solMass":
                raise io.InputFileError(f"completeness file {path}: M500C axis not in solMass")
            ax_m, ax_z = hdul["M500C"].data, hdul["Z"].data
            m = np.append(ax_m["lo"], ax_m["hi"][-1]).astype(float)
            z = np.append(ax_z["lo"], ax_z["hi"][-1]).astype(float)
            methods, headers = {}, {}
            for method in hdul[0].header["METHODS"].split(","):
                methods[method] = {q: np.array(hdul[f"{method.upper()}_{q}"].data) for q in GRID_QUANTITIES}
                h = hdul[f"{method.upper()}_COMPLETENESS"].header
                skip = {
                    "XTENSION",
                    "BITPIX",
                    "NAXIS",
                    "NAXIS1",
                    "NAXIS2",
                    "PCOUNT",
                    "GCOUNT",
                    "EXTNAME",
                    "BUNIT",
                    "METHOD",
                    "CHECKSUM",
                    "DATASUM",
                }
                headers[method] = {k: (h[k], h.comments[k]) for k in h if k not in skip}
    except (OSError, KeyError) as err:
        raise io.InputFileError(f"completeness file {path} cannot be read: {err}") from err
    return CompletenessGrid(m, z, methods, headers)


#: Columns of the mass-limit table and their units.
MASS_LIMIT_UNITS = {
    "tile": "",
    "ra0": "deg",
    "dec0": "deg",
    "ra_lo": "deg",
    "ra_hi": "deg",
    "dec_lo": "deg",
    "dec_hi": "deg",
    "sigma_y0": "",  # Compton-y, the fixed filter's noise
    "m500c_limit": "solMass",
}


#: Columns of the per-method footprint-wide limits (extension ``METHODS``) and their units.
METHOD_LIMIT_UNITS = {"method": "", "threshold": "", "m500c_limit": "solMass"}


def write_mass_limit(path, columns: dict, header: dict, methods: dict) -> None:
    """Write the per-tile mass-limit table (extension ``MASSLIMIT``, :data:`MASS_LIMIT_UNITS`) and
    each method's footprint-wide limit (extension ``METHODS``, :data:`METHOD_LIMIT_UNITS`; method
    to (threshold, limit), NaN for none)."""
    cols = [
        fits.Column(
            name=c, format="K" if c == "tile" else "D", unit=MASS_LIMIT_UNITS[c] or None, array=columns[c]
        )
        for c in MASS_LIMIT_UNITS
    ]
    hdu = fits.BinTableHDU.from_columns(cols, name="MASSLIMIT")
    for key, card in header.items():
        hdu.header[key] = card
    names = list(methods)
    per_method = fits.BinTableHDU.from_columns(
        [
            fits.Column(name="method", format=f"{max(map(len, names))}A", array=np.array(names)),
            fits.Column(name="threshold", format="D", array=np.array([methods[m][0] for m in names])),
            fits.Column(
                name="m500c_limit", format="D", unit="solMass", array=np.array([methods[m][1] for m in names])
            ),
        ],
        name="METHODS",
    )
    hdul = fits.HDUList([fits.PrimaryHDU(), hdu, per_method])
    for h in hdul:
        h.add_checksum(when="skyhunt")
    with io.atomic_output(path) as tmp:
        hdul.writeto(tmp)


def read_mass_limit(path):
    """The mass-limit tables (:func:`write_mass_limit`) as astropy Tables with units, and the header.

    Returns
    -------
    tiles : Table
        The per-tile table (:data:`MASS_LIMIT_UNITS`).
    header : Header
        Its header.
    methods : Table
        The per-method footprint-wide limits (:data:`METHOD_LIMIT_UNITS`).
    """
    try:
        with fits.open(path) as hdul:
            _check_sums(hdul, path)
            header = hdul["MASSLIMIT"].header.copy()
        table = Table.read(path, hdu="MASSLIMIT")
        methods = Table.read(path, hdu="METHODS")
    except (OSError, KeyError) as err:
        raise io.InputFileError(f"mass-limit file {path} cannot be read: {err}") from err
    missing = [c for c in MASS_LIMIT_UNITS if c not in table.colnames]
    missing += [c for c in METHOD_LIMIT_UNITS if c not in methods.colnames]
    if missing:
        raise io.InputFileError(f"mass-limit file {path} lacks columns {missing}")
    methods.convert_bytestring_to_unicode()
    return table, header, methods


def write_mass_limit_map(path, values: np.ndarray, header: dict) -> None:
    """Write the HEALPix mass-limit map (RING, M500c in solMass, UNSEEN outside) that healpy reads."""
    with io.atomic_output(path) as tmp:
        hp.write_map(
            str(tmp),
            values,
            coord="C",
            column_names=["M500C_LIMIT"],
            column_units="solMass",
            dtype=np.float64,
            extra_header=[(k, v, c) for k, (v, c) in header.items()],
        )
