"""The catalogue figures render from the catalogue steps' outputs, the same bytes twice."""

from __future__ import annotations

import pandas as pd
import pytest

from skyhunt import io
from skyhunt.figures.catalogues import point_at, run_catalogue_map, run_completeness_purity
from tests.catalogue_fixtures import FOOTPRINT, POSITIVE, SPLITS, write_sky
from tests.test_catalogues import run_all

STAGES = [{"name": "dust", "add": ["cmb", "tsz", "dust"]}]


def test_catalogue_figures_render_and_are_deterministic(tmp_path):
    out = run_all(tmp_path, write_sky(tmp_path))
    table1 = tmp_path / "table1.csv"
    pd.DataFrame({"method": ["mf", "cnn"], "precision": [0.8, 0.9], "recall": [0.5, 0.6]}).to_csv(table1)
    for run in ("a", "b"):
        run_completeness_purity(
            stages=STAGES,
            stage="dust",
            metrics=out["metrics"],
            curves=out["curves"],
            table1=table1,
            png=tmp_path / run / "cp.png",
            pdf=tmp_path / run / "cp.pdf",
        )
        run_catalogue_map(
            footprint=FOOTPRINT,
            splits=SPLITS,
            positive=POSITIVE,
            stages=STAGES,
            stage="dust",
            metrics=out["metrics"],
            **{m: out[f"{m}.parquet"] for m in ("mf", "detector", "ens_prod", "ens_learned")},
            halos=tmp_path / "halos.parquet",
            png=tmp_path / run / "map.png",
            pdf=tmp_path / run / "map.pdf",
        )
    for name in ("cp.png", "cp.pdf", "map.png", "map.pdf"):
        assert (tmp_path / "a" / name).stat().st_size > 10_000
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    # a Table 1 without the classifier fails naming the file
    pd.DataFrame({"method": ["mf"], "precision": [0.8], "recall": [0.5]}).to_csv(table1)
    with pytest.raises(io.InputFileError, match="table1.csv"):
        run_completeness_purity(
            stages=STAGES,
            stage="dust",
            metrics=out["metrics"],
            curves=out["curves"],
            table1=table1,
            png=tmp_path / "c.png",
            pdf=tmp_path / "c.pdf",
        )


def test_point_at_takes_the_lowest_threshold_reaching_the_validation_one():
    curve = pd.DataFrame({"threshold": [1.0, 2.0, 3.0], "completeness": [0.9, 0.5, 0.1]})
    assert point_at(curve, 1.5)["completeness"] == 0.5 and point_at(curve, 3.5) is None
