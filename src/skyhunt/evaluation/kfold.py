"""Table 1 over K folds of rotated RA stripes: the mean, the spread between folds, the wins.

With ``cutouts.splits.folds`` = K, fold k's run tests RA stripe k of K equal stripes
(:func:`skyhunt.cutouts.layout.stripes`), each run in its own ``results_dir``. The ``kfold``
rule reads the Table 1 (:func:`skyhunt.evaluation.pipeline.run_table1`) and the cutout index of
every fold run that exists, checks that they are folds of one grid (no cutout is test, or
validation, in two folds; with every fold present each cutout outside the guard bands is test
once), and summarises each method over the folds. The folds share most of their training
cutouts, so the spread between folds is not the spread of independent experiments; it shows how
much a single stripe's result depends on where the stripe lies.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cutouts.readers import read_index
from skyhunt.evaluation.comparison import TABLE1_COLUMNS, comparison_markdown, read_setup_tables
from skyhunt.evaluation.ensembles import METHOD_NAMES
from skyhunt.evaluation.table1 import rates

log = logging.getLogger("skyhunt.evaluation")

#: Columns read from each fold's Table 1: the compared columns and the confusion counts.
KFOLD_COLUMNS = (*TABLE1_COLUMNS, "tp", "fp", "fn", "tn")

#: The single methods an ensemble must beat in a fold to count a win.
SINGLE_METHODS = ("mf", "cnn")

#: Metrics summarised over the folds (dimensionless).
METRICS = ("f1", "precision", "recall")


def fold_name(fold: int) -> str:
    """The label of fold ``fold`` in the tables, e.g. ``k2``."""
    return f"k{fold}"


def check_fold_indexes(folds: list, indexes: list, total: int) -> None:
    """Fail unless the runs are folds of one cutout grid with disjoint test and validation sets.

    Parameters
    ----------
    folds : list of int
        The fold of each run (``cutouts.splits.fold``), in the order of ``indexes``.
    indexes : list of path-like
        Each fold run's ``cutouts/index.parquet``.
    total : int
        K (``kfold.folds``); with every fold present, each cutout whose split is not ``guard``
        must be test in exactly one fold.

    Raises
    ------
    skyhunt.io.InputFileError
        Naming the run whose grid differs from the first's, or whose test or validation
        cutouts another fold already holds.
    """
    grid, owner = None, {}
    for fold, path in zip(folds, indexes, strict=True):
        index = read_index(path, ("cutout_id", "ra", "dec", "split"))
        if grid is None:
            grid = index[["cutout_id", "ra", "dec"]]
            owner = {name: np.full(len(index), -1) for name in ("test", "validation")}
            guard = index["split"].to_numpy() == "guard"
        elif not grid.equals(index[["cutout_id", "ra", "dec"]]):
            raise io.InputFileError(
                f"{path}: fold {fold}'s cutout grid differs from fold {folds[0]}'s ({indexes[0]}); the "
                "fold runs must share every key but cutouts.splits.fold and results_dir"
            )
        for name, holder in owner.items():
            mine = index["split"].to_numpy() == name
            clash = mine & (holder >= 0)
            if clash.any():
                raise io.InputFileError(
                    f"{path}: {int(clash.sum())} {name} cutouts of fold {fold} are {name} in fold "
                    f"{holder[clash][0]} too; not fold {fold} of cutouts.splits.folds = {total} "
                    "(was this run made with the fold preset and its cutouts.splits.fold?)"
                )
            holder[mine] = fold
    never = (owner["test"] < 0) & ~guard
    if len(folds) == total and never.any():
        raise io.InputFileError(
            f"{indexes[0]}: {int(never.sum())} cutouts outside the guard bands are test in none of the "
            f"{total} folds; the runs are not the {total} folds of one configuration"
        )


def kfold_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Each method's metrics over the folds: mean, standard deviation, range, pooled, wins.

    Parameters
    ----------
    table : pandas.DataFrame
        The Table 1 rows of every fold (:func:`read_setup_tables` with :data:`KFOLD_COLUMNS`),
        the fold's label in column ``setup``.

    Returns
    -------
    pandas.DataFrame
        One row per method in Table 1's order: ``folds`` (how many), ``<metric>_mean``,
        ``<metric>_std`` (sample standard deviation, ddof = 1; NaN for one fold),
        ``<metric>_min``, ``<metric>_max`` for F1, precision and recall; ``<metric>_pooled``
        from the TP, FP and FN summed over the folds (each fold at its own validation
        threshold); and for the ensembles ``beats_both``, the number of folds in which their
        test F1 is above both MF's and CNN's (NaN for the single methods).
    """
    f1 = table.pivot(index="setup", columns="method", values="f1")
    best_single = f1[list(SINGLE_METHODS)].max(axis=1)
    rows = []
    for method, part in table.groupby("method", sort=False):
        row = {"method": method, "folds": len(part)}
        for metric in METRICS:
            values = part[metric]
            row |= {
                f"{metric}_mean": values.mean(),
                f"{metric}_std": values.std(ddof=1),
                f"{metric}_min": values.min(),
                f"{metric}_max": values.max(),
            }
        pooled = rates(int(part["tp"].sum()), int(part["fp"].sum()), int(part["fn"].sum()))
        row |= {f"{metric}_pooled": pooled[metric] for metric in METRICS}
        row["beats_both"] = np.nan if method in SINGLE_METHODS else int((f1[method] > best_single).sum())
        rows.append(row)
    return pd.DataFrame(rows)


def kfold_markdown(summary: pd.DataFrame, table: pd.DataFrame, missing: list) -> str:
    """The summary over the folds and each fold's test F1 (GitHub Markdown).

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`kfold_summary`.
    table : pandas.DataFrame
        Every fold's Table 1 rows (column ``setup``: the fold's label).
    missing : list of str
        The results_dir of each fold without a run, named below the table.
    """
    n = len(dict.fromkeys(table["setup"]))

    def spread(r, metric):
        std = "–" if np.isnan(r[f"{metric}_std"]) else f"{r[f'{metric}_std']:.3f}"
        return f"{r[f'{metric}_mean']:.3f} ± {std}"

    lines = [
        f"Table 1 over {n} of {n + len(missing)} folds of rotated RA stripes: test metrics at each "
        "fold's validation threshold, mean ± sample standard deviation over the folds, with the "
        "range; pooled: from the TP, FP and FN summed over the folds; beats MF and CNN: folds in which the "
        "ensemble's test F1 is above both MF's and CNN's.",
        "",
        "| method | F1 | F1 min–max | precision | recall | pooled F1 | beats MF and CNN |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in summary.iterrows():
        wins = "–" if np.isnan(r.beats_both) else f"{int(r.beats_both)} of {r.folds}"
        lines.append(
            f"| {METHOD_NAMES.get(r.method, r.method)} | {spread(r, 'f1')} | {r.f1_min:.3f}–{r.f1_max:.3f} | "
            f"{spread(r, 'precision')} | {spread(r, 'recall')} | {r.f1_pooled:.3f} | {wins} |"
        )
    if missing:
        lines += ["", f"Folds without a run (no tables/table1.csv): {', '.join(missing)}."]
    lines += [
        "",
        "Test F1 of each fold; in brackets the bootstrap interval of its `evaluation.bootstrap`:",
        "",
        comparison_markdown(table).rstrip("\n"),
    ]
    return "\n".join(lines) + "\n"


def run_kfold_table1(*, folds: list, total: int, missing: list, tables: list, indexes: list, csv, md) -> None:
    """Table 1 over the fold runs that exist: the summary of each method, and each fold's F1.

    Parameters
    ----------
    folds : list of int
        The folds with a run (``cutouts.splits.fold``), in the order of ``tables``.
    total : int
        K, the number of folds (config ``kfold.folds``).
    missing : list of str
        The results_dir of each fold without a run.
    tables, indexes : list of path-like
        Each fold run's ``tables/table1.csv`` and ``cutouts/index.parquet``.
    csv, md : path-like
        Output: :func:`kfold_summary` as CSV, and :func:`kfold_markdown`.
    """
    if not folds:
        raise ValueError(f"kfold: none of the {total} folds has a run yet (config kfold.results_dir)")
    check_fold_indexes(folds, indexes, total)
    table = read_setup_tables([fold_name(k) for k in folds], tables, KFOLD_COLUMNS)
    summary = kfold_summary(table)
    text = kfold_markdown(summary, table, missing)
    with io.atomic_output(csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_output(md) as tmp:
        tmp.write_text(text)
    log.info("%d of %d folds (%s)\n%s", len(folds), total, ", ".join(map(fold_name, folds)), text)
    for path in missing:
        log.warning("kfold: no run in %s, left out", path)
