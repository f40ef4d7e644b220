"""Reading the matched-filter stage's candidate table; fails naming the file and missing columns."""

from __future__ import annotations

import pandas as pd

from skyhunt import io

#: Candidate columns that matching needs: ra, dec (deg), snr.
MATCH_COLUMNS = ("ra", "dec", "snr")


def read_candidates(path) -> pd.DataFrame:
    """The candidate table of one stage (``candidates.parquet``) with the columns matching needs."""
    return io.read_checked_table(path, MATCH_COLUMNS)
