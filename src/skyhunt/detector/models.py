"""Fully convolutional encoder-decoders for the detector's heat maps (plain torch).

A small U-Net (Ronneberger et al. 2015) body with CenterNet heads (Zhou et al. 2019): the
encoder halves the resolution ``depth`` times, the decoder upsamples back with skip
connections to the input's 0.25' pixels (output stride 1), and two 1x1 heads give the
per-class heat-map logits and the (dy, dx) sub-pixel offsets. Being fully convolutional, it
runs on patches of any even size and on whole map tiles.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from skyhunt.cnn.models import conv_bn_relu

#: Architectures: base channels and number of halvings. ``small`` is sized for 2 CPU threads;
#: ``unet`` is the larger GPU model of the paper preset.
ARCHITECTURES = {"small": (8, 3), "unet": (32, 4)}


class HeatmapNet(nn.Module):
    """U-Net body with CenterNet heads.

    Parameters
    ----------
    bands, n_classes : int
        Input channels and heat-map classes.
    width : int
        Channels at full resolution; doubled at each halving.
    depth : int
        Number of halvings; inputs are zero-padded at the bottom and right to a multiple of 2**depth.
    """

    def __init__(self, bands: int, n_classes: int, width: int, depth: int):
        super().__init__()
        chans = [width * 2**k for k in range(depth + 1)]
        self.stem = nn.Sequential(conv_bn_relu(bands, chans[0]), conv_bn_relu(chans[0], chans[0]))
        self.down = nn.ModuleList(
            nn.Sequential(
                conv_bn_relu(chans[k], chans[k + 1], stride=2), conv_bn_relu(chans[k + 1], chans[k + 1])
            )
            for k in range(depth)
        )
        self.up = nn.ModuleList(conv_bn_relu(chans[k + 1] + chans[k], chans[k]) for k in range(depth))
        self.heat = nn.Conv2d(chans[0], n_classes, 1)
        self.offset = nn.Conv2d(chans[0], 2, 1)
        # CenterNet's prior: every pixel starts at heat-map probability 0.1
        nn.init.constant_(self.heat.bias, -math.log((1 - 0.1) / 0.1))
        self.multiple = 2**depth

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Heat-map logits (B, n_classes, H, W) and offsets (B, 2, H, W) of inputs (B, bands, H, W)."""
        h, w = x.shape[-2:]
        pad_h, pad_w = -h % self.multiple, -w % self.multiple
        if pad_h or pad_w:
            x = F.pad(x, (0, pad_w, 0, pad_h))
        skips = [self.stem(x)]
        for down in self.down:
            skips.append(down(skips[-1]))
        y = skips.pop()
        for k in reversed(range(len(self.up))):
            skip = skips.pop()
            y = F.interpolate(y, size=skip.shape[-2:], mode="nearest")
            y = self.up[k](torch.cat([y, skip], dim=1))
        return self.heat(y)[..., :h, :w], self.offset(y)[..., :h, :w]


def build_detector(architecture: str, bands: int, n_classes: int) -> HeatmapNet:
    """The network of config ``detector.architecture``."""
    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown detector architecture {architecture!r}: expected one of {sorted(ARCHITECTURES)}"
        )
    width, depth = ARCHITECTURES[architecture]
    return HeatmapNet(bands, n_classes, width, depth)
