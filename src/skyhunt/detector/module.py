"""LightningModule of the detector: CenterNet's penalty-reduced focal loss and offset regression.

Zhou, Wang & Krähenbühl (2019), "Objects as Points", eq. (1): with p the predicted heat map
and Y the target (1 at object peaks),

    L_k = -1/N sum_xyc { (1 - p)^alpha log p                    if Y = 1
                       { (1 - Y)^beta p^alpha log(1 - p)        otherwise,

N the number of peaks, alpha = 2, beta = 4; plus the L1 loss of the sub-pixel offsets at the
peaks, weighted by ``offset_weight``. Inputs are scaled with fixed per-band statistics of the
training patches, stored as buffers so that they travel with the weights.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from skyhunt.cnn.module import SplitStepModule
from skyhunt.detector.scoring import attach_scaled_detector, scaled_maps


def focal_loss(logits: torch.Tensor, target: torch.Tensor, alpha: float, beta: float) -> torch.Tensor:
    """CenterNet's penalty-reduced pixel-wise focal loss, summed and divided by max(N peaks, 1)."""
    logits = logits.float()
    pos = target >= 1.0
    log_p, log_1p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos_loss = ((1 - p) ** alpha * log_p)[pos].sum()
    neg_loss = ((1 - target) ** beta * p**alpha * log_1p)[~pos].sum()
    return -(pos_loss + neg_loss) / pos.sum().clamp(min=1)


class HeatmapDetector(SplitStepModule):
    """The detector: heat maps of object centres per class and their sub-pixel offsets.

    Parameters
    ----------
    architecture : str
        Config ``detector.architecture`` (:data:`skyhunt.detector.models.ARCHITECTURES`).
    bands, n_classes : int
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training patches (µK_CMB).
    training : dict
        Config ``detector.training`` (``lr``, ``weight_decay``, ``focal_alpha``, ``focal_beta``,
        ``offset_weight``).
    """

    def __init__(self, architecture, bands, n_classes, band_mean, band_std, training):
        super().__init__()
        self.save_hyperparameters()
        attach_scaled_detector(self, architecture, bands, n_classes, band_mean, band_std)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heat-map logits and offsets (pixels) of maps x (B, bands, H, W) in µK_CMB."""
        return scaled_maps(self, x)

    def _step(self, batch, split: str):
        x, heat, offset, peak = batch
        logits, pred_offset = self(x)
        t = self.hparams.training
        loss = focal_loss(logits, heat, t["focal_alpha"], t["focal_beta"])
        mask = peak.unsqueeze(1).expand_as(pred_offset)
        if mask.any():
            off = F.l1_loss(pred_offset.float()[mask], offset[mask], reduction="sum") / peak.sum()
            loss = loss + t["offset_weight"] * off
        self.log(f"{split}_loss", loss, on_step=split == "train", on_epoch=True, prog_bar=True)
        return loss
