"""Where the torch jobs run (no Lightning import, so that inference jobs start quickly)."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Device:
    """Where and how to train: accelerator, numeric precision, memory format."""

    accelerator: str
    precision: str
    channels_last: bool

    @classmethod
    def detect(cls, accelerator: str = "auto") -> Device:
        """GPU with bf16/fp16 mixed precision and channels-last when one is present, else CPU fp32."""
        if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
            precision = "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
            return cls("gpu", precision, True)
        if accelerator in ("gpu", "cuda"):
            raise RuntimeError("config asks for a GPU (cnn.accelerator) but torch sees none")
        return cls("cpu", "32-true", False)
