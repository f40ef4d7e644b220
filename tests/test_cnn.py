"""CNN (DeepSZ 2.2): architectures, the S_r sampler, the ratio ladder, resuming, Platt scaling."""

from __future__ import annotations

import copy
import json
import logging
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from skyhunt import io
from skyhunt.cnn.calibration import PlattScaling
from skyhunt.cnn.data import RatioSampler, band_statistics, dihedral, oversampled
from skyhunt.cnn.models import DeepSZResNet, MaxPool2x2, SmallCNN, build_model
from skyhunt.cnn.module import CutoutClassifier, learning_rate
from skyhunt.cnn.pipeline import run_score_cnn
from skyhunt.cnn.scoring import CutoutScorer, predict_scores
from skyhunt.cnn.training import run_train_cnn
from skyhunt.cutouts.arrays import nonfinite_rows
from skyhunt.metrics import f1_curve

from .conftest import shipped_config

NPIX = 16


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_cnn_config() -> dict:
    """The shipped cnn section, shrunk to a ladder of two ratios of a few batches each."""
    cnn = copy.deepcopy(shipped_config()["cnn"])
    cnn["progress_bar"] = False
    cnn["accelerator"] = "cpu"
    cnn["training"].update(
        batch_size=32,
        ratio_start=1,
        ratio_stop=2,
        eval_every_batches=5,
        patience_batches=10,
        max_batches_per_ratio=30,
        log_every_batches=5,
    )
    cnn["optimizer"].update(
        lr_start=0.01, lr=0.03, warmup_batches=10, drop_after_batches=20, lr_after_drop=0.01
    )
    return cnn


def make_dataset(tmp_path, signal_uk: float, seed: int = 0, n: int = 1200, positive_fraction: float = 0.1):
    """White-noise cutouts (3 bands, 10 µK rms); positives carry a central Gaussian decrement of
    ``signal_uk`` at 90 and 148 GHz (none at 219), like an SZ cluster. RA stripes as in DeepSZ."""
    rng = np.random.default_rng(seed)
    label = rng.random(n) < positive_fraction
    x = rng.normal(0.0, 10.0, size=(n, 3, NPIX, NPIX)).astype(np.float32)
    yy, xx = np.mgrid[:NPIX, :NPIX] - (NPIX - 1) / 2
    offset = rng.uniform(-3, 3, size=(n, 2))  # cluster anywhere in the central region
    blob = np.exp(
        -((xx[None] - offset[:, :1, None]) ** 2 + (yy[None] - offset[:, 1:, None]) ** 2) / (2 * 1.5**2)
    )
    for band, scale in enumerate((1.0, 0.6, 0.0)):
        x[:, band] -= (signal_uk * scale * blob * label[:, None, None]).astype(np.float32)
    ra = rng.uniform(0, 10, n)
    split = np.where(ra < 1.3, "test", np.where(ra < 3.0, "validation", "train"))
    index = pd.DataFrame(
        {"cutout_id": np.arange(n), "ra": ra, "split": split, "dropped": np.zeros(n, bool), "label": label}
    )
    np.save(tmp_path / "stage.npy", x)
    io.write_table(
        tmp_path / "index.parquet", {c: index[c].to_numpy() for c in index}, {c: "" for c in index}
    )
    return tmp_path / "stage.npy", tmp_path / "index.parquet", index


def score(cnn: dict, model, array, index, scores) -> None:
    """run_score_cnn with the keys its rule passes from config ``cnn``."""
    run_score_cnn(
        accelerator=cnn["accelerator"],
        batch_size=cnn["training"]["batch_size"],
        model=model,
        array=array,
        index=index,
        scores=scores,
    )


def run_ladder(tmp_path, array, index, cnn, name="run", callbacks=()):
    out = tmp_path / name
    run_train_cnn(
        cnn=cnn,
        seed=11,
        array=array,
        index=index,
        workdir=out / "work",
        model=out / "model.ckpt",
        history=out / "history.csv",
        summary=out / "training.json",
        progress_bar=cnn["progress_bar"],
        callbacks=list(callbacks),
    )
    score(cnn, out / "model.ckpt", array, index, out / "scores.parquet")
    scores, units = io.read_table(out / "scores.parquet")
    return out, scores


def test_deepsz_resnet_follows_the_paper():
    net = DeepSZResNet(in_channels=3, npix=32)
    stem = [m for m in net.features[:2]]
    assert [c[0].kernel_size for c in stem] == [(3, 3), (3, 3)]
    assert [c[0].stride for c in stem] == [(1, 1), (2, 2)]
    assert isinstance(net.features[2], MaxPool2x2)
    blocks = net.features[3:]
    widths = [b.body[0].out_channels for b in blocks]
    assert widths == [64] * 3 + [128] * 4 + [256] * 6  # ResNet-50 stages 1-3; no stage 4
    linear = [m for m in net.head if isinstance(m, torch.nn.Linear)]
    assert [m.out_features for m in linear] == [256, 256, 2]
    assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
    assert build_model("small", 3, 32)(torch.zeros(2, 3, 32, 32)).shape == (2, 2)
    with pytest.raises(ValueError, match="unknown architecture"):
        build_model("resnet18", 3, 32)


@pytest.mark.parametrize("shape", [(3, 4, 8, 8), (2, 3, 7, 9)])
def test_fast_max_pool_is_max_pool2d(shape):
    """MaxPool2x2 gives nn.MaxPool2d(2)'s values and gradients bit for bit, ties included (the
    first maximum of a window in row-major order takes its gradient), and the same training."""
    x = torch.relu(torch.randn(shape, generator=torch.Generator().manual_seed(1))).round()  # many ties
    grad = torch.randn(*shape[:2], shape[2] // 2, shape[3] // 2, generator=torch.Generator().manual_seed(2))
    results = []
    for pool in (torch.nn.MaxPool2d(2), MaxPool2x2()):
        xi = x.clone().requires_grad_()
        out = pool(xi)
        out.backward(grad)
        with torch.no_grad():
            results.append((out.detach(), xi.grad, pool(x)))
    for ours, reference in zip(results[1], results[0], strict=True):
        assert torch.equal(ours, reference)
    assert results[1][1].count_nonzero() == grad.numel()  # one pixel per window gets its gradient

    def trained(swap):
        torch.manual_seed(0)
        net = SmallCNN(3, 16)
        if swap:
            for k, m in enumerate(net.features):
                if isinstance(m, MaxPool2x2):
                    net.features[k] = torch.nn.MaxPool2d(2)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        g = torch.Generator().manual_seed(3)
        for _ in range(5):
            xb, yb = torch.randn(16, 3, 16, 16, generator=g), torch.randint(0, 2, (16,), generator=g)
            loss = torch.nn.functional.cross_entropy(net(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return net.state_dict()

    ours, reference = trained(False), trained(True)
    assert all(torch.equal(ours[k], reference[k]) for k in reference)


def test_models_see_where_the_signal_is():
    """No global pooling: a cutout's label depends on where the cluster sits."""
    torch.manual_seed(0)
    net = SmallCNN(3, 32).eval()
    a = torch.zeros(1, 3, 32, 32)
    b = a.clone()
    a[..., 14:18, 14:18] = 1.0
    b[..., 0:4, 0:4] = 1.0
    assert not torch.allclose(net(a), net(b))


def test_learning_rate_schedule():
    opt = shipped_config()["cnn"]["optimizer"]
    assert learning_rate(0, opt) == pytest.approx(opt["lr_start"])
    mid = opt["warmup_batches"] // 2
    assert learning_rate(mid, opt) == pytest.approx((opt["lr_start"] + opt["lr"]) / 2)
    assert learning_rate(opt["warmup_batches"], opt) == pytest.approx(opt["lr"])
    assert learning_rate(opt["drop_after_batches"] - 1, opt) == pytest.approx(opt["lr"])
    assert learning_rate(opt["drop_after_batches"], opt) == pytest.approx(opt["lr_after_drop"])


@pytest.mark.parametrize("ratio", [1, 5, 20])
def test_sampler_realises_the_ratio(ratio):
    pos, neg = np.arange(0, 30), np.arange(30, 3000)
    sampler = RatioSampler(pos, neg, ratio, batch_size=128, n_batches=200, seed=3, augment=True)
    rows = np.concatenate([r for r, _ in sampler])
    n_pos = np.isin(rows, pos).sum()
    n = len(rows)
    p = 1 / (1 + ratio)
    assert abs(n_pos - n * p) < 4 * np.sqrt(n * p * (1 - p))  # binomial sampling error
    realised = (n - n_pos) / n_pos
    assert realised == pytest.approx(ratio, rel=4 * np.sqrt((1 - p) / (n * p)) / (1 - p))
    assert len(np.unique(rows[np.isin(rows, pos)])) == len(pos)  # every positive is drawn
    # a fresh draw each epoch, and the same draw for the same epoch
    first = [r.copy() for r, _ in sampler]
    sampler.set_epoch(1)
    assert not np.array_equal(np.concatenate([r for r, _ in sampler]), np.concatenate(first))
    sampler.set_epoch(0)
    assert all(np.array_equal(a, b) for a, (b, _) in zip(first, sampler, strict=True))


def test_oversampled_validation_and_augmentation():
    rows = oversampled(np.arange(5), np.arange(5, 405), ratio=4, seed=1)
    assert (rows >= 5).sum() == 400 and (rows < 5).sum() == 100
    x = np.arange(2 * 3 * 4 * 4, dtype=np.float32).reshape(2, 3, 4, 4)
    out = dihedral(x, np.array([1, 6]))
    np.testing.assert_array_equal(out[0], np.rot90(x[0], 1, axes=(-2, -1)))
    np.testing.assert_array_equal(out[1], np.rot90(x[1], 2, axes=(-2, -1))[..., ::-1])


def test_band_statistics_are_streamed_exactly():
    x = np.random.default_rng(2).normal(3.0, 2.0, size=(50, 3, 4, 4)).astype(np.float32)
    rows = np.arange(0, 50, 3)
    mean, std = band_statistics(x, rows, chunk=4)
    np.testing.assert_allclose(mean, x[rows].mean(axis=(0, 2, 3)), rtol=1e-6)
    np.testing.assert_allclose(std, x[rows].std(axis=(0, 2, 3)), rtol=1e-5)


def test_platt_scaling_is_monotone():
    rng = np.random.default_rng(0)
    s = rng.normal(size=5000)
    y = rng.random(5000) < 1 / (1 + np.exp(-(2 * s - 1)))
    platt = PlattScaling.fit(s, y)
    assert platt.slope == pytest.approx(2, rel=0.15) and platt.intercept == pytest.approx(-1, abs=0.15)
    grid = np.linspace(-10, 10, 1001)
    assert np.all(np.diff(platt(grid)) >= 0)
    # anti-correlated scores cannot reverse the ranking: the slope stops at zero
    assert PlattScaling.fit(-s, y).slope == 0.0
    with pytest.raises(ValueError, match="both classes"):
        PlattScaling.fit(s, np.zeros(5000, bool))


def test_f1_curve_is_exact():
    rng = np.random.default_rng(4)
    s = np.round(rng.normal(size=300), 1)  # many ties
    y = rng.random(300) < 0.2
    curve = f1_curve(s, y)
    for t, f in zip(curve.thresholds, curve.f1, strict=True):
        pred = s >= t
        assert f == pytest.approx(2 * (pred & y).sum() / (pred.sum() + y.sum()))
    assert curve.best[1] == pytest.approx(max(curve.f1))


@pytest.fixture(scope="module")
def signal_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("signal")
    array, index, table = make_dataset(tmp, signal_uk=60.0)
    out, scores = run_ladder(tmp, array, index, tiny_cnn_config())
    return tmp, array, index, table, out, scores


def test_scorer_gives_the_lightning_modules_scores(signal_run):
    """CutoutScorer (torch alone) reads the exported model into the very weights and scores of
    CutoutClassifier.load_from_checkpoint, and the inference modules of the classifier, the detector,
    the mass network and the vetter (and Fig. 8's) do not import Lightning."""
    _, array, _, table, out, scores = signal_run
    x = np.load(array, mmap_mode="r")
    rows = np.arange(len(table))
    lightning_module = CutoutClassifier.load_from_checkpoint(out / "model.ckpt", map_location="cpu")
    scorer = CutoutScorer.from_checkpoint(out / "model.ckpt")
    reference = lightning_module.state_dict()
    assert scorer.state_dict().keys() == reference.keys()
    # at the batch size score_cnn used: oneDNN's float32 convolutions depend on the batch's shape
    batch = tiny_cnn_config()["training"]["batch_size"]
    ours, theirs = predict_scores(scorer, x, rows, batch), predict_scores(lightning_module, x, rows, batch)
    assert np.array_equal(ours, theirs) and np.array_equal(ours.astype(np.float64), scores["raw_score"])
    # and no inference module imports Lightning or torchmetrics (one interpreter for all of them)
    modules = (
        "skyhunt.cnn.pipeline, skyhunt.evaluation.edge_scores, skyhunt.detector.pipeline, "
        "skyhunt.masses.cnn_pipeline, skyhunt.vetting.pipeline, skyhunt.figures.noise"
    )
    code = f"import sys, {modules}; sys.exit(any(m in sys.modules for m in ('lightning', 'torchmetrics')))"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_obvious_signal_is_learned(signal_run):
    _, _, _, table, out, scores = signal_run
    val = (scores["split"] == "validation").to_numpy()
    _, f1 = f1_curve(scores["probability"][val], table["label"][val]).best
    assert f1 > 0.9
    history = pd.read_csv(out / "history.csv")
    assert set(history["ratio"]) == {1, 2} and set(history["split"]) == {"train", "val"}
    for _, part in history.groupby("split"):
        assert part["batch"].is_monotonic_increasing


def test_pure_noise_is_not_learned(tmp_path):
    """Same pipeline, labels with no counterpart in the inputs: no leakage, so no skill."""
    array, index, table = make_dataset(tmp_path, signal_uk=0.0)
    _, scores = run_ladder(tmp_path, array, index, tiny_cnn_config())
    test = (scores["split"] == "test").to_numpy()
    val = (scores["split"] == "validation").to_numpy()
    threshold, _ = f1_curve(scores["probability"][val], table["label"][val]).best
    pred, truth = scores["probability"][test] >= threshold, table["label"][test]
    f1 = 2 * (pred & truth).sum() / (pred.sum() + truth.sum())
    assert f1 < 0.4  # an all-positive guess scores 2p / (1 + p) = 0.18 here


def test_same_config_same_scores(signal_run, tmp_path):
    tmp, array, index, _, _, scores = signal_run
    _, again = run_ladder(tmp_path, array, index, tiny_cnn_config())
    np.testing.assert_array_equal(again["raw_score"], scores["raw_score"])


class Interrupt(Callback):
    """Stops the run with an error, like a kill, in rung r = ``ratio``: after ``at`` batches, or
    (``at=None``) once its Trainer has finished, before the rung's result is written."""

    def __init__(self, ratio, at):
        self.ratio, self.at = ratio, at

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.datamodule.ratio == self.ratio and self.at is not None and trainer.global_step >= self.at:
            raise SystemExit("killed")

    def on_train_end(self, trainer, module):
        if trainer.datamodule.ratio == self.ratio and self.at is None:
            raise SystemExit("killed")


def same_weights(a, b) -> bool:
    sa, sb = (torch.load(p, map_location="cpu", weights_only=True)["state_dict"] for p in (a, b))
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize(
    "ratio, at, moved",
    [
        (1, 12, False),
        (1, 23, False),
        (1, None, False),
        (2, 7, False),
        (2, None, False),
        (1, 12, True),
        (1, None, True),
    ],
    ids=[
        "mid-rung-1",
        "mid-rung-1-late",
        "after-rung-1-at-max",
        "mid-rung-2",
        "after-rung-2-stopped",
        "mid-rung-1-moved",
        "after-rung-1-at-max-moved",
    ],
)
def test_killed_training_resumes_identically(signal_run, tmp_path, ratio, at, moved):
    """Also when the killed run's folder is moved before it resumes (``moved``: its checkpoints
    hold the paths of the old folder, which is gone)."""
    _, array, index, _, out, scores = signal_run
    cnn = tiny_cnn_config()
    with pytest.raises(SystemExit):
        run_ladder(tmp_path, array, index, cnn, callbacks=[Interrupt(ratio, at)])
    rung = tmp_path / "run" / "work" / f"r{ratio:02d}"
    assert (rung / "last.ckpt").exists() and not (rung / "rung.json").exists()
    assert not (tmp_path / "run" / "model.ckpt").exists()
    name = "moved" if moved else "run"
    if moved:
        shutil.move(tmp_path / "run", tmp_path / name)
    _, resumed = run_ladder(tmp_path, array, index, cnn, name=name)
    for file in ("history.csv", "training.json", "model.ckpt"):
        assert (tmp_path / name / file).read_bytes() == (out / file).read_bytes(), file
    assert same_weights(tmp_path / name / "model.ckpt", out / "model.ckpt")
    np.testing.assert_array_equal(resumed["raw_score"], scores["raw_score"])


def test_last_checkpoint_is_the_last_evaluation(signal_run):
    out = signal_run[4]
    for record in json.loads((out / "training.json").read_text())["rungs"]:
        last = torch.load(out / "work" / f"r{record['ratio']:02d}" / "last.ckpt", weights_only=True)
        assert last["global_step"] == record["batches"]


def test_stale_checkpoints_are_not_reused(signal_run, tmp_path, caplog):
    """A rerun reuses the rungs made with the same config and inputs and retrains the others,
    so its outputs are those of a fresh run."""
    _, array, index, _, out, _ = signal_run
    caplog.set_level(logging.INFO, logger="skyhunt.cnn")

    def fresh(cnn, name, data=array):
        run_ladder(tmp_path, data, index, cnn, name=name)
        return tmp_path / name

    def rerun(cnn, data=array):
        caplog.clear()
        run_ladder(tmp_path, data, index, cnn, name="reused")
        return [r.getMessage() for r in caplog.records]

    shutil.copytree(out / "work", tmp_path / "reused" / "work")
    cnn = tiny_cnn_config()
    cnn["progress_bar"] = True  # display only
    assert sum("finished earlier" in m for m in rerun(cnn)) == 2
    assert (tmp_path / "reused" / "model.ckpt").read_bytes() == (out / "model.ckpt").read_bytes()

    (tmp_path / "reused" / "work" / "r02" / "fingerprint.json").unlink()  # as in an older layout
    messages = rerun(cnn)
    assert sum("finished earlier" in m for m in messages) == 1
    assert any(m.startswith("r = 2:") and "no readable fingerprint.json" in m for m in messages)
    assert (tmp_path / "reused" / "model.ckpt").read_bytes() == (out / "model.ckpt").read_bytes()

    cnn["optimizer"]["lr"] = 0.02
    messages = rerun(cnn)
    assert any("cnn.optimizer.lr: 0.03 -> 0.02" in m and "and 1 later rung" in m for m in messages)
    assert not any("finished earlier" in m for m in messages)
    assert same_weights(tmp_path / "reused" / "model.ckpt", fresh(cnn, "lr") / "model.ckpt")
    assert not same_weights(tmp_path / "reused" / "model.ckpt", out / "model.ckpt")

    cnn["training"]["ratio_stop"] = 3  # rungs 1 and 2 do not depend on it
    messages = rerun(cnn)
    assert sum("finished earlier" in m for m in messages) == 2
    history = (tmp_path / "reused" / "history.csv").read_bytes()
    assert history == (fresh(cnn, "r3") / "history.csv").read_bytes()

    changed = tmp_path / "changed.npy"
    np.save(changed, np.load(array)[:, :, ::-1].copy())  # same shape, other content
    messages = rerun(cnn, data=changed)
    assert any("inputs.array_sha256" in m for m in messages)
    assert same_weights(tmp_path / "reused" / "model.ckpt", fresh(cnn, "changed", changed) / "model.ckpt")

    small = tmp_path / "small.npy"
    np.save(small, np.load(array)[:, :, 4:12, 4:12].copy())  # cutouts.npix changed
    messages = rerun(cnn, data=small)
    assert not any("finished earlier" in m for m in messages)
    score(cnn, tmp_path / "reused" / "model.ckpt", small, index, tmp_path / "s.parquet")


def test_calibration_uses_validation_only(signal_run, tmp_path):
    _, array, _, table, out, scores = signal_run
    flipped = table.copy()
    test = flipped["split"] != "validation"
    flipped.loc[test, "label"] = ~flipped.loc[test, "label"]
    io.write_table(
        tmp_path / "index.parquet", {c: flipped[c].to_numpy() for c in flipped}, {c: "" for c in flipped}
    )
    score(tiny_cnn_config(), out / "model.ckpt", array, tmp_path / "index.parquet", tmp_path / "s.parquet")
    again, _ = io.read_table(tmp_path / "s.parquet")
    np.testing.assert_array_equal(again["probability"], scores["probability"])


def test_bad_inputs_name_the_file(signal_run, tmp_path):
    _, array, index, _, out, _ = signal_run
    cnn = tiny_cnn_config()
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not an array")
    with pytest.raises(io.InputFileError, match="bad.npy"):
        score(cnn, out / "model.ckpt", bad, index, tmp_path / "s.parquet")
    short = tmp_path / "short.npy"
    np.save(short, np.load(array)[:10])
    with pytest.raises(io.InputFileError, match="short.npy holds 10 cutouts"):
        score(cnn, out / "model.ckpt", short, index, tmp_path / "s.parquet")
    small = tmp_path / "small.npy"
    np.save(small, np.load(array)[:, :, :8, :8])
    with pytest.raises(io.InputFileError, match=r"model.ckpt was trained on cutouts of shape \(3, 16, 16\)"):
        score(cnn, out / "model.ckpt", small, index, tmp_path / "s.parquet")
    with pytest.raises(io.InputFileError, match="junk.ckpt"):
        (tmp_path / "junk.ckpt").write_bytes(b"\0" * 10)
        score(cnn, tmp_path / "junk.ckpt", array, index, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()


def damage(src, dst, offset: int, data: bytes):
    """Copy ``src`` to ``dst`` with ``data`` written at byte ``offset``."""
    raw = bytearray(src.read_bytes())
    raw[offset : offset + len(data)] = data
    dst.write_bytes(bytes(raw))
    return dst


def test_damaged_cutouts_stop_training_and_scoring(signal_run, tmp_path):
    """4 KiB of 0xFF (NaN as float32) in rows 500-501: both jobs stop, naming file and rows."""
    _, array, index, _, out, _ = signal_run
    cnn = tiny_cnn_config()
    header = len(array.read_bytes()) - np.load(array).nbytes
    bad = damage(array, tmp_path / "bad.npy", header + 500 * 3 * NPIX * NPIX * 4, b"\xff" * 4096)
    message = r"bad.npy: 2 of 1200 cutouts hold NaN or infinite values \(rows 500, 501\)"
    with pytest.raises(io.InputFileError, match=message):
        score(cnn, out / "model.ckpt", bad, index, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()
    with pytest.raises(io.InputFileError, match=message):
        run_ladder(tmp_path, bad, index, cnn)
    assert not (tmp_path / "run").exists()
    x = np.load(bad)
    x[7, 2, 0, 0] = np.inf
    for chunk_bytes in (1, 3 * NPIX * NPIX * 4 * 3, 1 << 30):
        np.testing.assert_array_equal(nonfinite_rows(x, chunk_bytes), [7, 500, 501])


def test_damaged_npy_header_names_the_file(signal_run, tmp_path):
    _, array, index, _, out, _ = signal_run
    for name, offset, expected in (
        ("zeroed.npy", 0, "does not start with the .npy magic string"),
        ("header.npy", 10, "cannot read it"),
    ):
        bad = damage(array, tmp_path / name, offset, bytes(100))
        with pytest.raises(io.InputFileError, match=f"{name}: expected a float32 .npy array") as err:
            score(tiny_cnn_config(), out / "model.ckpt", bad, index, tmp_path / "s.parquet")
        assert expected in str(err.value) and "allow_pickle" not in str(err.value)


def test_non_finite_scores_stop_scoring(signal_run, tmp_path):
    _, array, index, _, out, _ = signal_run
    model = torch.load(out / "model.ckpt", weights_only=True)
    bias = next(k for k in model["state_dict"] if k.endswith("bias"))
    model["state_dict"][bias][:] = float("nan")
    torch.save(model, tmp_path / "nan.ckpt")
    with pytest.raises(
        io.InputFileError,
        match=r"nan.ckpt: on the cutouts of .*stage.npy, the model gives NaN or infinite scores for "
        r"1200 of 1200 cutouts \(rows 0, 1, 2, 3, 4, \.\.\.\)",
    ):
        score(tiny_cnn_config(), tmp_path / "nan.ckpt", array, index, tmp_path / "s.parquet")
    assert not (tmp_path / "s.parquet").exists()
