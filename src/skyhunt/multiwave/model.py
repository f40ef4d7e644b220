"""The Kosiba classifier: the custom network of Kosiba ("Multiwavelength classification of X-ray
selected galaxy cluster candidates using convolutional neural networks", Table 3), CPU-sized.

Kosiba's network: 3x3 convolutions (stride 1) of 64, 32, 32, 32, 32, 32 filters, each followed by
a ReLU and a 2x2 max-pool (356 -> 6 pixels), then a dense layer of 256 with ReLU, dropout 0.65
and a two-class softmax output, trained with categorical cross-entropy (Table 4). Here the
filters are config ``kosiba.cnn.filters`` (by default the first three, 64, 32, 32: 32 -> 4
pixels on our 32-pixel grid), the convolutions are padded (the side halves exactly at each pool),
and the two-class softmax is one logit with the binary cross-entropy (the same model). The
inputs are standardised with fixed per-channel statistics of the training cutouts, stored in the
model (as the CNN classifier and the vetter). The optimiser is the projects' AdamW
(:class:`skyhunt.cnn.module.SplitStepModule`) rather than Kosiba's SGD with Nesterov momentum
at learning rate 1e-4 over 153 000 iterations, which a CPU-sized run cannot afford.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from skyhunt.cnn.module import SplitStepModule


class KosibaNet(nn.Module):
    """Kosiba's custom CNN (Table 3) with ``filters`` conv-ReLU-pool blocks; one logit per image.

    Parameters
    ----------
    in_channels : int
        Input channels (Kosiba: 3, the optical or X-ray image as RGB, or both stacked).
    npix : int
        Image side, pixels (divisible by 2^len(filters)).
    filters : sequence of int
        Filters of each 3x3 convolution.
    dense : int
        Width of the dense layer (Kosiba: 256).
    dropout : float
        Dropout before the output (Kosiba: 0.65).
    """

    def __init__(
        self, in_channels: int, npix: int, filters=(64, 32, 32), dense: int = 256, dropout: float = 0.65
    ):
        super().__init__()
        if npix % 2 ** len(filters):
            raise ValueError(f"a {npix}-pixel image does not halve {len(filters)} times")
        layers, c_in = [], in_channels
        for c_out in filters:
            layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = npix // 2 ** len(filters)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * side * side, dense),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(dense, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))[:, 0]


class KosibaClassifier(SplitStepModule):
    """Real cluster or not from a candidate's stacked channels: binary cross-entropy, AdamW.

    Parameters
    ----------
    channels, npix : int
        Input channels and image side (pixels).
    channel_mean, channel_std : sequence of float
        Per-channel mean and standard deviation of the training cutouts (in each channel's unit).
    training : dict
        Config ``kosiba.cnn`` (``filters``, ``dense``, ``dropout``, ``lr``, ``weight_decay``).
    """

    def __init__(self, channels, npix, channel_mean, channel_std, training):
        super().__init__()
        self.save_hyperparameters()
        t = training
        self.net = KosibaNet(channels, npix, tuple(t["filters"]), t["dense"], t["dropout"])
        for name, value in (("channel_mean", channel_mean), ("channel_std", channel_std)):
            self.register_buffer(name, torch.tensor(np.asarray(value), dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (B,) of cutouts x (B, channels, npix, npix)."""
        return self.net((x - self.channel_mean) / self.channel_std).float()

    def _step(self, batch, split: str):
        x, y = batch
        loss = F.binary_cross_entropy_with_logits(self(x), y.float())
        self.log(f"{split}_loss", loss, on_step=split == "train", on_epoch=True)
        return loss
