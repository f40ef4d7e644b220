"""Multi-frequency matched filter on a flat map (Melin, Bartlett & Delabrouille 2006).

DeepSZ section 2.1: for each template the filter combines the bands
optimally given the cluster's spatial profile, its SZ spectrum and the noise
cross-spectra between bands. With the signal in band b
``m_b(x) = y0 F_b (T_b * t)(x) + n_b(x)`` (F_b = T_CMB f(x_b) in µK, T_b the
band's transfer function, t the template with t(0) = 1), the minimum-variance
unbiased estimate of y0 at every position is

    y0^(k) = sigma^2 t~(k) S(k)^T N(k)^-1 m~(k),   S_b(k) = F_b T_b(k),
    sigma^-2 = sum_k t~(k)^2 S(k)^T N(k)^-1 S(k)

(in discrete-transform units, see :class:`MatchedFilter`), and ``y0 / sigma``
is the signal-to-noise map. Transforms use ``scipy.fft`` with threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

ARCMIN = np.pi / (180.0 * 60.0)


@dataclass(frozen=True)
class FlatGrid:
    """A square-pixel flat map and its real-FFT wavenumbers.

    Parameters
    ----------
    ny, nx : int
        Map shape (rows, columns).
    pixel_arcmin : float
        Pixel side, arcmin.
    """

    ny: int
    nx: int
    pixel_arcmin: float

    @property
    def pixel_rad(self) -> float:
        return self.pixel_arcmin * ARCMIN

    @property
    def npix(self) -> int:
        return self.ny * self.nx

    def wavenumbers(self) -> tuple[np.ndarray, np.ndarray]:
        """(k_y, k_x) of the ``rfft2`` modes, rad^-1, shape (ny, nx // 2 + 1) each."""
        ky = 2.0 * np.pi * scipy.fft.fftfreq(self.ny, self.pixel_rad)
        kx = 2.0 * np.pi * scipy.fft.rfftfreq(self.nx, self.pixel_rad)
        return np.broadcast_to(ky[:, None], (self.ny, kx.size)), np.broadcast_to(
            kx[None, :], (self.ny, kx.size)
        )

    def ell(self) -> np.ndarray:
        """|k| of the ``rfft2`` modes (= multipole), rad^-1."""
        ky, kx = self.wavenumbers()
        return np.hypot(ky, kx)

    def mode_weight(self) -> np.ndarray:
        """How many modes of the full Fourier plane each ``rfft2`` mode stands for (1 or 2)."""
        w = np.full(self.nx // 2 + 1, 2.0)
        w[0] = 1.0
        if self.nx % 2 == 0:
            w[-1] = 1.0
        return np.broadcast_to(w[None, :], (self.ny, w.size))


class MatchedFilter:
    """Multi-frequency matched filters for a bank of templates on one flat grid.

    Parameters
    ----------
    grid : FlatGrid
    noise : ndarray, shape (nb, nb, ny, nx // 2 + 1)
        Noise cross-spectra N_bb'(k) of the tile's modes, µK^2 sr (continuous C_ell units).
    signal : ndarray, shape (n_scales, nb, ny, nx // 2 + 1)
        Transform of each template as seen in each band, ``F_b T_b(k) t~_s(k)``
        in µK sr per unit y (SZ spectrum times transfer function times template,
        :mod:`skyhunt.mf.templates`).

    Attributes
    ----------
    sigma : ndarray, shape (n_scales,)
        Noise rms of the y0 estimate of each filter (dimensionless y).
    g : ndarray, shape (n_scales, nb, ny, nx // 2 + 1), float32
        Each filter's weights N^-1 S^ per band, 1/(µK sr) per unit y (DFT units), computed
        once: every tile of a row is filtered with them.

    Notes
    -----
    Discrete units: the DFT of a sampled template is ``S / p^2`` and the
    expected ``n~_b(k) n~_b'(k)^*`` is ``n_pix N_bb'(k) / p^2`` for pixel side
    p, so ``sigma_s^2 = n_pix / (p^2 sum_k S^_s^T N^-1 S^_s)`` with
    ``S^ = S / p^2`` (sum over the full plane). The k = 0 mode (the tile
    mean) is not used.
    """

    def __init__(self, grid: FlatGrid, noise: np.ndarray, signal: np.ndarray):
        ninv = np.linalg.inv(np.moveaxis(noise, (0, 1), (-2, -1)))
        self.ninv = np.ascontiguousarray(np.moveaxis(ninv, (-2, -1), (0, 1)), dtype=np.float32)  # 1/(µK^2 sr)
        self._set_signal(grid, signal)

    def with_signal(self, signal: np.ndarray) -> MatchedFilter:
        """The filters of another template bank on the same grid and noise (sharing its N^-1).

        Parameters
        ----------
        signal : ndarray, shape (n_scales', nb, ny, nx // 2 + 1)
            As for the constructor, µK sr per unit y.
        """
        other = object.__new__(MatchedFilter)
        other.ninv = self.ninv
        other._set_signal(self.grid, signal)
        return other

    def _set_signal(self, grid: FlatGrid, signal: np.ndarray) -> None:
        """Store the grid and every filter's weights N^-1 S^ (:attr:`g`), and normalise the filters."""
        self.grid = grid
        p2 = grid.pixel_rad**2
        signal = (signal / p2).astype(np.float32)  # DFT units
        signal[:, :, 0, 0] = 0.0
        self.g = np.empty_like(signal)
        for k, s in enumerate(signal):
            self.g[k] = np.einsum("abyx,byx->ayx", self.ninv, s)
        weight = grid.mode_weight()
        norm = np.array(
            [np.einsum("byx,byx,yx->", s, g, weight) for s, g in zip(signal, self.g, strict=True)]
        )
        if np.any(norm <= 0):
            raise ValueError("matched filter has no signal: the templates or transfer functions vanish")
        self.alpha = grid.npix / norm  # unbiased y0 amplitude
        self.sigma = np.sqrt(self.alpha / p2)

    def variance_terms(self, spectra: np.ndarray) -> np.ndarray:
        """Variance of each filter's y0 estimate from a part of the noise, per band pair.

        ``V_bb'^s = alpha_s^2 sum_k g_b(k) g_b'(k) P_bb'(k) / (n_pix p^2)`` with
        g = N^-1 S^_s the filter's weights (full-plane sum): for ``spectra`` = the filter's
        own noise, ``V.sum((1, 2))`` is ``sigma^2``.

        Parameters
        ----------
        spectra : ndarray, shape (nb, nb, ny, nx // 2 + 1)
            Cross-spectra of the noise part, µK^2 sr.

        Returns
        -------
        ndarray, shape (n_scales, nb, nb)
            Compton-y^2.
        """
        weight = self.grid.mode_weight()
        norm = self.grid.npix * self.grid.pixel_rad**2
        return np.stack(
            [
                self.alpha[s] ** 2 * np.einsum("ayx,abyx,byx,yx->ab", g, spectra, g, weight) / norm
                for s, g in ((s, self.g[s].astype(np.float64)) for s in range(self.g.shape[0]))
            ]
        )

    def snr(self, maps_k: np.ndarray, workers: int = 1) -> np.ndarray:
        """Signal-to-noise maps of every template, shape (n_scales, ny, nx), float32.

        Parameters
        ----------
        maps_k : ndarray, shape (nb, ny, nx // 2 + 1), complex
            ``scipy.fft.rfft2`` of the band maps (µK).
        workers : int
            Threads for the inverse FFTs.
        """
        out = np.empty((self.g.shape[0], self.grid.ny, self.grid.nx), dtype=np.float32)
        for s in range(out.shape[0]):
            combined = np.einsum("byx,byx->yx", self.g[s], maps_k)
            out[s] = scipy.fft.irfft2(
                (self.alpha[s] / self.sigma[s]) * combined, s=(self.grid.ny, self.grid.nx), workers=workers
            )
        return out


def gaussian_realisation(
    grid: FlatGrid, spectra: np.ndarray, rng: np.random.Generator, workers: int = 1
) -> np.ndarray:
    """Periodic Gaussian maps with the given cross-spectra between bands (for tests and benchmarks).

    Parameters
    ----------
    grid : FlatGrid
    spectra : ndarray, shape (nb, nb, ny, nx // 2 + 1)
        Cross-spectra, µK^2 sr (positive semi-definite per mode).
    rng : numpy.random.Generator

    Returns
    -------
    ndarray, shape (nb, ny, nx), µK
    """
    nb = spectra.shape[0]
    white = scipy.fft.rfft2(rng.standard_normal((nb, grid.ny, grid.nx)), axes=(-2, -1), workers=workers)
    # Cholesky factor per mode (eigen-decomposition tolerates singular matrices, e.g. CMB-only)
    vals, vecs = np.linalg.eigh(np.moveaxis(spectra, (0, 1), (-2, -1)))
    root = vecs * np.sqrt(np.clip(vals, 0.0, None))[..., None, :]
    maps_k = np.einsum("...ij,j...->i...", root, white) / grid.pixel_rad
    return scipy.fft.irfft2(maps_k, s=(grid.ny, grid.nx), axes=(-2, -1), workers=workers)
