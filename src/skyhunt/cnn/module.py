"""LightningModule: a cutout classifier with fixed input scaling and the DeepSZ optimiser schedule."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy

from skyhunt.cnn.scoring import attach_scaled_network, raw_score, scaled_logits


def learning_rate(step: int, opt: dict) -> float:
    """Learning rate after ``step`` batches of a rung of the ratio ladder (DeepSZ 2.2.2 iii).

    Linear warm-up from ``lr_start`` to ``lr`` over ``warmup_batches``, then ``lr`` until
    ``drop_after_batches``, then ``lr_after_drop``.
    """
    if step < opt["warmup_batches"]:
        return opt["lr_start"] + (opt["lr"] - opt["lr_start"]) * step / opt["warmup_batches"]
    if step < opt["drop_after_batches"]:
        return opt["lr"]
    return opt["lr_after_drop"]


class SplitStepModule(L.LightningModule):
    """A LightningModule whose training and validation steps are one ``_step(batch, split)``
    (``split`` "train" or "val", returning the loss) defined by the subclass; the optimizer is
    AdamW with ``hparams.training``'s ``lr`` and ``weight_decay`` unless the subclass chooses
    another. The base of the classifier, the detector, the CNN mass network and the vetter."""

    def training_step(self, batch, batch_idx):
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self._step(batch, "val")

    def configure_optimizers(self):
        t = self.hparams.training
        return torch.optim.AdamW(self.parameters(), lr=t["lr"], weight_decay=t["weight_decay"])


class CutoutClassifier(SplitStepModule):
    """Two-class cutout classifier trained with cross-entropy and SGD with momentum.

    Inputs are scaled with fixed per-band statistics of the training split, stored as buffers
    so that they travel with the weights (the original DeepSZ min-max scaled each cutout,
    which discards the signal amplitude).

    Parameters
    ----------
    architecture : str
        ``small`` or ``deepsz_resnet``.
    bands, npix : int
        Input channels and cutout side (pixels).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training cutouts (µK_CMB).
    optimizer : dict
        ``momentum``, ``weight_decay``, ``lr_start``, ``lr``, ``warmup_batches``,
        ``drop_after_batches``, ``lr_after_drop`` (config ``cnn.optimizer``).
    channels_last : bool
        Use the channels-last memory format (faster convolutions on GPUs).
    """

    def __init__(self, architecture, bands, npix, band_mean, band_std, optimizer, channels_last=False):
        super().__init__()
        self.save_hyperparameters()
        attach_scaled_network(self, architecture, bands, npix, band_mean, band_std, channels_last)
        # Balanced accuracy (mean recall of the two classes) does not depend on the ratio r,
        # unlike plain accuracy, which an all-negative guess drives to r / (1 + r).
        self.metrics = nn.ModuleDict()
        for split in ("train", "val"):
            self.metrics[f"{split}_accuracy"] = BinaryAccuracy()
            self.metrics[f"{split}_balanced_accuracy"] = MulticlassAccuracy(2, average="macro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2) for cutouts x (B, bands, npix, npix) in µK_CMB."""
        return scaled_logits(self, x, self.hparams.channels_last)

    def _step(self, batch, split: str):
        x, y = batch
        logits = self(x)
        loss = F.cross_entropy(logits, y)
        pred = logits.argmax(dim=1)
        on_step = split == "train"
        self.log(f"{split}_loss", loss, on_step=on_step, on_epoch=True, prog_bar=True)
        for name in ("accuracy", "balanced_accuracy"):
            metric = self.metrics[f"{split}_{name}"]
            metric(pred, y)
            self.log(f"{split}_{name}", metric, on_step=on_step, on_epoch=True)
        return loss

    def predict_step(self, batch, batch_idx):
        """Raw score: the log-odds of the positive class (:func:`skyhunt.cnn.scoring.raw_score`)."""
        return raw_score(self(batch[0]))

    def configure_optimizers(self):
        opt = self.hparams.optimizer
        sgd = torch.optim.SGD(
            self.parameters(), lr=opt["lr"], momentum=opt["momentum"], weight_decay=opt["weight_decay"]
        )
        schedule = torch.optim.lr_scheduler.LambdaLR(sgd, lambda step: learning_rate(step, opt) / opt["lr"])
        return {"optimizer": sgd, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


def model_summary(module: nn.Module) -> str:
    """One line: architecture and number of trainable parameters."""
    n = sum(p.numel() for p in module.parameters() if p.requires_grad)
    return f"{module.hparams.architecture}: {n:,} trainable parameters"
