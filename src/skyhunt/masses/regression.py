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
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from skyhunt.cnn.data import UniformSampler, dihedral, in_batches
from skyhunt.cnn.models import MaxPool2x2, conv_bn_relu
from skyhunt.cnn.module import SplitStepModule

#: Channels of the convolutional layers (each followed by a 2x2 max-pool), as ``cnn`` ``small``.
CHANNELS = (16, 32, 64)


class MassNet(nn.Module):
    """Convolutional features of a cutout, globally pooled, joined by the redshift: (mean, log var).

    Parameters
    ----------
    in_channels : int
        Number of bands.
    hidden : int
        Width of the fully connected layer.
    """

    def __init__(self, in_channels: int, hidden: int):
        super().__init__()
        layers, c_in = [], in_channels
        for c_out in CHANNELS:
            layers += [conv_bn_relu(c_in, c_out), MaxPool2x2()]
            c_in = c_out
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Linear(c_in + 1, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """(B, 2): the standardised ln M mean and its log-variance, for scaled x and z (B,)."""
        return self.head(torch.cat([self.features(x), z.view(-1, 1)], dim=1))


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
        self.net = MassNet(bands, hidden)
        self.register_buffer(
            "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
        )
        self.register_buffer(
            "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
        )

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(M500c / M_sun) and its Gaussian standard deviation for cutouts x (µK_CMB) at redshifts z."""
        h = self.hparams
        out = self.net((x - self.band_mean) / self.band_std, (z - h.z_mean) / h.z_std).float()
        return h.ln_m_mean + h.ln_m_std * out[:, 0], h.ln_m_std * torch.exp(0.5 * out[:, 1])

    def _step(self, batch, split: str):
        x, z, ln_m = batch
        h = self.hparams
        out = self.net((x - self.band_mean) / self.band_std, (z - h.z_mean) / h.z_std).float()
        target = (ln_m - h.ln_m_mean) / h.ln_m_std
        loss = F.gaussian_nll_loss(out[:, 0], target, torch.exp(out[:, 1]), full=True)
        self.log(f"{split}_loss", loss, on_step=split == "train", on_epoch=True)
        return loss


class MassBatches(Dataset):
    """Whole batches: ``dataset[(rows, codes)]`` -> (cutouts, z, ln M), rows into the arrays.

    Parameters
    ----------
    array : ndarray, shape (N, bands, npix, npix), float32
        Cutouts in µK_CMB (a memmap is fine).
    z, ln_m : ndarray, shape (N,)
        Redshift and ln(M500c / M_sun) of each row's halo (anything where unused).
    """

    def __init__(self, array: np.ndarray, z: np.ndarray, ln_m: np.ndarray):
        self.array = array
        self.z, self.ln_m = np.asarray(z, np.float32), np.asarray(ln_m, np.float32)

    def __getitem__(self, key):
        rows, codes = key
        x = np.asarray(self.array[rows], dtype=np.float32)
        if codes is not None:
            x = dihedral(x, codes)
        return (
            torch.from_numpy(np.ascontiguousarray(x)),
            torch.from_numpy(self.z[rows]),
            torch.from_numpy(self.ln_m[rows]),
        )


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


@torch.inference_mode()
def predict_ln_mass(module: MassRegressor, dataset: MassBatches, rows, batch_size: int):
    """ln(M500c / M_sun) and its standard deviation for ``rows`` of ``dataset``, in row order.

    Raises
    ------
    ValueError
        If a prediction is NaN or infinite, naming how many.
    """
    module.eval()
    mean, sigma = [], []
    for batch in in_batches(np.asarray(rows), batch_size):
        x, z, _ = dataset[batch]
        m, s = module(x.to(module.device), z.to(module.device))
        mean.append(m.cpu().numpy())
        sigma.append(s.cpu().numpy())
    mean = np.concatenate(mean).astype(np.float64) if mean else np.zeros(0)
    sigma = np.concatenate(sigma).astype(np.float64) if sigma else np.zeros(0)
    bad = ~(np.isfinite(mean) & np.isfinite(sigma))
    if bad.any():
        raise ValueError(
            f"the model gives NaN or infinite masses for {int(bad.sum())} of {len(mean)} cutouts"
        )
    return mean, sigma
