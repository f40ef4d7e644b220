"""The channels of the Kosiba dataset and the channel sets compared (Kosiba, "Multiwavelength
classification of X-ray selected galaxy cluster candidates using convolutional neural networks":
optical and X-ray images alone and stacked as the channels of one input).

The dataset stacks, per MF candidate, the millimetre bands (``mm_<band>``, µK_CMB), the X-ray
counts (``xray``) and the optical g, r, i fluxes (nanomaggies), each regridded to a common
``npix`` x ``npix`` grid by summing (counts, fluxes) or averaging (temperatures) square blocks of
pixels (:func:`regrid`), so that each instrument keeps its own field of view.
"""

from __future__ import annotations

import numpy as np
from astropy.nddata import block_reduce

#: The channel sets compared, in table order.
CHANNEL_SETS = ("mm", "xray", "optical", "all")

#: The optical channels, in order.
OPTICAL_CHANNELS = ("g", "r", "i")


def channel_names(bands) -> list[str]:
    """The dataset's channels: ``mm_<band>`` for each millimetre band, ``xray``, then g, r, i."""
    return [f"mm_{b}" for b in bands] + ["xray", *OPTICAL_CHANNELS]


def channel_indices(names, channel_set: str) -> np.ndarray:
    """Indices into ``names`` (:func:`channel_names`) of the channels of ``channel_set``.

    Raises
    ------
    ValueError
        If ``channel_set`` is not one of :data:`CHANNEL_SETS`, or ``names`` lacks its channels.
    """
    names = list(names)
    members = {
        "mm": [n for n in names if n.startswith("mm_")],
        "xray": ["xray"],
        "optical": list(OPTICAL_CHANNELS),
        "all": names,
    }
    if channel_set not in members:
        raise ValueError(f"unknown channel set {channel_set!r}; expected one of {CHANNEL_SETS}")
    chosen = members[channel_set]
    missing = [n for n in chosen if n not in names]
    if missing or not chosen:
        raise ValueError(
            f"channel set {channel_set!r} needs channels {missing or 'mm_*'}; the data hold {names}"
        )
    return np.array([names.index(n) for n in chosen], dtype=np.int64)


def regrid(images: np.ndarray, npix: int, how: str) -> np.ndarray:
    """Images (N, C, n, n) on an ``npix`` x ``npix`` grid of the same field of view.

    Parameters
    ----------
    images : ndarray, shape (N, C, n, n)
        Cutouts; ``n`` must be a multiple of ``npix``.
    npix : int
        Side of the common grid, pixels.
    how : {"sum", "mean"}
        Sum the blocks (counts and fluxes per pixel) or average them (surface brightness, µK_CMB).

    Returns
    -------
    ndarray, shape (N, C, npix, npix), float32
    """
    n = images.shape[-1]
    if images.shape[-2] != n or n % npix:
        raise ValueError(f"cutouts of {images.shape[-2]} x {n} pixels do not regrid to {npix} x {npix}")
    func = {"sum": np.sum, "mean": np.mean}[how]
    block = (1, 1, n // npix, n // npix)
    return block_reduce(np.asarray(images, np.float64), block, func=func).astype(np.float32)
