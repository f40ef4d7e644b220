"""CNN throughput: training and inference cutouts per second for both architectures.

Runs on whatever the machine has: a CUDA GPU if torch sees one (bf16/fp16 mixed precision and
channels-last, as ``train_cnn`` uses), otherwise the CPU (fp32). A training step is the full
``train_cnn`` step without Lightning's bookkeeping: a batch drawn by the S_r sampler from an
in-memory cutout array (with flips/rotations), host-to-device copy, forward, cross-entropy,
backward and SGD update. Inference is forward only, in evaluation mode.

Usage::

    .venv/bin/python benchmarks/cnn.py [--batch-size 128] [--threads N] [--seconds 10]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.nn import functional as F

from skyhunt.cnn.data import CutoutBatches, RatioSampler
from skyhunt.cnn.models import ARCHITECTURES
from skyhunt.cnn.module import CutoutClassifier
from skyhunt.cnn.training import Device


def timed(step, seconds: float, batch: int, device: torch.device) -> float:
    """Cutouts per second of ``step()``, after two warm-up calls, over at least ``seconds``."""
    for _ in range(2):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
        if device.type == "cuda":
            torch.cuda.synchronize()
    return n * batch / (time.perf_counter() - t0)


def measure(arch, data, batches, args, dev, device) -> tuple[int, float, float]:
    """(parameters, training cutouts/s, inference cutouts/s) of one architecture."""
    autocast = dev.precision.startswith(("bf16", "16"))
    dtype = torch.bfloat16 if dev.precision.startswith("bf16") else torch.float16
    module = CutoutClassifier(
        arch, 3, 32, [0.0] * 3, [20.0] * 3, {"lr": 5e-3}, channels_last=dev.channels_last
    ).to(device)
    opt = torch.optim.SGD(module.parameters(), lr=5e-3, momentum=0.9, weight_decay=3e-3)

    def train_step():
        x, y = data[next(batches)]
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        with torch.autocast(device.type, dtype=dtype, enabled=autocast):
            loss = F.cross_entropy(module(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    x_eval = torch.from_numpy(data.array[: args.batch_size]).to(device)

    @torch.inference_mode()
    def infer_step():
        with torch.autocast(device.type, dtype=dtype, enabled=autocast):
            module(x_eval)

    module.train()
    train = timed(train_step, args.seconds, args.batch_size, device)
    module.eval()
    infer = timed(infer_step, args.seconds, args.batch_size, device)
    return sum(p.numel() for p in module.parameters()), train, infer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--seconds", type=float, default=10.0, help="timing length per measurement")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dev = Device.detect()
    device = torch.device("cuda" if dev.accelerator == "gpu" else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(f"device: {name}; precision {dev.precision}; channels_last {dev.channels_last}")
    print(f"batch size {args.batch_size}")

    rng = np.random.default_rng(0)
    cutouts = rng.normal(0, 20, size=(8192, 3, 32, 32)).astype(np.float32)
    labels = rng.random(8192) < 0.05
    data = CutoutBatches(cutouts, labels)
    sampler = RatioSampler(
        np.flatnonzero(labels), np.flatnonzero(~labels), 1, args.batch_size, 10**9, seed=1, augment=True
    )
    batches = iter(sampler)
    print(f"{'architecture':<15} {'parameters':>11} {'train /s':>10} {'infer /s':>10}")
    for arch in ARCHITECTURES:
        n_par, train, infer = measure(arch, data, batches, args, dev, device)
        print(f"{arch:<15} {n_par:>11,} {train:>10,.0f} {infer:>10,.0f}")


if __name__ == "__main__":
    main()
