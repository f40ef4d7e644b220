"""LightningModule: a cutout classifier with fixed input scaling and the DeepSZ optimiser schedule."""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics.classification import BinaryAccuracy, MulticlassAccuracy

from skyhunt.cnn.data import in_batches
from skyhunt.cnn.models import build_model
from skyhunt.cutouts.arrays import first_few


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
        self.net = build_model(architecture, bands, npix)
        self.register_buffer(
            "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer(
            "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
        )
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        # Balanced accuracy (mean recall of the two classes) does not depend on the ratio r,
        # unlike plain accuracy, which an all-negative guess drives to r / (1 + r).
        self.metrics = nn.ModuleDict()
        for split in ("train", "val"):
            self.metrics[f"{split}_accuracy"] = BinaryAccuracy()
            self.metrics[f"{split}_balanced_accuracy"] = MulticlassAccuracy(2, average="macro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B, 2) for cutouts x (B, bands, npix, npix) in µK_CMB."""
        x = (x - self.band_mean) / self.band_std
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

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
        """Raw score: the log-odds of the positive class, logit(softmax_1) = z_1 - z_0."""
        logits = self(batch[0]).float()
        return logits[:, 1] - logits[:, 0]

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


@torch.inference_mode()
def predict_scores(
    module: CutoutClassifier, array: np.ndarray, rows: np.ndarray, batch_size: int
) -> np.ndarray:
    """Raw scores (log-odds of the positive class) of ``array[rows]``, in row order.

    Parameters
    ----------
    module : CutoutClassifier
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
    rows = np.asarray(rows)
    out = []
    for batch_rows, _ in in_batches(rows, batch_size):
        x = torch.from_numpy(np.asarray(array[batch_rows], dtype=np.float32)).to(module.device)
        with torch.autocast(module.device.type, enabled=module.device.type == "cuda"):
            out.append(module.predict_step((x,), 0).cpu().numpy())
    scores = np.concatenate(out) if out else np.zeros(0, np.float32)
    bad = rows[~np.isfinite(scores)]
    if len(bad):
        raise ValueError(
            f"the model gives NaN or infinite scores for {len(bad)} of {len(rows)} cutouts "
            f"(rows {first_few(bad)})"
        )
    return scores
