"""K-fold RA stripes: the rotated layout, its config checks, and the kfold target's Table 1."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.config import ConfigError, validate_config
from skyhunt.cutouts.layout import assign_splits, cutout_layout, split_of
from skyhunt.cutouts.pipeline import INDEX_UNITS
from skyhunt.evaluation.comparison import TABLE1_COLUMNS
from skyhunt.evaluation.kfold import run_kfold_table1
from skyhunt.sky.footprint import Footprint
from tests.conftest import shipped_config, small_config, snakemake, write_config

METHODS = ["mf", "cnn", "and", "prod", "learned"]


def fold_config(cfg: dict, fold: int, folds: int = 3, guard_arcmin: float = 0.0) -> dict:
    """``cfg`` as fold ``fold`` of ``folds``: the stripes, kfold.folds and the fold's results_dir."""
    cfg = copy.deepcopy(cfg)
    cfg["cutouts"]["splits"].update(
        folds=folds, fold=fold, test_max=1 / folds, validation_max=2 / folds, guard_arcmin=guard_arcmin
    )
    cfg["kfold"]["folds"] = folds
    cfg["results_dir"] = f"results/folds/k{fold}"
    return validate_config(cfg)


def fold_layouts(cfg: dict, folds: int, guard_arcmin: float = 0.0) -> list:
    """The cutout layout of every fold of ``cfg``."""
    out = []
    for k in range(folds):
        c = fold_config(cfg, k, folds, guard_arcmin)
        out.append(cutout_layout(c["sky"]["footprint"], c["sky"]["nside"], c["cutouts"]))
    return out


# ---------------------------------------------------------------------------------------------
# the rotated stripes


@pytest.mark.parametrize(("folds", "guard_arcmin"), [(3, 0.0), (5, 0.0), (5, 7.0)])
def test_every_centre_is_test_once_and_validation_once_over_the_folds(folds, guard_arcmin):
    cfg = shipped_config()
    layouts = fold_layouts(cfg, folds, guard_arcmin)
    split = np.array([lay.split for lay in layouts])  # (folds, centres)
    ra = layouts[0].grid.ra
    fp = cfg["sky"]["footprint"]
    span = fp["ra_max"] - fp["ra_min"]
    stripe = np.clip(np.floor((ra - fp["ra_min"]) / span * folds).astype(int), 0, folds - 1)
    inner = fp["ra_min"] + span * np.arange(1, folds) / folds
    guard = np.min(np.abs(ra[:, None] - inner[None, :]), axis=1) < guard_arcmin / 60.0
    assert guard.any() == (guard_arcmin > 0)
    # a guard centre is guard in every fold, and the others are in one set per fold
    np.testing.assert_array_equal(split == "guard", np.broadcast_to(guard, split.shape))
    keep = ~guard
    assert (np.sum(split[:, keep] == "test", axis=0) == 1).all()
    assert (np.sum(split[:, keep] == "validation", axis=0) == 1).all()
    assert (np.sum(split[:, keep] == "train", axis=0) == folds - 2).all()
    for k in range(folds):
        # fold k: test on stripe k, validation on the next (wrapping), train on the rest
        want = np.where(stripe == k, "test", np.where(stripe == (k + 1) % folds, "validation", "train"))
        np.testing.assert_array_equal(split[k, keep], want[keep])
    # the last fold validates on stripe 0: its training set is one piece between the two
    last = split[-1]
    assert ra[last == "validation"].max() < ra[last == "train"].min()
    assert ra[last == "train"].max() < ra[last == "test"].min()


def test_one_fold_reproduces_the_fixed_stripes():
    """folds = 1 is DeepSZ's split of the shipped config (test < 0.13, validation < 0.2), exactly."""
    cfg = shipped_config()
    fp, cutouts = cfg["sky"]["footprint"], cfg["cutouts"]
    assert cutouts["splits"]["folds"] == 1
    layout = cutout_layout(fp, cfg["sky"]["nside"], cutouts)
    frac = (layout.grid.ra - fp["ra_min"]) / (fp["ra_max"] - fp["ra_min"])
    want = np.where(frac < 0.13, "test", np.where(frac < 0.2, "validation", "train"))
    np.testing.assert_array_equal(layout.split, want)
    np.testing.assert_array_equal(
        layout.split, assign_splits(layout.grid.ra, fp["ra_min"], fp["ra_max"], 0.13, 0.2)
    )
    # the splits without the fold keys (as the default run's cutouts job gets them) agree
    old = {k: cutouts["splits"][k] for k in ("test_max", "validation_max", "guard_arcmin")}
    box = Footprint.from_config(fp)
    np.testing.assert_array_equal(split_of(layout.grid.ra, box, old), layout.split)


def test_split_of_any_position_follows_the_fold():
    """Positions between and beyond the centres: the stripe they lie in, edges to the higher stripe."""
    fp = Footprint.from_config({"ra_min": 10.0, "ra_max": 16.0, "dec_min": 0.0, "dec_max": 1.0})
    splits = {"test_max": 0.25, "validation_max": 0.5, "guard_arcmin": 0.0, "folds": 4, "fold": 3}
    ra = np.array([9.0, 10.0, 11.4, 11.5, 13.0, 14.4, 14.5, 16.0, 17.0])
    got = split_of(ra, fp, splits)
    assert list(got) == ["validation"] * 3 + ["train"] * 3 + ["test"] * 3


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"folds": 2},
            "config key 'cutouts.splits.folds': expected 1 (DeepSZ's fixed stripes) or at least 3",
        ),
        ({"fold": 3}, "config key 'cutouts.splits.fold': expected a fold below cutouts.splits.folds = 3"),
        (
            {"fold": 1, "folds": 1},
            "config key 'cutouts.splits.fold': expected a fold below cutouts.splits.folds = 1",
        ),
        ({"test_max": 0.13}, "config key 'cutouts.splits.test_max': expected 1/folds = 0.333333"),
        ({"validation_max": 0.6}, "config key 'cutouts.splits.validation_max': expected 2/folds = 0.666667"),
        ({"kfold": 5}, "config key 'kfold.folds': expected cutouts.splits.folds = 3"),
        ({"results_dir": "results"}, "config key 'results_dir': expected 'results/folds/k1'"),
        (
            {"folds": 40, "test_max": 0.025, "validation_max": 0.05, "kfold": 40},
            "config key 'cutouts.splits.folds': expected RA stripes that each hold at least one cutout, "
            "got 40, which leaves the test stripe of fold 1, RA 10.050 to 10.100 deg (3.0' wide)",
        ),
    ],
)
def test_bad_fold_keys_fail_naming_them(change, problem):
    cfg = fold_config(small_config(), 1)
    change = dict(change)
    if "kfold" in change:
        cfg["kfold"]["folds"] = change.pop("kfold")
    if "results_dir" in change:
        cfg["results_dir"] = change.pop("results_dir")
    cfg["cutouts"]["splits"].update(change)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert info.value.problems[0].startswith(problem), info.value.problems


# ---------------------------------------------------------------------------------------------
# the kfold target


def fake_fold(root, fold: int, folds: int, cfg: dict, f1: dict, positives: int = 50) -> None:
    """A fold run in root/results/folds/k<fold>: its Table 1 (F1 per method from ``f1``, with
    counts that give it on ``positives`` test positives) and a cutout index with the fold's real splits."""
    c = fold_config(cfg, fold, folds)
    run = root / c["results_dir"]
    layout = cutout_layout(c["sky"]["footprint"], c["sky"]["nside"], c["cutouts"])
    columns = {
        "cutout_id": np.arange(len(layout.split)),
        "ra": layout.grid.ra,
        "dec": layout.grid.dec,
        "split": layout.split,
    }
    (run / "cutouts").mkdir(parents=True)
    io.write_table(run / "cutouts" / "index.parquet", columns, {k: INDEX_UNITS[k] for k in columns})
    rows = []
    for m in METHODS:
        tp = round(positives * f1[m])  # FP = FN: F1 = TP / positives
        fp = fn = positives - tp
        row = {c: 0.5 for c in TABLE1_COLUMNS} | {"method": m, "threshold": "x"}
        row |= {"tp": tp, "fp": fp, "fn": fn, "tn": 1000}
        row |= {"precision": tp / (tp + fp), "recall": tp / (tp + fn), "f1": 2 * tp / (2 * tp + fp + fn)}
        row |= {"f1_lo": row["f1"] - 0.05, "f1_hi": row["f1"] + 0.05}
        rows.append(row)
    (run / "tables").mkdir()
    pd.DataFrame(rows).to_csv(run / "tables" / "table1.csv", index=False)


#: Test positives of three hand-made folds, and the test F1 of each method in them.
POSITIVES = (50, 100, 50)
F1 = [
    {"mf": 0.60, "cnn": 0.64, "and": 0.66, "prod": 0.62, "learned": 0.70},
    {"mf": 0.76, "cnn": 0.62, "and": 0.74, "prod": 0.72, "learned": 0.78},
    {"mf": 0.70, "cnn": 0.68, "and": 0.72, "prod": 0.66, "learned": 0.60},
]


def brute_force(tables: list) -> dict:
    """Mean, sample std, pooled F1 and wins of each method, computed row by row."""
    out = {}
    for m in METHODS:
        f1 = [t.set_index("method").loc[m, "f1"] for t in tables]
        mean = sum(f1) / len(f1)
        std = (sum((x - mean) ** 2 for x in f1) / (len(f1) - 1)) ** 0.5
        tp, fp, fn = (sum(int(t.set_index("method").loc[m, c]) for t in tables) for c in ("tp", "fp", "fn"))
        wins = sum(
            t.set_index("method").loc[m, "f1"]
            > max(t.set_index("method").loc[s, "f1"] for s in ("mf", "cnn"))
            for t in tables
        )
        out[m] = {
            "mean": mean,
            "std": std,
            "min": min(f1),
            "max": max(f1),
            "pooled": 2 * tp / (2 * tp + fp + fn),
            "wins": wins,
        }
    return out


def test_kfold_table_is_the_mean_and_spread_over_the_folds(tmp_path):
    cfg = small_config()
    for k in range(3):
        fake_fold(tmp_path, k, 3, cfg, F1[k], POSITIVES[k])
    runs = [tmp_path / f"results/folds/k{k}" for k in range(3)]
    tables = [pd.read_csv(r / "tables/table1.csv") for r in runs]
    run_kfold_table1(
        folds=[0, 1, 2],
        total=3,
        missing=[],
        tables=[r / "tables/table1.csv" for r in runs],
        indexes=[r / "cutouts/index.parquet" for r in runs],
        csv=tmp_path / "t.csv",
        md=tmp_path / "t.md",
    )
    out = pd.read_csv(tmp_path / "t.csv").set_index("method")
    want = brute_force(tables)
    for m in METHODS:
        for key, col in (
            ("mean", "f1_mean"),
            ("std", "f1_std"),
            ("min", "f1_min"),
            ("max", "f1_max"),
            ("pooled", "f1_pooled"),
        ):
            assert out.loc[m, col] == pytest.approx(want[m][key], abs=1e-6), (m, col)
    assert out.loc[["and", "prod", "learned"], "beats_both"].tolist() == [
        want[m]["wins"] for m in ("and", "prod", "learned")
    ]
    assert out.loc[["and", "prod", "learned"], "beats_both"].tolist() == [2, 0, 2]
    assert out.loc[["mf", "cnn"], "beats_both"].isna().all()
    assert out.loc["learned", "f1_pooled"] == pytest.approx((35 + 78 + 30) / 200)  # fold 1 weighs double
    md = (tmp_path / "t.md").read_text()
    assert "| Learned ensemble | 0.693 ± 0.090 | 0.600–0.780 |" in md
    assert "| 2 of 3 |" in md and "| method | k0 | k1 | k2 |" in md


def test_kfold_refuses_runs_that_are_not_folds(tmp_path):
    cfg = small_config()
    fake_fold(tmp_path, 0, 3, cfg, F1[0])
    fake_fold(tmp_path / "other", 0, 3, cfg, F1[1])  # fold 0 again, posing as fold 1
    runs = [tmp_path / "results/folds/k0", tmp_path / "other/results/folds/k0"]
    with pytest.raises(io.InputFileError, match=r"test cutouts of fold 1 are test in fold 0 too"):
        run_kfold_table1(
            folds=[0, 1],
            total=3,
            missing=[],
            tables=[r / "tables/table1.csv" for r in runs],
            indexes=[r / "cutouts/index.parquet" for r in runs],
            csv=tmp_path / "t.csv",
            md=tmp_path / "t.md",
        )
    assert not (tmp_path / "t.csv").exists()


def test_kfold_target_reads_the_fold_runs_that_exist(tmp_path):
    """`snakemake kfold` on two of three fake fold runs, its report, and a fold run's own plan."""
    cfg = small_config()
    cfg["kfold"]["folds"] = 3
    write_config(tmp_path, cfg)
    for k in (0, 2):
        fake_fold(tmp_path, k, 3, cfg, F1[k])
    proc = snakemake(tmp_path, "kfold")
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = pd.read_csv(tmp_path / "results/kfold/table1.csv").set_index("method")
    assert out.loc["mf", "folds"] == 2
    assert out.loc["mf", "f1_mean"] == pytest.approx((0.60 + 0.70) / 2, abs=0.01)
    md = (tmp_path / "results/kfold/table1.md").read_text()
    assert (
        "Table 1 over 2 of 3 folds" in md
        and "Folds without a run (no tables/table1.csv): results/folds/k1." in md
    )
    assert not (tmp_path / "results/sky").exists(), "the default run is not made"
    report = snakemake(tmp_path, "kfold", "--report", "results/kfold/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "results/kfold/report.html").stat().st_size > 10_000
    # fold 1's own configuration: its run is made, and the other folds' runs are read
    plan = snakemake(
        tmp_path,
        "kfold_table1",
        "--dry-run",
        "--config",
        "results_dir=results/folds/k1",
        "cutouts={splits: {folds: 3, fold: 1, test_max: 0.3333333333, validation_max: 0.6666666667}}",
    )
    assert plan.returncode == 0, plan.stderr[-3000:]
    job = plan.stdout[plan.stdout.index("rule kfold_table1:") :]
    inputs = job[job.index("input:") : job.index("output:")]
    for k in range(3):
        assert f"results/folds/k{k}/tables/table1.csv" in inputs
    assert "rule train_cnn:" in plan.stdout, "fold 1's own run is made"
    assert "results/folds/k1/kfold/table1.csv" in job
