"""Scoring cutouts with a trained classifier, with torch alone (no Lightning import).

The inference jobs (``score_cnn``, ``edge_effect_scores``) read the checkpoint that
``train_cnn`` exports (:func:`skyhunt.cnn.training.export_model`: hyper-parameters and
weights) into a :class:`CutoutScorer`, the network of
:class:`skyhunt.cnn.module.CutoutClassifier` with its input scaling but without the
Lightning module around it: importing Lightning takes several seconds of each job's start.
Both classes are built and run by the same functions here, so they give the same numbers.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from skyhunt.cnn.data import in_batches
from skyhunt.cnn.models import build_model
from skyhunt.cutouts.arrays import first_few


def attach_scaled_network(module: nn.Module, architecture, bands, npix, band_mean, band_std, channels_last):
    """Give ``module`` the classifier's network ``net`` and the buffers ``band_mean`` and
    ``band_std`` (µK_CMB, shape (1, bands, 1, 1)) that scale its inputs.

    Parameters
    ----------
    module : nn.Module
        A :class:`skyhunt.cnn.module.CutoutClassifier` or :class:`CutoutScorer` being built.
    architecture : str
        ``small`` or ``deepsz_resnet`` (:func:`skyhunt.cnn.models.build_model`).
    bands, npix : int
        Input channels and cutout side (pixels).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training cutouts (µK_CMB).
    channels_last : bool
        Use the channels-last memory format (faster convolutions on GPUs).
    """
    module.net = build_model(architecture, bands, npix)
    module.register_buffer(
        "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
    )
    module.register_buffer(
        "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
    )
    if channels_last:
        module.net = module.net.to(memory_format=torch.channels_last)


def scaled_logits(module: nn.Module, x: torch.Tensor, channels_last: bool) -> torch.Tensor:
    """Logits (B, 2) of ``module.net`` for cutouts x (B, bands, npix, npix) in µK_CMB, scaled
    with ``module``'s band statistics (see :func:`attach_scaled_network`)."""
    x = (x - module.band_mean) / module.band_std
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return module.net(x)


def raw_score(logits: torch.Tensor) -> torch.Tensor:
    """The log-odds of the positive class, logit(softmax_1) = z_1 - z_0, from logits (B, 2)."""
    logits = logits.float()
    return logits[:, 1] - logits[:, 0]


class CutoutScorer(nn.Module):
    """The trained classifier for inference: the network and input scaling of
    :class:`skyhunt.cnn.module.CutoutClassifier` as a plain torch module.

    Parameters
    ----------
    architecture, bands, npix, band_mean, band_std, channels_last
        As :func:`attach_scaled_network`.
    """

    def __init__(self, architecture, bands, npix, band_mean, band_std, channels_last=False):
        super().__init__()
        self.bands, self.npix, self.channels_last = bands, npix, channels_last
        attach_scaled_network(self, architecture, bands, npix, band_mean, band_std, channels_last)

    @classmethod
    def from_checkpoint(cls, path) -> CutoutScorer:
        """The classifier of a Lightning checkpoint of ``CutoutClassifier`` (on the CPU, in
        evaluation mode); every weight and buffer must match (``load_state_dict(strict=True)``)."""
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        h = checkpoint["hyper_parameters"]
        scorer = cls(
            h["architecture"], h["bands"], h["npix"], h["band_mean"], h["band_std"], h["channels_last"]
        )
        scorer.load_state_dict(checkpoint["state_dict"])
        return scorer.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2) for cutouts x (B, bands, npix, npix) in µK_CMB."""
        return scaled_logits(self, x, self.channels_last)


@torch.inference_mode()
def predict_scores(module: nn.Module, array: np.ndarray, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """Raw scores (log-odds of the positive class) of ``array[rows]``, in row order.

    Parameters
    ----------
    module : CutoutScorer or skyhunt.cnn.module.CutoutClassifier
        The classifier (put in evaluation mode).
    array : ndarray, shape (N, bands, npix, npix)
        Cutouts in µK_CMB (a memmap is fine).
    rows : ndarray of int
        Rows of ``array`` to score.
    batch_size : int
        Cutouts per forward pass.

    Returns
    -------
    ndarray of float32, shape (len(rows),)

    Raises
    ------
    ValueError
        If a score is NaN or infinite, naming the first few such rows and their count.
    """
    module.eval()
    device = module.band_mean.device
    rows = np.asarray(rows)
    out = []
    for batch_rows, _ in in_batches(rows, batch_size):
        x = torch.from_numpy(np.asarray(array[batch_rows], dtype=np.float32)).to(device)
        with torch.autocast(device.type, enabled=device.type == "cuda"):
            out.append(raw_score(module(x)).cpu().numpy())
    scores = np.concatenate(out) if out else np.zeros(0, np.float32)
    bad = rows[~np.isfinite(scores)]
    if len(bad):
        raise ValueError(
            f"the model gives NaN or infinite scores for {len(bad)} of {len(rows)} cutouts "
            f"(rows {first_few(bad)})"
        )
    return scores
