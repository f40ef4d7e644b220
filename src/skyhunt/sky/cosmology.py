"""One cosmology for every stage: colossus for halos, CAMB for the CMB.

The default parameters are the WMAP5 cosmology of the Sehgal et al. (2010)
simulations that DeepSZ used (Lin et al. 2021, section 1.1 and 2.1).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from colossus.cosmology import cosmology as colossus_cosmology

if TYPE_CHECKING:
    import camb

#: CAMB's default primordial amplitude, rescaled to match sigma8.
_AS_PIVOT = 2.1e-9


def colossus(cosmo_cfg: dict):
    """Set and return the colossus cosmology for the ``sky.cosmology`` config.

    Parameters
    ----------
    cosmo_cfg : dict
        Keys H0 (km/s/Mpc), Om0, Ob0, sigma8, ns.
    """
    params = {
        "flat": True,
        "H0": float(cosmo_cfg["H0"]),
        "Om0": float(cosmo_cfg["Om0"]),
        "Ob0": float(cosmo_cfg["Ob0"]),
        "sigma8": float(cosmo_cfg["sigma8"]),
        "ns": float(cosmo_cfg["ns"]),
        "relspecies": True,
    }
    return colossus_cosmology.setCosmology("skyhunt", params=params)


def _camb_params(cosmo_cfg: dict, a_s: float, lmax: int) -> camb.CAMBparams:
    import camb  # only the CMB spectrum's job needs CAMB (0.4 s of CPU to import)

    h = cosmo_cfg["H0"] / 100.0
    pars = camb.set_params(
        H0=cosmo_cfg["H0"],
        ombh2=cosmo_cfg["Ob0"] * h**2,
        omch2=(cosmo_cfg["Om0"] - cosmo_cfg["Ob0"]) * h**2,
        mnu=0.0,
        omk=0.0,
        tau=cosmo_cfg["tau"],
        ns=cosmo_cfg["ns"],
        As=a_s,
        lmax=lmax,
        lens_potential_accuracy=1,
        WantTransfer=True,
    )
    pars.set_matter_power(redshifts=[0.0], kmax=10.0)
    return pars


def lensed_tt_spectrum(cosmo_cfg: dict, lmax: int) -> np.ndarray:
    """Lensed CMB temperature power spectrum from CAMB.

    The primordial amplitude A_s is set so that CAMB's sigma8 equals the
    configured ``sigma8`` (the same value colossus uses for the halo mass
    function), so CMB and halos share one cosmology.

    Parameters
    ----------
    cosmo_cfg : dict
        ``sky.cosmology`` config (H0 in km/s/Mpc, Om0, Ob0, sigma8, ns, tau).
    lmax : int
        Highest multipole.

    Returns
    -------
    ndarray, shape (lmax + 1,)
        C_ell^TT in µK_CMB^2 (not D_ell); entries 0 and 1 are zero.
    """
    import camb

    probe = camb.get_results(_camb_params(cosmo_cfg, _AS_PIVOT, 100))
    a_s = _AS_PIVOT * (cosmo_cfg["sigma8"] / probe.get_sigma8_0()) ** 2
    pars = _camb_params(cosmo_cfg, a_s, lmax)
    results = camb.get_results(pars)
    cl = results.get_lensed_scalar_cls(lmax=lmax, CMB_unit="muK", raw_cl=True)[:, 0]
    cl[:2] = 0.0
    return cl
