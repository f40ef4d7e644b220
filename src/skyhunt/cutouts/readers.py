"""Reading the cutout index written by the ``cutouts`` rule (no torch needed).

The reader fails with :class:`skyhunt.io.InputFileError` naming the file and the missing columns;
each consumer names the columns it needs. The cutout arrays are read by
:mod:`skyhunt.cutouts.arrays`.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from skyhunt import io

#: Index columns that place each cutout on the standard grid (ra, dec in degrees).
GRID_COLUMNS = ("cutout_id", "ra", "dec", "grid_row", "grid_col")


def read_index(path, columns: Iterable[str]) -> pd.DataFrame:
    """The cutout index (``index.parquet``, one row per cutout in array order).

    Parameters
    ----------
    path : path-like
        The index.
    columns : iterable of str
        Columns the caller needs (see :data:`skyhunt.cutouts.pipeline.INDEX_UNITS`); a missing one
        fails naming the file and the column.
    """
    return io.read_checked_table(path, columns)
