"""A halo light cone drawn from the Tinker et al. (2008) mass function.

DeepSZ (Lin et al. 2021, section 1.1) used the N-body halo catalogue of the
Sehgal et al. (2010) simulations; skyhunt draws an equivalent Poisson light
cone from the analytic mass function (colossus) over the footprint. Halos are
unclustered: their positions are uniform on the sphere. Their Y5R500 follows the
Arnaud et al. (2010) Y-M relation, optionally with log-normal intrinsic scatter
(:func:`scatter_y`).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from colossus.halo import mass_adv, mass_so
from colossus.lss import mass_function
from scipy import integrate, optimize
from scipy.interpolate import RegularGridInterpolator

from skyhunt.sky import profiles
from skyhunt.sky.cosmology import colossus
from skyhunt.sky.footprint import Footprint

#: Speed of light in km/s.
C_KM_S = 299792.458

#: Units of the halo table columns, stored in the Parquet metadata (of the columns a table has:
#: ``y5r500_mean_arcmin2``, the mean-relation Y, only with Y-M scatter, ``sky.halos.y_scatter_ln`` > 0;
#: ``profile_xc_r500`` and ``profile_beta``, the Battaglia et al. 2012 shape, only with
#: ``sky.halos.pressure_profile: battaglia12``).
HALO_UNITS = {
    "halo_id": "",
    "ra": "deg",
    "dec": "deg",
    "z": "",
    "m_vir": "M_sun",
    "m500c": "M_sun",
    "r500": "Mpc (physical)",
    "theta500_arcmin": "arcmin",
    "y5r500_arcmin2": "arcmin^2",
    "y5r500_mean_arcmin2": "arcmin^2",
    "profile_xc_r500": "R500",
    "profile_beta": "",
    "t_keV": "keV",
    "v_los": "km/s (positive = receding)",
    "in_footprint": "",
}

_LOG10_M_MAX = 16.0


def qualifying_mask(halos: pd.DataFrame, m_vir_min: float, z_min: float) -> np.ndarray:
    """Whether each halo qualifies: M_vir >= ``m_vir_min`` and z >= ``z_min``.

    The one definition of the halos that make a cutout positive (DeepSZ 1.2: M_vir >= 2e14 M_sun,
    z >= 0.25); the thresholds are config ``cutouts.positive``.

    Parameters
    ----------
    halos : pandas.DataFrame
        Halo table with m_vir (M_sun) and z.
    m_vir_min : float
        Lowest virial mass, M_sun.
    z_min : float
        Lowest redshift.

    Returns
    -------
    ndarray of bool
        One entry per row of ``halos``.
    """
    return (halos["m_vir"].to_numpy() >= m_vir_min) & (halos["z"].to_numpy() >= z_min)


class LightCone:
    """Expected halo density per unit redshift, log-mass and solid angle.

    Parameters
    ----------
    cosmo_cfg : dict
        ``sky.cosmology`` config.
    halo_cfg : dict
        ``sky.halos`` config (mass_function, m_vir_min in M_sun, z_max).
    nz, nm : int
        Grid size in redshift and log10 mass.
    """

    def __init__(self, cosmo_cfg: dict, halo_cfg: dict, nz: int = 600, nm: int = 400):
        self.cosmo = colossus(cosmo_cfg)
        self.h = self.cosmo.H0 / 100.0
        self.model = halo_cfg["mass_function"]
        z_max = float(halo_cfg["z_max"])
        # z = 0 has zero volume; start the grid just above it.
        self.z = np.linspace(z_max / nz, z_max, nz)
        self.log10_m = np.linspace(np.log10(halo_cfg["m_vir_min"]), _LOG10_M_MAX, nm)
        self.density = np.array([self.d2n_dz_dlnm(zi, 10**self.log10_m) for zi in self.z])

    def d2n_dz_dlnm(self, z: float, m_vir: np.ndarray) -> np.ndarray:
        """Number of halos per unit z, per unit ln M_vir and per steradian.

        Parameters
        ----------
        z : float
            Redshift.
        m_vir : ndarray
            Virial mass in M_sun.
        """
        # Tinker et al. (2008) is calibrated for overdensities >= 200 rho_m; at
        # z >~ 1.5 the virial overdensity falls below that (to 178 rho_m at high
        # z) and the 200m mass function stands in for it (masses differ by < 2 %).
        delta_m = mass_so.densityThreshold(z, "vir") / self.cosmo.rho_m(z)
        mdef = "vir" if delta_m >= 200.0 else "200m"
        dn_dlnm = mass_function.massFunction(
            m_vir * self.h, z, mdef=mdef, model=self.model, q_out="dndlnM"
        )  # (Mpc/h)^-3, comoving
        d_c = self.cosmo.comovingDistance(0.0, z)  # Mpc/h
        dchi_dz = C_KM_S / self.cosmo.Hz(z) * self.h  # Mpc/h
        return dn_dlnm * d_c**2 * dchi_dz

    def sample(self, n_steradian: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Draw a Poisson realisation of (z, M_vir) over a solid angle.

        Cells of the (z, ln M) grid are drawn by their expected counts; within
        a cell, z is uniform and ln M follows the log-linear interpolation of
        the density between the cell edges (exact for a local power law).

        Parameters
        ----------
        n_steradian : float
            Solid angle in sr.
        rng : numpy.random.Generator

        Returns
        -------
        z : ndarray
        m_vir : ndarray
            M_sun.
        """
        dz = self.z[1] - self.z[0]
        dlnm = (self.log10_m[1] - self.log10_m[0]) * np.log(10.0)
        f = np.maximum(self.density, 1e-300)
        # cell integrals: trapezoid in z, log-trapezoid (exact for power law) in ln M
        fz = 0.5 * (f[1:] + f[:-1])
        f_lo, f_hi = fz[:, :-1], fz[:, 1:]
        slope = np.log(f_hi / f_lo) / dlnm
        small = np.abs(slope * dlnm) < 1e-8
        cell = np.where(small, f_lo * dlnm, f_lo * np.expm1(slope * dlnm) / np.where(small, 1.0, slope))
        expected = cell * dz * n_steradian
        n = rng.poisson(expected.sum())
        idx = rng.choice(expected.size, size=n, p=(expected / expected.sum()).ravel())
        iz, im = np.unravel_index(idx, expected.shape)
        z = self.z[iz] + rng.uniform(0.0, dz, n)
        s = slope[iz, im]
        u = rng.uniform(0.0, 1.0, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(small[iz, im], u * dlnm, np.log1p(u * np.expm1(s * dlnm)) / s)
        m_vir = 10 ** self.log10_m[im] * np.exp(x)
        return z, m_vir

    def expected_count(self, n_steradian: float, m_vir_min: float, z_min: float) -> float:
        """Expected number of halos with M_vir >= m_vir_min (M_sun) and z >= z_min.

        Integrates the mass function with scipy quadrature, independently of
        the sampling grid (used to check :meth:`sample`).
        """

        def per_z(z):
            lnm = np.linspace(np.log(m_vir_min), _LOG10_M_MAX * np.log(10.0), 2000)
            return np.trapezoid(self.d2n_dz_dlnm(z, np.exp(lnm)), lnm)

        z_lo, z_hi = max(z_min, 1e-4), self.z[-1]

        # the integrand steps where the mass definition switches (see d2n_dz_dlnm)
        def excess(z):
            return mass_so.densityThreshold(z, "vir") / self.cosmo.rho_m(z) - 200.0

        points = [optimize.brentq(excess, z_lo, z_hi)] if excess(z_lo) * excess(z_hi) < 0 else None
        total, _ = integrate.quad(per_z, z_lo, z_hi, points=points, limit=400, epsrel=1e-4)
        return total * n_steradian


def m500c_from_mvir(cosmo_cfg: dict, halo_cfg: dict, m_vir: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Convert M_vir to M500c assuming NFW profiles with a c(M) relation.

    Parameters
    ----------
    m_vir : ndarray
        Virial mass in M_sun.
    z : ndarray
        Redshift.

    Returns
    -------
    ndarray
        M500c in M_sun.
    """
    return convert_mass(cosmo_cfg, halo_cfg, m_vir, z, "vir", "500c")


def convert_mass(
    cosmo_cfg: dict,
    halo_cfg: dict,
    mass: np.ndarray,
    z: np.ndarray,
    mdef_in: str,
    mdef_out: str,
    below_dex: float = 0.1,
) -> np.ndarray:
    """Convert halo masses between spherical-overdensity definitions (NFW with the c(M) relation).

    The conversion (colossus ``changeMassDefinitionCModel``, c(M) of
    ``halo_cfg["concentration_model"]``) is tabulated on a (z, log M) grid from
    ``m_vir_min`` / 10^``below_dex`` to 10^16.1 M_sun and interpolated, which is exact to <0.1 %.

    Parameters
    ----------
    mass : ndarray
        Masses of definition ``mdef_in`` (colossus names: "vir", "500c", "200m", ...), M_sun.
    z : ndarray
        Redshift.
    below_dex : float
        How far below ``m_vir_min`` the grid starts, dex (masses of other definitions are smaller).

    Returns
    -------
    ndarray
        Masses of definition ``mdef_out``, M_sun.
    """
    cosmo = colossus(cosmo_cfg)
    h = cosmo.H0 / 100.0
    zg = np.linspace(0.0, max(float(np.max(z, initial=0.0)), 1e-3) + 1e-3, 40)
    lmg = np.linspace(np.log10(halo_cfg["m_vir_min"]) - below_dex, _LOG10_M_MAX + 0.1, 50)
    ratio = np.empty((zg.size, lmg.size))
    for i, zi in enumerate(zg):
        with warnings.catch_warnings():
            # c(M) fits are extrapolated beyond their calibrated range at high z
            warnings.filterwarnings("ignore", message="Some masses or redshifts are outside")
            m_out, _, _ = mass_adv.changeMassDefinitionCModel(
                10**lmg * h, zi, mdef_in, mdef_out, c_model=halo_cfg["concentration_model"]
            )
        ratio[i] = np.log10(m_out / (10**lmg * h))
    interp = RegularGridInterpolator((zg, lmg), ratio)
    return mass * 10 ** interp(np.column_stack([z, np.log10(mass)]))


def scatter_y(y_mean: np.ndarray, sigma_ln: float, rng: np.random.Generator) -> np.ndarray:
    """Realised Y of halos with log-normal intrinsic scatter about the mean Y-M relation.

    ln Y = ln Y_mean + ``sigma_ln`` N(0, 1), one independent normal per halo:
    the scatter is about the relation in ln Y, so the median Y at fixed M500c
    and z is Y_mean and the mean is Y_mean exp(sigma_ln^2 / 2). This is the
    convention of the ACT cluster analyses with nemo (log-normal scatter
    about the Arnaud et al. 2010 based relation, sigma_int = 0.2).

    Parameters
    ----------
    y_mean : ndarray
        Mean-relation Y (any unit; the result has the same one), one per halo.
    sigma_ln : float
        Standard deviation of ln Y at fixed mass and redshift (dimensionless, >= 0).
    rng : numpy.random.Generator
        Stream of the scatter; not drawn from when ``sigma_ln`` is 0.

    Returns
    -------
    ndarray
        Realised Y; ``y_mean`` itself when ``sigma_ln`` is 0.
    """
    if sigma_ln == 0.0:
        return y_mean
    return y_mean * np.exp(sigma_ln * rng.standard_normal(y_mean.size))


def simulate_halos(
    cosmo_cfg: dict,
    halo_cfg: dict,
    footprint: Footprint,
    margin_deg: float,
    rng: np.random.Generator,
    y_scatter_rng: np.random.Generator,
) -> pd.DataFrame:
    """Draw the halo light cone over the footprint padded by ``margin_deg``.

    Halos in the margin paint SZ signal onto the footprint's edge pixels;
    ``in_footprint`` flags those inside the box itself. ``y5r500_arcmin2`` is
    each halo's realised Y5R500, the one the tSZ (and kSZ) maps are painted
    with: the Arnaud et al. (2010) mean relation scattered by
    :func:`scatter_y` with ``halo_cfg["y_scatter_ln"]``. With scatter the
    table also has ``y5r500_mean_arcmin2``, the mean relation; without it
    the realised Y is the mean and that column is left out. With
    ``halo_cfg["pressure_profile"]`` ``battaglia12`` the mean Y is that of the Battaglia et al.
    (2012) profile (:func:`skyhunt.sky.profiles.battaglia_halo_properties`, at the halo's M200c)
    and the table has its shape, ``profile_xc_r500`` and ``profile_beta``.

    Parameters
    ----------
    cosmo_cfg, halo_cfg : dict
        Config ``sky.cosmology`` and ``sky.halos``.
    footprint : Footprint
        The footprint (deg).
    margin_deg : float
        Padding of the footprint, deg.
    rng : numpy.random.Generator
        Stream of positions, masses, redshifts and velocities.
    y_scatter_rng : numpy.random.Generator
        Stream of the Y-M scatter, separate so that turning the scatter on or
        off changes no other column.

    Returns
    -------
    pandas.DataFrame
        Columns and units as in :data:`HALO_UNITS` (``y5r500_mean_arcmin2``
        with scatter only), sorted by (dec, ra).
    """
    padded = footprint.padded(margin_deg)
    omega = padded.area_deg2 * (np.pi / 180.0) ** 2
    z, m_vir = LightCone(cosmo_cfg, halo_cfg).sample(omega, rng)
    ra, dec = padded.sample_uniform(z.size, rng)
    v_los = rng.normal(0.0, halo_cfg["v_los_sigma_km_s"], z.size)
    m500 = m500c_from_mvir(cosmo_cfg, halo_cfg, m_vir, z)
    cosmo = colossus(cosmo_cfg)
    if halo_cfg["pressure_profile"] == "battaglia12":
        m200 = convert_mass(cosmo_cfg, halo_cfg, m_vir, z, "vir", "200c")
        props = profiles.battaglia_halo_properties(cosmo, m500, m200, z, halo_cfg["truncation_r500"])
    else:
        props = profiles.arnaud_halo_properties(cosmo, m500, z, halo_cfg["truncation_r500"])
    order = np.lexsort((ra, dec))
    shape_columns = (
        {"profile_xc_r500": props["xc_r500"][order], "profile_beta": props["beta"][order]}
        if "xc_r500" in props
        else {}
    )
    y_mean = props["y_arcmin2"][order]
    sigma_ln = float(halo_cfg["y_scatter_ln"])
    y_mean_column = {"y5r500_mean_arcmin2": y_mean} if sigma_ln > 0.0 else {}
    table = pd.DataFrame(
        {
            "halo_id": np.arange(z.size, dtype=np.int64),
            "ra": ra[order],
            "dec": dec[order],
            "z": z[order],
            "m_vir": m_vir[order],
            "m500c": m500[order],
            "r500": props["r500"][order],
            "theta500_arcmin": props["theta500_arcmin"][order],
            "y5r500_arcmin2": scatter_y(y_mean, sigma_ln, y_scatter_rng),
            **y_mean_column,
            **shape_columns,
            "t_keV": props["t_keV"][order],
            "v_los": v_los[order],
            "in_footprint": footprint.contains(ra[order], dec[order]),
        }
    )
    return table
