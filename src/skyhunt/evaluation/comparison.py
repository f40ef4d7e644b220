"""Setups side by side: one Table 1 and one noise ladder for several configurations.

Each setup (the paper's instrument, a realistic preset, ...) is a configuration with its own
``results_dir``. The ``compare`` rules read the Table 1 and the per-stage metrics that each
setup's run wrote (:func:`skyhunt.evaluation.pipeline.run_table1`,
:func:`skyhunt.figures.noise.run_noise_components`) and put them in one table and one figure.
"""

from __future__ import annotations

import logging

import pandas as pd

from skyhunt import io
from skyhunt.evaluation.ensembles import METHOD_NAMES

log = logging.getLogger("skyhunt.evaluation")

#: Columns read from each setup's Table 1.
TABLE1_COLUMNS = ("method", "threshold", "precision", "recall", "f1", "f1_lo", "f1_hi", "validation_f1")

#: Columns read from each setup's per-stage metrics.
LADDER_COLUMNS = ("stage", "method", "threshold", "validation_f1", "test_f1", "test_auc")


def read_setup_tables(setups: list, paths: list, columns) -> pd.DataFrame:
    """Concatenate one CSV table per setup, with the setup's name as the first column.

    Parameters
    ----------
    setups : list of str
        Setup names, in the order of ``paths``.
    paths : list of path-like
        Each setup's table.
    columns : sequence of str
        Columns every table must have.
    """
    if not setups:
        raise ValueError("compare: no setup has results yet (config compare.setups)")
    frames = []
    for name, path in zip(setups, paths, strict=True):
        table = io.read_checked_csv(path, columns, "setup table")
        frames.append(table.loc[:, list(columns)].assign(setup=name))
    out = pd.concat(frames, ignore_index=True)
    return out[["setup", *columns]]


def comparison_markdown(table: pd.DataFrame) -> str:
    """Test F1 with its interval, one row per method and one column per setup (GitHub Markdown)."""
    setups = list(dict.fromkeys(table["setup"]))
    lines = [
        "| method | " + " | ".join(setups) + " |",
        "|---|" + "---|" * len(setups),
    ]
    for method in dict.fromkeys(table["method"]):
        cells = []
        for s in setups:
            row = table[(table["setup"] == s) & (table["method"] == method)]
            r = row.iloc[0] if len(row) else None
            cells.append(f"{r.f1:.3f} [{r.f1_lo:.3f}, {r.f1_hi:.3f}]" if r is not None else "–")
        lines.append(f"| {METHOD_NAMES.get(method, method)} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def run_compare_table1(*, setups: list, tables: list, csv, md) -> None:
    """One Table 1 of every setup that has one: the rows of each, and test F1 side by side.

    Parameters
    ----------
    setups : list of str
        Names of the setups with results (config ``compare.setups``), in the order of ``tables``.
    tables : list of path-like
        Each setup's ``tables/table1.csv``.
    csv, md : path-like
        Output: all rows with a ``setup`` column, and the F1 table in Markdown.
    """
    table = read_setup_tables(setups, tables, TABLE1_COLUMNS)
    text = (
        "Test F1 of every method, one column per setup; in brackets the bootstrap interval of "
        "each setup's `evaluation.bootstrap`.\n\n" + comparison_markdown(table)
    )
    with io.atomic_output(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_output(md) as tmp:
        tmp.write_text(text)
    log.info("compared %d setups: %s\n%s", len(setups), ", ".join(setups), text)
