"""Data and training figures (DeepSZ Figs. 1, 4, 7): example choice, sky orientation, colour
scales, outcome classes, the ratio ladder's segments, and one smoke test per figure."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from skyhunt import io
from skyhunt.cnn.readers import HISTORY_COLUMNS, read_history, read_summary
from skyhunt.cutouts.grid import ARCMIN, CutoutGeometry, tan_deproject
from skyhunt.figures import examples, training

from .conftest import shipped_config

NPIX = 32
SIZE = 8.0


def make_index(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """A cutout index: cutouts 0-19 test, 20-29 validation, 30+ train; every fourth positive."""
    rng = np.random.default_rng(seed)
    label = np.arange(n) % 4 == 1
    split = np.where(np.arange(n) < 20, "test", np.where(np.arange(n) < 30, "validation", "train"))
    return pd.DataFrame(
        {
            "cutout_id": np.arange(n, dtype=np.int64) + 100,
            "ra": 1.0 + 0.1 * np.arange(n),
            "dec": np.full(n, 2.0),
            "split": split,
            "dropped": np.zeros(n, bool),
            "label": label.astype(np.int8),
            # cutouts 2 and 6 are negatives with a qualifying halo near their edge
            "n_qualifying_in_cutout": (label | np.isin(np.arange(n), [2, 6])).astype(np.int32),
            "halo_m_vir": np.where(label, rng.uniform(2e14, 6e14, n), np.nan),
            "halo_z": np.where(label, rng.uniform(0.25, 1.5, n), np.nan),
            "halo_dx_arcmin": np.where(label, rng.uniform(-3, 3, n), np.nan),
            "halo_dy_arcmin": np.where(label, rng.uniform(-3, 3, n), np.nan),
        }
    )


def write_index(path, index: pd.DataFrame) -> None:
    io.write_table(path, {c: index[c].to_numpy() for c in index}, {c: "" for c in index})


def cluster_cutouts(index: pd.DataFrame, seed: int = 1) -> np.ndarray:
    """Noise cutouts on a CMB level varying per cutout; each positive holds a Gaussian tSZ decrement
    (-300, -200, 0 µK at 90/148/219 GHz) at its halo offset, in the cutout pixel convention."""
    rng = np.random.default_rng(seed)
    xi, eta = CutoutGeometry(SIZE, NPIX).pixel_offsets()
    x, y = xi / ARCMIN, eta / ARCMIN
    out = rng.normal(0, 10, (len(index), 3, NPIX, NPIX)) + rng.normal(0, 100, (len(index), 1, 1, 1))
    for k in np.flatnonzero(index["label"].to_numpy(bool)):
        blob = np.exp(-((x - index["halo_dx_arcmin"][k]) ** 2 + (y - index["halo_dy_arcmin"][k]) ** 2) / 2)
        out[k] += np.array([-300.0, -200.0, 0.0])[:, None, None] * blob
    return out.astype(np.float32)


def test_cutout_extent_puts_pixels_at_their_sky_offsets():
    """imshow(a, extent=cutout_extent, origin='upper') draws pixel (iy, ix) at its tangent-plane
    offset (east to the left), so halo offsets from the index land on the halo's pixels."""
    geometry = CutoutGeometry(SIZE, NPIX)
    xi, eta = geometry.pixel_offsets()
    left, right, bottom, top = examples.cutout_extent(SIZE)
    idx = np.arange(NPIX) + 0.5
    x_drawn = left + idx[None, :] * (right - left) / NPIX
    y_drawn = top - idx[:, None] * (top - bottom) / NPIX
    np.testing.assert_allclose(np.broadcast_to(x_drawn, xi.shape), xi / ARCMIN, atol=1e-12)
    np.testing.assert_allclose(np.broadcast_to(y_drawn, eta.shape), eta / ARCMIN, atol=1e-12)
    assert left > right  # RA increases to the left


def test_choose_examples():
    index = make_index()
    positive, negative = examples.choose_examples(index, seed=3)
    test_pos = np.flatnonzero((index["split"] == "test") & (index["label"] == 1))
    assert positive == test_pos[np.argmax(index["halo_m_vir"][test_pos])]
    assert index["split"][negative] == "test" and index["label"][negative] == 0
    assert index["n_qualifying_in_cutout"][negative] == 0
    assert examples.choose_examples(index, seed=3) == (positive, negative)  # deterministic
    drawn = {examples.choose_examples(index, seed=s)[1] for s in range(40)}
    assert len(drawn) > 3 and not drawn & {2, 6}  # a real draw, never a negative with a cluster in it
    with pytest.raises(ValueError, match="split 'guard'"):
        examples.choose_examples(index, seed=3, split="guard")


def test_band_scales_share_a_robust_scale_across_stages():
    rng = np.random.default_rng(0)
    stack = np.full((3, 2, NPIX, NPIX), 150.0) + rng.normal(0, 5, (1, 2, NPIX, NPIX))
    stack[:, 0, 10:16, 10:16] -= 200.0  # a decrement in every stage of band 0 (3.5% of its pixels)
    stack[2, :, 3, 3] += 5000.0  # a bright source added by the last stage: one pixel
    centre, halfwidth = examples.band_scales(stack)
    np.testing.assert_allclose(centre, 150.0, atol=1.0)
    assert 190.0 < halfwidth[0] < 220.0  # the decrement is on the scale, the source saturates
    assert halfwidth[1] < 30.0


def test_brightest_halo_is_the_strongest_tsz_inside_the_cutout():
    ra0, dec0 = 30.0, -20.0
    offsets = np.array([[1.5, -2.0], [-3.5, 3.0], [5.0, 0.0], [0.0, 0.5]])  # arcmin east, north
    ra, dec = tan_deproject(ra0, dec0, offsets[:, 0] * ARCMIN, offsets[:, 1] * ARCMIN)
    halos = pd.DataFrame(
        {
            "ra": np.append(ra, (ra0 + 180.0) % 360.0),  # the antipode projects onto the centre
            "dec": np.append(dec, -dec0),
            "m_vir": [3e14, 2e14, 9e14, 1e14, 9e14],
            "z": [0.5, 0.3, 0.2, 2.0, 0.1],
            "y5r500_arcmin2": [1e-5, 2e-5, 9e-5, 1e-6, 9e-5],
        }
    )
    best = examples.brightest_halo(halos, ra0, dec0, SIZE)
    assert best["m_vir"] == 2e14  # the outside and far-side halos are ignored
    np.testing.assert_allclose([best["dx_arcmin"], best["dy_arcmin"]], [-3.5, 3.0], atol=1e-9)
    assert examples.brightest_halo(halos.iloc[[2]], ra0, dec0, SIZE) is None


def scores_for(index: pd.DataFrame, classes: dict) -> pd.DataFrame:
    """Ensemble scores of the validation and test cutouts; test positive k gets the outcome
    classes[k] = (cnn_pos, mf_pos) and PROD score 0.9 - 0.01 * k."""
    part = index[index["split"].isin(["test", "validation"])].reset_index(drop=True)
    n = len(part)
    out = pd.DataFrame(
        {
            "cutout_id": part["cutout_id"],
            "split": part["split"],
            "label": part["label"].astype(bool),
            "cnn": np.linspace(0, 1, n),
            "mf": np.linspace(0, 20, n),
            "prod": np.linspace(0, 0.5, n),
            "cnn_pos": False,
            "mf_pos": False,
            "prod_pos": False,
        }
    )
    for k, (cnn_pos, mf_pos) in classes.items():
        row = out.index[out["cutout_id"] == index["cutout_id"][k]][0]
        out.loc[row, ["cnn_pos", "mf_pos", "prod"]] = [cnn_pos, mf_pos, 0.9 - 0.01 * k]
        out.loc[row, "prod_pos"] = cnn_pos or mf_pos
    return out


def test_outcome_classes_and_median_prod_pick():
    index = make_index()
    # test positives are rows 1, 5, 9, 13, 17
    classes = {1: (True, True), 5: (True, True), 9: (True, True), 13: (False, True), 17: (False, True)}
    outcomes = examples.positive_outcomes(scores_for(index, classes), index)
    assert sorted(outcomes["row"]) == [1, 5, 9, 13, 17]
    np.testing.assert_array_equal(
        outcomes.set_index("row").loc[[1, 9], "halo_m_vir"], index["halo_m_vir"][[1, 9]]
    )
    picks = examples.pick_examples(outcomes)
    assert picks[True, True]["row"] == 5  # median PROD of 0.89, 0.85, 0.81
    assert picks[False, True]["row"] == 17  # the lower of two: 0.73 < 0.77
    assert picks[True, False] is None and picks[False, False] is None
    bad = index.copy()
    bad.loc[5, "label"] = 0
    with pytest.raises(ValueError, match="does not"):
        examples.positive_outcomes(scores_for(index, classes), bad)


def test_rgb_mapping_makes_the_tsz_decrement_bright_in_red_and_green():
    index = make_index()
    cube = examples.relative_to_median(cluster_cutouts(index))
    np.testing.assert_allclose(np.median(cube, axis=(2, 3)), 0.0, atol=1e-3)  # CMB level removed
    halfwidth = examples.rgb_halfwidth(cube)
    assert np.all(halfwidth > 0)
    k = 1  # a positive: its halo is brighter than grey in R and G, grey (noise only) in B
    iy = int(round((NPIX - 1) / 2 - index["halo_dy_arcmin"][k] * NPIX / SIZE))
    ix = int(round((NPIX - 1) / 2 - index["halo_dx_arcmin"][k] * NPIX / SIZE))
    rgb = examples.to_rgb(cube[k], halfwidth)
    assert rgb.shape == (NPIX, NPIX, 3) and rgb.min() >= 0.0 and rgb.max() <= 1.0
    assert rgb[iy, ix, 0] > 0.9 and rgb[iy, ix, 1] > 0.9
    assert abs(rgb[iy - 2 : iy + 3, ix - 2 : ix + 3, 2].mean() - 0.5) < 0.1
    np.testing.assert_allclose(examples.to_rgb(np.zeros((3, 2, 2)), halfwidth), 0.5)
    uniform = np.broadcast_to(np.linspace(-100, 100, 2001)[:, None], (1, 3, 2001, 1))
    np.testing.assert_allclose(examples.rgb_halfwidth(uniform, 50.0), 50.0, rtol=0.01)


def ladder_summary(batches=(10, 5, 8), chosen=2) -> dict:
    return {
        "chosen_ratio": chosen,
        "rungs": [
            {
                "ratio": r,
                "batches": b,
                "best_validation_loss": 0.1,
                "validation_f1": 0.6 if r == chosen else 0.5,
            }
            for r, b in zip(range(1, len(batches) + 1), batches, strict=True)
        ],
    }


def ladder_history(summary: dict) -> pd.DataFrame:
    """Every batch logged for train, every other batch for val; val loss 1/(1 + batch % 7)."""
    total = sum(s["batches"] for s in summary["rungs"])
    ratio = np.repeat([s["ratio"] for s in summary["rungs"]], [s["batches"] for s in summary["rungs"]])
    rows = [(b, ratio[b], "train", 0.5, 0.8, 0.8) for b in range(total)]
    rows += [(b, ratio[b], "val", 1.0 / (1 + b % 7), 0.7, 0.75) for b in range(1, total, 2)]
    return pd.DataFrame(rows, columns=HISTORY_COLUMNS).sort_values(["batch", "split"])


def test_ratio_segments_and_exported_batch():
    summary = ladder_summary()
    segments = training.ratio_segments(summary)
    np.testing.assert_array_equal(segments["start"], [0, 10, 15])
    np.testing.assert_array_equal(segments["stop"], [10, 15, 23])
    np.testing.assert_array_equal(segments["chosen"], [False, True, False])
    # chosen rung: batches 10-14, val logged at 11 and 13; loss 1/(1+4) at 11, 1/(1+6) at 13
    assert training.exported_batch(ladder_history(summary), segments) == 13


def test_bad_training_files_fail_naming_them(tmp_path):
    path = tmp_path / "training.json"
    path.write_text(json.dumps(ladder_summary(chosen=7)))
    with pytest.raises(io.InputFileError, match="training.json"):
        read_summary(path)
    history = tmp_path / "history.csv"
    ladder_history(ladder_summary()).drop(columns="balanced_accuracy").to_csv(history, index=False)
    with pytest.raises(io.InputFileError, match="balanced_accuracy"):
        read_history(history)


@pytest.fixture
def cutout_files(tmp_path):
    """Index, two stages' cutout arrays and a halo table of a small synthetic run."""
    index = make_index()
    write_index(tmp_path / "index.parquet", index)
    base = cluster_cutouts(index)
    paths = []
    for k, name in enumerate(["cmb_tsz", "dust"]):
        stage = base.copy()
        if k:
            stage[:, 2, 5, 5] += 800.0  # a dusty galaxy, brightest at 219 GHz
        paths.append(tmp_path / f"{name}.npy")
        np.save(paths[-1], stage)
    # a sub-threshold halo 1' east and 1' north of every cutout centre
    ra, dec = tan_deproject(index["ra"].to_numpy(), index["dec"].to_numpy(), ARCMIN, ARCMIN)
    halos = {"ra": ra, "dec": dec, "z": np.full(len(ra), 0.5), "m_vir": np.full(len(ra), 5e13)}
    halos["y5r500_arcmin2"] = np.full(len(ra), 1e-6)
    io.write_table(tmp_path / "halos.parquet", halos, {c: "" for c in halos})
    return index, paths


def config_two_stages() -> dict:
    cfg = shipped_config()
    cfg["sky"]["stages"] = [{"name": "cmb_tsz", "add": ["cmb", "tsz"]}, {"name": "dust", "add": ["dust"]}]
    return cfg


def test_cutout_examples_smoke(tmp_path, cutout_files):
    cfg = config_two_stages()
    _, paths = cutout_files
    outs = []
    for run in ("a", "b"):
        png, pdf = tmp_path / f"{run}.png", tmp_path / f"{run}.pdf"
        examples.run_cutout_examples(
            arrays=paths,
            index=tmp_path / "index.parquet",
            halos=tmp_path / "halos.parquet",
            stages=cfg["sky"]["stages"],
            bands=cfg["sky"]["bands"],
            cutouts=cfg["cutouts"],
            seed=cfg["seed"],
            png=png,
            pdf=pdf,
        )
        assert pdf.stat().st_size > 0
        outs.append(png.read_bytes())
    assert outs[0][:8] == b"\x89PNG\r\n\x1a\n" and outs[0] == outs[1]  # same inputs, same bytes


def test_rgb_examples_smoke_with_an_empty_class(tmp_path, cutout_files):
    cfg = config_two_stages()
    index, paths = cutout_files
    classes = {1: (True, True), 5: (True, False), 9: (False, True), 13: (True, True), 17: (True, True)}
    scores = scores_for(index, classes)  # no test positive is missed by both
    io.write_table(tmp_path / "scores.parquet", {c: scores[c].to_numpy() for c in scores}, {})
    args = {"index": tmp_path / "index.parquet", "array": paths[1], "stages": cfg["sky"]["stages"]}
    args |= {"stage": "dust", "bands": cfg["sky"]["bands"], "size_arcmin": cfg["cutouts"]["size_arcmin"]}
    png, pdf = tmp_path / "rgb.png", tmp_path / "rgb.pdf"
    examples.run_rgb_examples(scores=tmp_path / "scores.parquet", **args, png=png, pdf=pdf)
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
    # bad input: no figure at all, and the message names the file and the column
    io.write_table(tmp_path / "bad.parquet", {c: scores[c].to_numpy() for c in scores if c != "mf_pos"}, {})
    with pytest.raises(io.InputFileError, match=r"bad\.parquet.*mf_pos"):
        examples.run_rgb_examples(scores=tmp_path / "bad.parquet", **args, png=tmp_path / "b.png", pdf=pdf)
    assert not (tmp_path / "b.png").exists()


def test_training_history_smoke(tmp_path):
    summary = ladder_summary()
    (tmp_path / "training.json").write_text(json.dumps(summary))
    ladder_history(summary).to_csv(tmp_path / "history.csv", index=False)
    png, pdf = tmp_path / "history.png", tmp_path / "history.pdf"
    stages = shipped_config()["sky"]["stages"]
    training.run_training_history(
        history=tmp_path / "history.csv",
        summary=tmp_path / "training.json",
        stages=stages,
        stage="dust",
        png=png,
        pdf=pdf,
    )
    assert png.stat().st_size > 0 and pdf.stat().st_size > 0
