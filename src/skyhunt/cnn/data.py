"""Cutout datasets and the oversampling sampler S_r of DeepSZ section 2.2.2.

Batches are drawn as whole index arrays (one fancy-indexed read of the memory-mapped
cutout array per batch) rather than item by item. Every training batch is a pure function
of (seed, r, epoch), so a run resumed from an epoch-end checkpoint draws exactly the
batches an uninterrupted run would have drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, Sampler


@dataclass(frozen=True)
class SplitRows:
    """Row numbers (into the cutout arrays) of the training, validation and test sets.

    Training excludes the negatives flagged ``dropped`` (DeepSZ 1.2); validation and test keep all.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    @classmethod
    def from_index(cls, index: pd.DataFrame) -> SplitRows:
        rows = np.arange(len(index))
        split, dropped = index["split"].to_numpy(), index["dropped"].to_numpy(bool)
        return cls(rows[(split == "train") & ~dropped], rows[split == "validation"], rows[split == "test"])


def band_statistics(array: np.ndarray, rows: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and standard deviation over ``array[rows]`` (µK_CMB), streamed in chunks.

    Parameters
    ----------
    array : ndarray, shape (N, bands, npix, npix)
        Cutouts (may be a memmap).
    rows : ndarray of int
        Rows to use (the training set).

    Returns
    -------
    mean, std : ndarray, shape (bands,), float64
    """
    total = np.zeros(array.shape[1])
    total_sq = np.zeros(array.shape[1])
    for start in range(0, len(rows), chunk):
        x = np.asarray(array[np.sort(rows[start : start + chunk])], dtype=np.float64)
        total += x.sum(axis=(0, 2, 3))
        total_sq += (x * x).sum(axis=(0, 2, 3))
    n = len(rows) * array.shape[2] * array.shape[3]
    mean = total / n
    return mean, np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))


def dihedral(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Apply one of the 8 flips/90-degree rotations to each cutout.

    Parameters
    ----------
    x : ndarray, shape (B, bands, n, n)
    codes : ndarray of int in [0, 8), shape (B,)
        ``code % 4`` quarter turns, then a left-right flip if ``code >= 4``.
    """
    out = np.empty_like(x)
    for code in np.unique(codes):
        sel = codes == code
        y = np.rot90(x[sel], int(code) % 4, axes=(-2, -1))
        out[sel] = y[..., ::-1] if code >= 4 else y
    return out


class CutoutBatches(Dataset):
    """Whole batches of cutouts: ``dataset[(rows, codes)]`` -> (x, y).

    Parameters
    ----------
    array : ndarray, shape (N, bands, npix, npix), float32
        Cutouts in µK_CMB (a memmap is fine).
    labels : ndarray of bool, shape (N,)
    """

    def __init__(self, array: np.ndarray, labels: np.ndarray):
        self.array = array
        self.labels = np.asarray(labels, dtype=np.int64)

    def __getitem__(self, key):
        rows, codes = key
        x = np.asarray(self.array[rows], dtype=np.float32)
        if codes is not None:
            x = dihedral(x, codes)
        return torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(self.labels[rows])


class EpochBatches(Sampler):
    """A sampler of ``n_batches`` batches of ``batch_size`` per epoch whose random draws for
    epoch ``e`` come from the stream ``(seed, e)``, so that a resumed run draws the batches an
    uninterrupted one would; subclasses define ``__iter__``.

    Parameters
    ----------
    batch_size, n_batches : int
        Batch size and batches per epoch.
    seed : int
        Base seed of the streams.
    augment : bool
        Draw a random flip/rotation code per cutout.
    """

    def __init__(self, batch_size: int, n_batches: int, seed: int, augment: bool):
        self.batch_size, self.n_batches = batch_size, n_batches
        self.seed, self.augment, self.epoch = seed, augment, 0

    def set_epoch(self, epoch: int) -> None:
        """Select the random stream of ``epoch`` (Lightning calls this at each epoch start)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n_batches


class RatioSampler(EpochBatches):
    """S_r: batches in which each draw is a positive with probability 1 / (1 + r).

    Positives and negatives are each drawn uniformly with replacement, so the expected
    negative-to-positive ratio is r and every batch is a fresh draw (DeepSZ 2.2.2 i).

    Parameters
    ----------
    positives, negatives : ndarray of int
        Row numbers of each class.
    ratio : float
        Effective negative-to-positive ratio r.
    batch_size, n_batches : int
        Batch size and batches per epoch.
    seed : int
        Base seed; epoch ``e`` uses the stream ``(seed, e)``.
    augment : bool
        Draw a random flip/rotation code per cutout.
    """

    def __init__(self, positives, negatives, ratio, batch_size, n_batches, seed, augment=False):
        if len(positives) == 0 or len(negatives) == 0:
            raise ValueError(
                f"the training set needs both classes; it has {len(positives)} positive and "
                f"{len(negatives)} negative cutouts"
            )
        super().__init__(batch_size, n_batches, seed, augment)
        self.positives, self.negatives = np.asarray(positives), np.asarray(negatives)
        self.ratio = ratio

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.n_batches):
            positive = rng.random(self.batch_size) < 1.0 / (1.0 + self.ratio)
            rows = np.where(
                positive,
                self.positives[rng.integers(len(self.positives), size=self.batch_size)],
                self.negatives[rng.integers(len(self.negatives), size=self.batch_size)],
            )
            codes = rng.integers(8, size=self.batch_size) if self.augment else None
            yield rows, codes


def oversampled(positives, negatives, ratio: float, seed: int) -> np.ndarray:
    """A fixed oversampled evaluation set: every negative plus ``len(negatives) / r`` positives
    drawn with replacement (the "over-sampled validation set" of DeepSZ 2.2.2 ii)."""
    rng = np.random.default_rng(seed)
    n_pos = max(1, round(len(negatives) / ratio))
    return np.concatenate([np.asarray(negatives), rng.choice(positives, size=n_pos, replace=True)])


def in_batches(rows: np.ndarray, batch_size: int) -> list:
    """Consecutive batches of ``rows`` without augmentation, for evaluation."""
    return [(rows[i : i + batch_size], None) for i in range(0, len(rows), batch_size)]


class UniformSampler(EpochBatches):
    """Batches of ``rows`` drawn uniformly with replacement, with a flip/rotation code per cutout.

    Epoch ``e`` uses the stream ``(seed, e)``, so a resumed run draws the batches an
    uninterrupted one would.
    """

    def __init__(self, rows, batch_size: int, n_batches: int, seed: int, augment: bool):
        super().__init__(batch_size, n_batches, seed, augment)
        self.rows = np.asarray(rows)

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        for _ in range(self.n_batches):
            rows = self.rows[rng.integers(len(self.rows), size=self.batch_size)]
            yield rows, (rng.integers(8, size=self.batch_size) if self.augment else None)
