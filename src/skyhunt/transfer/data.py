"""The labelled target cutouts of the transfer study: N training-stripe positives with matching
negatives, and the CNN's data module restricted to them."""

from __future__ import annotations

import numpy as np

from skyhunt.cnn.datamodule import CutoutDataModule


def labelled_subset(
    positives: np.ndarray, negatives: np.ndarray, n_labelled: int | None, negatives_per_positive: float, rng
) -> tuple[np.ndarray, np.ndarray]:
    """N positives and round(N x ``negatives_per_positive``) negatives, drawn without replacement.

    Parameters
    ----------
    positives, negatives : ndarray of int
        Rows of the target's training-stripe positives and negatives (not ``dropped``).
    n_labelled : int or None
        N; None (config ``all``) or more than there are takes every positive.
    negatives_per_positive : float
        Negatives per chosen positive (at most all of them).
    rng : numpy.random.Generator
        The subset's stream (:func:`skyhunt.sky.components.component_rng`).

    Returns
    -------
    positives, negatives : ndarray of int
        The chosen rows, sorted.
    """
    n_pos = len(positives) if n_labelled is None else min(int(n_labelled), len(positives))
    n_neg = min(len(negatives), max(1, round(n_pos * negatives_per_positive)))
    chosen_pos = np.sort(rng.choice(positives, size=n_pos, replace=False))
    chosen_neg = np.sort(rng.choice(negatives, size=n_neg, replace=False))
    return chosen_pos, chosen_neg


class LabelledDataModule(CutoutDataModule):
    """:class:`skyhunt.cnn.data.CutoutDataModule` whose training batches come from a chosen subset
    of the training stripe (S_r over those rows); validation is the whole validation stripe,
    oversampled at the same r.

    Parameters
    ----------
    array_path, index_path : path-like
        The target's cutout array and index.
    positives, negatives : ndarray of int
        The labelled training rows (:func:`labelled_subset`).
    batch_size, batches_per_epoch : int
        Batch size and batches between validations.
    augment : bool
        Random flips and quarter turns.
    """

    def __init__(self, array_path, index_path, positives, negatives, batch_size, batches_per_epoch, augment):
        super().__init__(array_path, index_path, batch_size, batches_per_epoch, augment)
        self.train_pos, self.train_neg = np.asarray(positives), np.asarray(negatives)
