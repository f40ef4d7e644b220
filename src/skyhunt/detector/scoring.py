"""Running a trained detector with torch alone (no Lightning import).

The ``detect`` job reads the checkpoint that ``train_detector`` exports
(:func:`skyhunt.cnn.training.export_model`: hyper-parameters and weights) into a
:class:`HeatmapScorer`, the network of :class:`skyhunt.detector.module.HeatmapDetector`
with its input scaling but without the Lightning module around it: importing Lightning
takes several seconds of the job's start. Both classes are built and run by the same
functions here, so they give the same numbers (as :mod:`skyhunt.cnn.scoring` for the
classifier).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from skyhunt.detector.models import build_detector


def attach_scaled_detector(module: nn.Module, architecture, bands, n_classes, band_mean, band_std) -> None:
    """Give ``module`` the detector network ``net`` and the buffers ``band_mean`` and
    ``band_std`` (µK_CMB, shape (1, bands, 1, 1)) that scale its inputs.

    Parameters
    ----------
    module : nn.Module
        A :class:`skyhunt.detector.module.HeatmapDetector` or :class:`HeatmapScorer` being built.
    architecture : str
        Config ``detector.architecture`` (:func:`skyhunt.detector.models.build_detector`).
    bands, n_classes : int
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training patches (µK_CMB).
    """
    module.net = build_detector(architecture, bands, n_classes)
    module.register_buffer(
        "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
    )
    module.register_buffer(
        "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
    )


def scaled_maps(module: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Heat-map logits and offsets (pixels) of ``module.net`` for maps x (B, bands, H, W) in
    µK_CMB, scaled with ``module``'s band statistics (see :func:`attach_scaled_detector`)."""
    return module.net((x - module.band_mean) / module.band_std)


@torch.inference_mode()
def predict_maps(module: nn.Module, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Heat maps (probabilities, (B, n_classes, H, W)) and offsets ((B, 2, H, W), pixels), float32.

    Parameters
    ----------
    module : HeatmapScorer or skyhunt.detector.module.HeatmapDetector
        The detector (put in evaluation mode).
    x : ndarray, shape (B, bands, H, W)
        Maps in µK_CMB.

    Raises
    ------
    ValueError
        If the network gives NaN or infinite values.
    """
    module.eval()
    device = module.band_mean.device
    xt = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(device)
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        logits, offset = module(xt)
    heat = torch.sigmoid(logits.float()).cpu().numpy()
    offset = offset.float().cpu().numpy()
    if not (np.isfinite(heat).all() and np.isfinite(offset).all()):
        raise ValueError("the detector gives NaN or infinite heat maps")
    return heat, offset


class HeatmapScorer(nn.Module):
    """The trained detector for inference: the network and input scaling of
    :class:`skyhunt.detector.module.HeatmapDetector` as a plain torch module.

    Parameters
    ----------
    architecture, bands, n_classes, band_mean, band_std
        As :func:`attach_scaled_detector`.
    """

    def __init__(self, architecture, bands, n_classes, band_mean, band_std):
        super().__init__()
        attach_scaled_detector(self, architecture, bands, n_classes, band_mean, band_std)

    @classmethod
    def from_checkpoint(cls, path) -> HeatmapScorer:
        """The detector of a checkpoint of ``HeatmapDetector`` (on the CPU, in evaluation
        mode); every weight and buffer must match (``load_state_dict(strict=True)``)."""
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        h = checkpoint["hyper_parameters"]
        scorer = cls(h["architecture"], h["bands"], h["n_classes"], h["band_mean"], h["band_std"])
        scorer.load_state_dict(checkpoint["state_dict"])
        return scorer.eval()

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heat-map logits and offsets (pixels) of maps x (B, bands, H, W) in µK_CMB."""
        return scaled_maps(self, x)
