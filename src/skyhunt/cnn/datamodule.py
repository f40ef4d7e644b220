"""The classifier's Lightning data module: training batches from S_r and the oversampled
validation set at the same r (DeepSZ section 2.2.2)."""

from __future__ import annotations

import lightning as L
from torch.utils.data import DataLoader

from skyhunt import io
from skyhunt.cnn.data import CutoutBatches, RatioSampler, SplitRows, in_batches, oversampled
from skyhunt.cutouts.arrays import check_index_matches, load_cutout_array


class CutoutDataModule(L.LightningDataModule):
    """Training batches from S_r and the oversampled validation set at the same r.

    The inputs are read once; :meth:`set_rung` selects the rung of the ratio ladder before each fit.

    Parameters
    ----------
    array_path, index_path : path-like
        One noise stage's cutout array (``.npy``; checked to be finite) and the shared cutout index.
    batch_size, batches_per_epoch : int
        Batch size, and batches between two validations (one Lightning epoch).
    augment : bool
        Random flips and quarter turns of training cutouts.
    """

    def __init__(self, array_path, index_path, batch_size, batches_per_epoch, augment):
        super().__init__()
        self.array = load_cutout_array(array_path)
        self.index, _ = io.read_table(index_path)
        check_index_matches(self.index, self.array, index_path, array_path)
        self.rows = SplitRows.from_index(self.index)
        labels = self.index["label"].to_numpy(bool)
        self.dataset = CutoutBatches(self.array, labels)
        self.ratio, self.seed, self.batch_size = 1.0, 0, batch_size
        self.batches_per_epoch, self.augment = batches_per_epoch, augment
        self.train_pos = self.rows.train[labels[self.rows.train]]
        self.train_neg = self.rows.train[~labels[self.rows.train]]
        self.val_pos = self.rows.validation[labels[self.rows.validation]]
        self.val_neg = self.rows.validation[~labels[self.rows.validation]]
        if len(self.val_pos) == 0:
            raise ValueError(f"{index_path}: the validation split holds no positive cutouts")

    def set_rung(self, ratio: float, seed: int) -> None:
        """Draw from S_r with negative-to-positive ratio ``ratio`` and the streams of ``seed``."""
        self.ratio, self.seed = ratio, seed

    def train_dataloader(self):
        sampler = RatioSampler(
            self.train_pos,
            self.train_neg,
            self.ratio,
            self.batch_size,
            self.batches_per_epoch,
            self.seed,
            self.augment,
        )
        return DataLoader(self.dataset, batch_size=None, sampler=sampler)

    def val_dataloader(self):
        rows = oversampled(self.val_pos, self.val_neg, self.ratio, self.seed)
        return DataLoader(self.dataset, batch_size=None, sampler=in_batches(rows, self.batch_size))
