"""The CNN mass estimate (issue 16): a small network that regresses ln M500c on a positive cutout.

Input: a cutout of the evaluation stage (every band, µK_CMB) and the redshift of its qualifying
halo (the true one, as for the MF masses). Output: the mean and log-variance of a Gaussian in
ln M500c, trained with the Gaussian negative log-likelihood (as the heteroscedastic regression of
Nix & Weigend 1994; Gupta & Reichardt 2020, arXiv 2003.06135, regress cluster masses from
microwave cutouts with a CNN). The image branch is the CNN's ``small`` body
(:func:`skyhunt.cnn.models.conv_bn_relu` and 2x2 max-pools) followed by global average pooling:
unlike the classifier, the mass does not depend on where in the cutout the cluster sits, so
the head is invariant to the flips and quarter turns of the augmentation. The standardised
redshift joins the pooled features before the fully connected head.

Inputs are scaled by per-band statistics of the training positives and the target by the mean
and standard deviation of their ln M500c, all stored as buffers so that they travel with the
weights. Training batches are a pure function of (seed, epoch).
"""

from __future__ import annotations

import lightning as L
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader

from skyhunt.cnn.data import UniformSampler, in_batches
from skyhunt.cnn.module import SplitStepModule
from skyhunt.masses.estimator import (
    MassBatches,
    attach_scaled_mass_net,
    ln_mass_and_sigma,
    standardised_output,
)


class MassRegressor(SplitStepModule):
    """ln M500c of a cutout's qualifying halo from the cutout and its redshift, Gaussian NLL, AdamW.

    Parameters
    ----------
    bands : int
        Input channels.
    hidden : int
        Width of the fully connected layer (config ``masses.cnn.hidden``).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training positives (µK_CMB).
    z_mean, z_std : float
        Mean and standard deviation of their redshifts.
    ln_m_mean, ln_m_std : float
        Mean and standard deviation of their ln(M500c / M_sun).
    training : dict
        Config ``masses.cnn`` (``lr``, ``weight_decay``).
    """

    def __init__(self, bands, hidden, band_mean, band_std, z_mean, z_std, ln_m_mean, ln_m_std, training):
        super().__init__()
        self.save_hyperparameters()
        attach_scaled_mass_net(self, bands, hidden, band_mean, band_std)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(M500c / M_sun) and its Gaussian standard deviation for cutouts x (µK_CMB) at redshifts z."""
        return ln_mass_and_sigma(standardised_output(self, x, z, self.hparams), self.hparams)

    def _step(self, batch, split: str):
        x, z, ln_m = batch
        h = self.hparams
        out = standardised_output(self, x, z, h)
        target = (ln_m - h.ln_m_mean) / h.ln_m_std
        loss = F.gaussian_nll_loss(out[:, 0], target, torch.exp(out[:, 1]), full=True)
        self.log(f"{split}_loss", loss, on_step=split == "train", on_epoch=True)
        return loss


class MassDataModule(L.LightningDataModule):
    """Training batches of the training positives; the validation positives, unaugmented.

    Parameters
    ----------
    dataset : MassBatches
    train, validation : ndarray of int
        Rows of the training and validation positives.
    training : dict
        Config ``masses.cnn`` (``batch_size``, ``eval_every_steps``, ``augment``).
    seed : int
        Base seed of the training batches.
    """

    def __init__(self, dataset: MassBatches, train, validation, training: dict, seed: int):
        super().__init__()
        self.dataset, self.train, self.validation = dataset, train, validation
        self.training, self.seed = training, seed

    def train_dataloader(self):
        t = self.training
        sampler = UniformSampler(self.train, t["batch_size"], t["eval_every_steps"], self.seed, t["augment"])
        return DataLoader(self.dataset, batch_size=None, sampler=sampler)

    def val_dataloader(self):
        batches = in_batches(self.validation, self.training["batch_size"])
        return DataLoader(self.dataset, batch_size=None, sampler=batches)
