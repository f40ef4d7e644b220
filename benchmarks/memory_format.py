"""CPU training step of the default run's networks in NCHW and channels-last layouts, side by side.

The default run's torch jobs train on the CPU in the NCHW layout (``skyhunt.cnn.device.Device``
turns channels-last on only for GPUs). This benchmark times one optimiser step (forward,
loss, backward, update) of the cutout classifier (config ``cnn.architecture`` at
``cnn.training.batch_size``, ``cutouts.npix``) and of the detector (``detector.architecture`` at
``detector.training.batch_size``, ``detector.patches.npix``) on random inputs, in both layouts,
alternating the two in rounds so that a change in machine load hits both alike. It prints the
median step time (ms) per network and layout, and the ratio. One thread, as the rules run.

The layouts do not give bit-identical numbers (the convolution kernels sum in another order),
so adopting channels-last on the CPU changes every trained model; see the README before doing so.

Usage::

    .venv/bin/python benchmarks/memory_format.py [--config config.yaml] [--rounds 5] [--steps 20]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import yaml

from skyhunt.cnn.models import build_model
from skyhunt.detector.models import build_detector

ROOT = Path(__file__).resolve().parents[1]


def step_seconds(net: torch.nn.Module, x: torch.Tensor, loss_of, steps: int) -> float:
    """Median wall time (s) of ``steps`` SGD steps of ``net`` on input ``x``, after 3 warm-up steps."""
    opt = torch.optim.SGD(net.parameters(), lr=1e-3, momentum=0.9)
    times = []
    for i in range(steps + 3):
        t = time.perf_counter()
        opt.zero_grad()
        loss_of(net(x)).backward()
        opt.step()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def networks(config: dict) -> dict:
    """Name -> (network factory, input shape, loss of the network's output)."""
    bands = len(config["sky"]["bands"])
    npix, batch = config["cutouts"]["npix"], config["cnn"]["training"]["batch_size"]
    det_npix, det_batch = config["detector"]["patches"]["npix"], config["detector"]["training"]["batch_size"]
    n_classes = len(config["detector"]["classes"])
    return {
        f"classifier ({config['cnn']['architecture']}, batch {batch}, {npix} px)": (
            lambda: build_model(config["cnn"]["architecture"], bands, npix),
            (batch, bands, npix, npix),
            lambda out: out.logsumexp(1).mean(),
        ),
        f"detector ({config['detector']['architecture']}, batch {det_batch}, {det_npix} px)": (
            lambda: build_detector(config["detector"]["architecture"], bands, n_classes),
            (det_batch, bands, det_npix, det_npix),
            lambda out: out[0].sigmoid().mean() + out[1].square().mean(),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=ROOT / "config.yaml")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per layout")
    parser.add_argument("--steps", type=int, default=20, help="timed steps per round")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = yaml.safe_load(args.config.read_text())
    print(f"{'network':48s} {'NCHW ms':>9s} {'ch.-last ms':>12s} {'ratio':>6s}")
    for name, (factory, shape, loss_of) in networks(config).items():
        results = {False: [], True: []}
        for _ in range(args.rounds):
            for channels_last in (False, True):
                torch.manual_seed(0)
                net, x = factory(), torch.randn(shape)
                if channels_last:
                    net = net.to(memory_format=torch.channels_last)
                    x = x.contiguous(memory_format=torch.channels_last)
                results[channels_last].append(step_seconds(net, x, loss_of, args.steps))
        nchw, last = (statistics.median(results[k]) * 1e3 for k in (False, True))
        print(f"{name:48s} {nchw:9.1f} {last:12.1f} {last / nchw:6.2f}")


if __name__ == "__main__":
    main()
