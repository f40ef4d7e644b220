"""The CNN vetter: the DeepShadows network (Tanoglidis et al. 2021, as reproduced by Foote,
"Finding Low Surface Brightness Galaxies with CNNs") on cutouts centred on MF candidates.

DeepShadows: three blocks of a 3x3 convolution (padding 1, stride 1, ReLU) of 16, 32 and 64
filters, batch normalisation, a 2x2 max-pool and 40 % dropout each; then the flattened map
(64 (npix/8)^2 values: 4096 on the paper's 64x64 images, 1024 on our 32x32 cutouts), a dense
layer of 1024 with ReLU, and one output through a sigmoid (here the logit; the sigmoid is in the
loss, ``binary_cross_entropy_with_logits``). Adadelta with learning rate 0.1 and batch 64. The
paper's L2 penalties (λ = 0.13 on the convolutions, 0.12 on the dense layer) are Adadelta's
``weight_decay`` here (config ``vetting.cnn.weight_decay``), and its [0, 1] rescaling of each
image is replaced by fixed per-band statistics of the training cutouts, stored in the model, as
for the CNN classifier (a per-cutout rescaling discards the SZ amplitude).
``small`` is the CNN classifier's :class:`skyhunt.cnn.models.SmallCNN`, whose two logits give
one as their difference.

This module imports torch alone (no Lightning: ``vet_candidates`` reads the trained vetter into
:class:`VetterScorer`); the LightningModule is :mod:`skyhunt.vetting.module`.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset

from skyhunt.cnn.data import dihedral, in_batches
from skyhunt.cnn.models import MaxPool2x2, SmallCNN

ARCHITECTURES = ("deepshadows", "small")

#: DeepShadows: filters of the three blocks, width of the dense layer, dropout after each block.
FILTERS = (16, 32, 64)
DENSE = 1024
DROPOUT = 0.4


class DeepShadows(nn.Module):
    """The DeepShadows CNN (Tanoglidis et al. 2021, Table 1); one logit per image.

    Parameters
    ----------
    in_channels : int
        Number of bands (3 in the paper: g, r, z).
    npix : int
        Image side in pixels (divisible by 8; 64 in the paper).
    """

    def __init__(self, in_channels: int = 3, npix: int = 64):
        super().__init__()
        layers, c_in = [], in_channels
        for c_out in FILTERS:
            layers += [
                nn.Conv2d(c_in, c_out, 3, padding=1),
                nn.ReLU(inplace=True),
                nn.BatchNorm2d(c_out),
                MaxPool2x2(),
                nn.Dropout(DROPOUT),
            ]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = npix // 8
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, DENSE), nn.ReLU(inplace=True), nn.Linear(DENSE, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))[:, 0]


class SmallLogit(nn.Module):
    """:class:`skyhunt.cnn.models.SmallCNN` with one logit, the difference of its two."""

    def __init__(self, in_channels: int, npix: int):
        super().__init__()
        self.net = SmallCNN(in_channels, npix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.net(x)
        return z[:, 1] - z[:, 0]


def build_vetter(architecture: str, in_channels: int, npix: int) -> nn.Module:
    """The network named ``architecture`` (one of :data:`ARCHITECTURES`)."""
    if architecture == "deepshadows":
        return DeepShadows(in_channels, npix)
    if architecture == "small":
        return SmallLogit(in_channels, npix)
    raise ValueError(f"unknown vetting architecture {architecture!r}; expected one of {ARCHITECTURES}")


def attach_scaled_vetter(module: nn.Module, architecture, bands, npix, band_mean, band_std) -> None:
    """Give ``module`` the vetter network ``net`` (:func:`build_vetter`) and the buffers
    ``band_mean`` and ``band_std`` (µK_CMB, shape (1, bands, 1, 1)) that scale its inputs.

    Parameters
    ----------
    module : nn.Module
        A :class:`skyhunt.vetting.module.CandidateVetter` or :class:`VetterScorer` being built.
    architecture : str
        One of :data:`ARCHITECTURES`.
    bands, npix : int
        Input channels and cutout side (pixels).
    band_mean, band_std : sequence of float
        Per-band mean and standard deviation of the training cutouts (µK_CMB).
    """
    module.net = build_vetter(architecture, bands, npix)
    module.register_buffer(
        "band_mean", torch.tensor(np.asarray(band_mean), dtype=torch.float32).view(1, -1, 1, 1)
    )
    module.register_buffer(
        "band_std", torch.tensor(np.asarray(band_std), dtype=torch.float32).view(1, -1, 1, 1)
    )


def scaled_vetter_logits(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Logits (B,) float32 of ``module.net`` for cutouts x (B, bands, npix, npix) in µK_CMB,
    scaled with ``module``'s band statistics (see :func:`attach_scaled_vetter`)."""
    return module.net((x - module.band_mean) / module.band_std).float()


class VetterScorer(nn.Module):
    """The trained vetter for inference, with torch alone (no Lightning import): the network
    and input scaling of :class:`skyhunt.vetting.module.CandidateVetter` as a plain torch
    module, built and run by the same functions (as :mod:`skyhunt.cnn.scoring`).

    Parameters
    ----------
    architecture, bands, npix, band_mean, band_std
        As :func:`attach_scaled_vetter`.
    """

    def __init__(self, architecture, bands, npix, band_mean, band_std):
        super().__init__()
        attach_scaled_vetter(self, architecture, bands, npix, band_mean, band_std)

    @classmethod
    def from_checkpoint(cls, path) -> VetterScorer:
        """The vetter of a checkpoint of ``CandidateVetter`` (on the CPU, in evaluation mode);
        every weight and buffer must match (``load_state_dict(strict=True)``)."""
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        h = checkpoint["hyper_parameters"]
        scorer = cls(h["architecture"], h["bands"], h["npix"], h["band_mean"], h["band_std"])
        scorer.load_state_dict(checkpoint["state_dict"])
        return scorer.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of cutouts x (B, bands, npix, npix) in µK_CMB."""
        return scaled_vetter_logits(self, x)


class LabelledCutouts(Dataset):
    """Whole batches: ``dataset[(rows, codes)]`` -> (cutouts, labels).

    Parameters
    ----------
    array : ndarray, shape (N, bands, npix, npix), float32
        Cutouts in µK_CMB.
    labels : ndarray of int, shape (N,)
    """

    def __init__(self, array: np.ndarray, labels: np.ndarray):
        self.array, self.labels = array, np.asarray(labels, dtype=np.int64)

    def __getitem__(self, key):
        rows, codes = key
        x = np.asarray(self.array[rows], dtype=np.float32)
        if codes is not None:
            x = dihedral(x, codes)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[rows])


@torch.inference_mode()
def predict_logits(module: nn.Module, array: np.ndarray, batch_size: int) -> np.ndarray:
    """Logits of every row of ``array``, in row order (float64).

    Parameters
    ----------
    module : VetterScorer, skyhunt.vetting.module.CandidateVetter or another classifier of logits
        The network (put in evaluation mode), e.g. the Kosiba classifier.
    array : ndarray, shape (N, bands, npix, npix)
        Cutouts in µK_CMB (a memmap is fine).
    batch_size : int

    Raises
    ------
    ValueError
        If a logit is NaN or infinite, naming how many.
    """
    module.eval()
    device = next(module.parameters()).device
    out = []
    for rows, _ in in_batches(np.arange(len(array)), batch_size):
        x = torch.from_numpy(np.asarray(array[rows], dtype=np.float32)).to(device)
        out.append(module(x).cpu().numpy())
    logits = np.concatenate(out).astype(np.float64) if out else np.zeros(0)
    bad = ~np.isfinite(logits)
    if bad.any():
        raise ValueError(
            f"the vetter gives NaN or infinite scores for {int(bad.sum())} of {len(logits)} cutouts"
        )
    return logits
