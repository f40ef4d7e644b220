"""The CNN vetter's LightningModule and data module (the network: :mod:`skyhunt.vetting.models`)."""

from __future__ import annotations

import lightning as L
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from skyhunt.cnn.data import RatioSampler, in_batches
from skyhunt.cnn.module import SplitStepModule
from skyhunt.vetting.models import LabelledCutouts, attach_scaled_vetter, scaled_vetter_logits


class CandidateVetter(SplitStepModule):
    """Real cluster or not, from a cutout centred on an MF candidate: binary cross-entropy, Adadelta.

    Parameters
    ----------
    architecture : str
        One of :data:`skyhunt.vetting.models.ARCHITECTURES`.
    bands, npix : int
        Input channels and cutout side (pixels).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training cutouts (µK_CMB).
    training : dict
        Config ``vetting.cnn`` (``lr``, ``weight_decay``).
    """

    def __init__(self, architecture, bands, npix, band_mean, band_std, training):
        super().__init__()
        self.save_hyperparameters()
        attach_scaled_vetter(self, architecture, bands, npix, band_mean, band_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of cutouts x (B, bands, npix, npix) in µK_CMB."""
        return scaled_vetter_logits(self, x)

    def _step(self, batch, split: str):
        x, y = batch
        loss = F.binary_cross_entropy_with_logits(self(x), y.float())
        self.log(f"{split}_loss", loss, on_step=split == "train", on_epoch=True)
        return loss

    def configure_optimizers(self):
        t = self.hparams.training
        # rho and eps of Keras' Adadelta, which DeepShadows used
        return torch.optim.Adadelta(
            self.parameters(), lr=t["lr"], rho=0.95, eps=1e-7, weight_decay=t["weight_decay"]
        )


class VettingDataModule(L.LightningDataModule):
    """Training batches of the training rows, each draw a real cluster with probability
    1 / (1 + ratio) (:class:`skyhunt.cnn.data.RatioSampler`; ratio 1: balanced, as DeepShadows'
    sets); the validation rows, unaugmented.

    Parameters
    ----------
    dataset : LabelledCutouts
    train, validation : ndarray of int
        Rows of the training and validation candidates.
    training : dict
        Config ``vetting.cnn`` (``batch_size``, ``eval_every_steps``, ``ratio``, ``augment``).
    seed : int
        Base seed of the training batches.
    """

    def __init__(self, dataset: LabelledCutouts, train, validation, training: dict, seed: int):
        super().__init__()
        self.dataset, self.train, self.validation = dataset, train, validation
        self.training, self.seed = training, seed

    def train_dataloader(self):
        t, real = self.training, self.dataset.labels[self.train] == 1
        sampler = RatioSampler(
            self.train[real],
            self.train[~real],
            t["ratio"],
            t["batch_size"],
            t["eval_every_steps"],
            self.seed,
            t["augment"],
        )
        return DataLoader(self.dataset, batch_size=None, sampler=sampler)

    def val_dataloader(self):
        batches = in_batches(self.validation, self.training["batch_size"])
        return DataLoader(self.dataset, batch_size=None, sampler=batches)
