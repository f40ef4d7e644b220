"""Network architectures for 32 x 32 multi-band cutouts.

``deepsz_resnet`` follows DeepSZ section 2.2.1 (Fig. 3); ``small`` is a fast CNN for CPU runs.
Both keep the spatial layout up to the fully connected head (no global pooling), because a
cutout's label depends on *where* the cluster sits: a halo in the outer 1' strip belongs to
the neighbouring cutout (section 1.2).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

ARCHITECTURES = ("small", "deepsz_resnet")


class _MaxPool2x2Function(torch.autograd.Function):
    """2x2 max-pooling, stride 2, computed on a channels-last copy of its NCHW input.

    The same numbers as ``torch.nn.functional.max_pool2d(x, 2)`` in value, indices and gradient
    (each window's gradient goes to its first maximal pixel in row-major order, and the
    backward pass is ``max_pool2d``'s own). On the CPU, ``max_pool2d_with_indices`` is several
    times slower on NCHW tensors than on channels-last ones, and took a third of a training
    step of the ``small`` network.
    """

    @staticmethod
    def forward(ctx, x):
        out, indices = F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2, return_indices=True)
        out, indices = out.contiguous(), indices.contiguous()
        ctx.save_for_backward(x, indices)
        ctx.mark_non_differentiable(indices)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, indices = ctx.saved_tensors
        return torch.ops.aten.max_pool2d_with_indices_backward(
            grad.contiguous(), x, [2, 2], [2, 2], [0, 0], [1, 1], False, indices
        )


class MaxPool2x2(nn.Module):
    """``nn.MaxPool2d(2)`` (2x2 windows, stride 2, odd edges dropped); NCHW tensors on the CPU
    are pooled on a channels-last copy, which is 2-5 times faster there (see
    :class:`_MaxPool2x2Function`). It gives the same numbers, has no parameters or buffers, and
    returns NCHW tensors, so checkpoints of networks built with ``nn.MaxPool2d(2)`` load and
    score unchanged."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu" or not x.is_contiguous():  # GPUs, channels-last networks
            return F.max_pool2d(x, 2)
        if torch.is_grad_enabled() and x.requires_grad:
            return _MaxPool2x2Function.apply(x)
        return F.max_pool2d(x.contiguous(memory_format=torch.channels_last), 2).contiguous()


def conv_bn_relu(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    """3x3 convolution (padding 1), batch normalisation, ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class Bottleneck(nn.Module):
    """ResNet-50 bottleneck block (He et al. 2016): 1x1 reduce, 3x3, 1x1 expand (x4), skip.

    The first block of a stage projects the skip with a strided 1x1 convolution.
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1):
        super().__init__()
        c_out = width * self.expansion
        self.body = nn.Sequential(
            nn.Conv2d(c_in, width, 1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, width, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.Conv2d(width, c_out, 1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        # Zero-init the last BN so each block starts as the identity (Goyal et al. 2017).
        nn.init.zeros_(self.body[-1].weight)
        self.skip = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))
        )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.relu(self.body(x) + self.skip(x))


class DeepSZResNet(nn.Module):
    """The modified ResNet-50 of DeepSZ section 2.2.1.

    Stem: two 3x3 conv-BN-ReLU (stride 1, then 2) and a 2x2 max-pool (32 -> 8 px). Then
    ResNet-50 bottleneck stages 1-3 with 3, 4, 6 blocks (widths 64, 128, 256; 256, 512, 1024
    output channels; 8 -> 8 -> 4 -> 2 px), no fourth stage, and two fully connected layers of
    256 on the flattened 2 x 2 x 1024 map before the 2-class output.

    Parameters
    ----------
    in_channels : int
        Number of bands.
    npix : int
        Cutout side in pixels (divisible by 16).
    """

    def __init__(self, in_channels: int = 3, npix: int = 32):
        super().__init__()
        layers = [conv_bn_relu(in_channels, 64), conv_bn_relu(64, 64, stride=2), MaxPool2x2()]
        c_in = 64
        for width, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2)):
            for i in range(blocks):
                layers.append(Bottleneck(c_in, width, stride if i == 0 else 1))
                c_in = width * Bottleneck.expansion
        self.features = nn.Sequential(*layers)
        side = npix // 16
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * side * side, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 256),
            nn.ReLU(inplace=True),
            nn.Linear(256, 2),
        )

    def forward(self, x):
        return self.head(self.features(x))


class SmallCNN(nn.Module):
    """A fast CNN for CPU runs: three conv-BN-ReLU + 2x2 max-pool layers (16, 32, 64 channels;
    32 -> 4 px) and a fully connected layer of 128 before the 2-class output.

    Parameters
    ----------
    in_channels : int
        Number of bands.
    npix : int
        Cutout side in pixels (divisible by 8).
    """

    def __init__(self, in_channels: int = 3, npix: int = 32):
        super().__init__()
        layers, c_in = [], in_channels
        for c_out in (16, 32, 64):
            layers += [conv_bn_relu(c_in, c_out), MaxPool2x2()]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = npix // 8
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * side * side, 128), nn.ReLU(inplace=True), nn.Linear(128, 2)
        )

    def forward(self, x):
        return self.head(self.features(x))


def build_model(architecture: str, in_channels: int, npix: int) -> nn.Module:
    """The network named ``architecture`` (one of :data:`ARCHITECTURES`)."""
    if architecture == "small":
        return SmallCNN(in_channels, npix)
    if architecture == "deepsz_resnet":
        return DeepSZResNet(in_channels, npix)
    raise ValueError(f"unknown architecture {architecture!r}; expected one of {ARCHITECTURES}")
