"""The CNN mass network for inference, with torch alone (no Lightning import).

The ``cnn_masses`` job reads the checkpoint that ``train_cnn_mass`` exports
(:func:`skyhunt.cnn.training.export_model`: hyper-parameters and weights) into a
:class:`MassEstimator`, the network of :class:`skyhunt.masses.regression.MassRegressor` with
its input and output scaling but without the Lightning module around it: importing Lightning
takes several seconds of the job's start. Both classes are built and run by the same
functions here, so they give the same numbers (as :mod:`skyhunt.cnn.scoring`). The network
and its scaling are described in :mod:`skyhunt.masses.regression`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from skyhunt.cnn.data import dihedral, in_batches
from skyhunt.cnn.models import MaxPool2x2, conv_bn_relu

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


def attach_scaled_mass_net(module: nn.Module, bands, hidden, band_mean, band_std) -> None:
    """Give ``module`` the mass network ``net`` (:class:`MassNet`) and the buffers ``band_mean``
    and ``band_std`` (µK_CMB, shape (1, bands, 1, 1)) that scale its input cutouts.

    Parameters
    ----------
    module : nn.Module
        A :class:`skyhunt.masses.regression.MassRegressor` or :class:`MassEstimator` being built.
    bands, hidden : int
        Input channels and width of the fully connected layer (config ``masses.cnn.hidden``).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training positives (µK_CMB).
    """
    module.net = MassNet(bands, hidden)
    module.register_buffer(
        "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
    )
    module.register_buffer(
        "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
    )


def standardised_output(module: nn.Module, x: torch.Tensor, z: torch.Tensor, scaling) -> torch.Tensor:
    """(B, 2) float32: the standardised ln M mean and its log-variance of ``module.net`` for
    cutouts x (µK_CMB) at redshifts z; ``scaling`` holds ``z_mean`` and ``z_std``."""
    return module.net(
        (x - module.band_mean) / module.band_std, (z - scaling["z_mean"]) / scaling["z_std"]
    ).float()


def ln_mass_and_sigma(out: torch.Tensor, scaling) -> tuple[torch.Tensor, torch.Tensor]:
    """ln(M500c / M_sun) and its Gaussian standard deviation from :func:`standardised_output`;
    ``scaling`` holds ``ln_m_mean`` and ``ln_m_std``."""
    return (
        scaling["ln_m_mean"] + scaling["ln_m_std"] * out[:, 0],
        scaling["ln_m_std"] * torch.exp(0.5 * out[:, 1]),
    )


#: Hyper-parameters of the checkpoint that scale the redshift and the target.
SCALING_KEYS = ("z_mean", "z_std", "ln_m_mean", "ln_m_std")


class MassEstimator(nn.Module):
    """The trained mass network for inference: the network and scaling of
    :class:`skyhunt.masses.regression.MassRegressor` as a plain torch module.

    Parameters
    ----------
    bands, hidden, band_mean, band_std
        As :func:`attach_scaled_mass_net`.
    scaling : dict
        ``z_mean``, ``z_std``, ``ln_m_mean``, ``ln_m_std`` (:data:`SCALING_KEYS`).
    """

    def __init__(self, bands, hidden, band_mean, band_std, scaling: dict):
        super().__init__()
        self.bands, self.scaling = bands, {k: scaling[k] for k in SCALING_KEYS}
        attach_scaled_mass_net(self, bands, hidden, band_mean, band_std)

    @classmethod
    def from_checkpoint(cls, path) -> MassEstimator:
        """The network of a checkpoint of ``MassRegressor`` (on the CPU, in evaluation mode);
        every weight and buffer must match (``load_state_dict(strict=True)``)."""
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        h = checkpoint["hyper_parameters"]
        estimator = cls(h["bands"], h["hidden"], h["band_mean"], h["band_std"], h)
        estimator.load_state_dict(checkpoint["state_dict"])
        return estimator.eval()

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """ln(M500c / M_sun) and its Gaussian standard deviation for cutouts x (µK_CMB) at redshifts z."""
        return ln_mass_and_sigma(standardised_output(self, x, z, self.scaling), self.scaling)


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


@torch.inference_mode()
def predict_ln_mass(module: nn.Module, dataset: MassBatches, rows, batch_size: int):
    """ln(M500c / M_sun) and its standard deviation for ``rows`` of ``dataset``, in row order.

    Parameters
    ----------
    module : MassEstimator or skyhunt.masses.regression.MassRegressor
        The mass network (put in evaluation mode).
    dataset : MassBatches
    rows : array of int
    batch_size : int

    Raises
    ------
    ValueError
        If a prediction is NaN or infinite, naming how many.
    """
    module.eval()
    device = module.band_mean.device
    mean, sigma = [], []
    for batch in in_batches(np.asarray(rows), batch_size):
        x, z, _ = dataset[batch]
        m, s = module(x.to(device), z.to(device))
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
