"""The CNN detector (issue 15): targets, peaks, truth classes, and a tiny trained detector on
synthetic blobs of each class painted into small HEALPix maps at nside 8192."""

from __future__ import annotations

import copy
import json
import logging

import numpy as np
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback

from skyhunt import io
from skyhunt.cnn.data import dihedral
from skyhunt.config import validate_config
from skyhunt.detector.module import HeatmapDetector
from skyhunt.detector.objects import CLASSES, class_bands, classify_objects
from skyhunt.detector.peaks import find_peaks
from skyhunt.detector.pipeline import run_detect, run_detector_objects
from skyhunt.detector.scoring import HeatmapScorer, predict_maps
from skyhunt.detector.targets import dihedral_coords, render_targets
from skyhunt.detector.training import run_train_detector
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.spectra import tsz_spectrum
from tests.conftest import shipped_config

NSIDE = 8192
FOOTPRINT = {"ra_min": 10.0, "ra_max": 11.6, "dec_min": -0.8, "dec_max": 0.8}
SPLITS = {"test_max": 0.3, "validation_max": 0.5, "guard_arcmin": 0.0}
#: MF-style tiles: cores of 0.8 deg, so the seams are RA 10.8 and Dec 0 and cross at (10.8, 0).
TILES = {"core_deg": 0.8, "overlap_deg": 0.2, "pixel_arcmin": 0.25, "apodization_arcmin": 5.0}
SEAM_CORNER = (10.8, 0.0)
BANDS = (("090", 90.0), ("148", 148.0), ("219", 219.0))


def separation_arcmin(ra1, dec1, ra2, dec2):
    """Great-circle distance (arcmin) between positions in degrees (broadcasting)."""
    r1, d1, r2, d2 = map(np.radians, (ra1, dec1, ra2, dec2))
    c = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.degrees(np.arccos(np.clip(c, -1.0, 1.0))) * 60.0


# ---------------------------------------------------------------------------------------------
# targets and peaks, exactly


@pytest.mark.parametrize("code", range(8))
def test_targets_follow_flips_and_quarter_turns(code):
    """Heat maps drawn at the transformed coordinates equal the transformed heat maps, so
    augmentation keeps image and targets consistent."""
    rng = np.random.default_rng(code)
    n = 24
    y, x = rng.uniform(2, n - 3, 5), rng.uniform(2, n - 3, 5)
    cls = np.array([0, 1, 2, 3, 0])
    sigma = np.array([2.0, 1.0, 1.0, 2.0])
    heat, _, peak = render_targets(y, x, cls, sigma, n, 4)
    yy, xx = dihedral_coords(y, x, code, n)
    heat2, _, peak2 = render_targets(yy, xx, cls, sigma, n, 4)
    np.testing.assert_allclose(heat2, dihedral(heat[None], np.array([code]))[0], atol=1e-6)
    np.testing.assert_array_equal(peak2, dihedral(peak[None, None], np.array([code]))[0, 0])


def test_peaks_of_targets_are_the_objects():
    """The peak finder recovers the drawn objects' sub-pixel positions and classes exactly from
    their own targets (heat maps and offsets)."""
    rng = np.random.default_rng(3)
    n = 64
    y, x = rng.uniform(4, n - 5, 6), rng.uniform(4, n - 5, 6)
    # keep them apart so every Gaussian has its own peak
    y[:3], x[:3] = [10.3, 30.7, 50.1], [12.2, 40.6, 20.4]
    y[3:], x[3:] = [50.4, 12.9, 33.3], [52.7, 50.2, 10.1]
    cls = np.array([0, 1, 2, 3, 1, 2])
    heat, offset, _ = render_targets(y, x, cls, np.array([4.0, 2.0, 2.0, 4.0]), n, 4)
    found = find_peaks(heat, offset, 0.5, 5)
    order = np.lexsort((found["x"], found["y"]))
    truth = np.lexsort((x, y))
    np.testing.assert_allclose(found["y"][order], y[truth], atol=1e-5)
    np.testing.assert_allclose(found["x"][order], x[truth], atol=1e-5)
    np.testing.assert_array_equal(found["cls"][order], cls[truth])
    np.testing.assert_allclose(found["prob"], 1.0)


# ---------------------------------------------------------------------------------------------
# truth classes


def truth_tables():
    """Halos and sources of a few objects of every kind (see the test below)."""
    halos = pd.DataFrame(
        {
            "halo_id": [0, 1, 2, 3, 4],
            "ra": [10.2, 10.5, 11.0, 11.2, 11.4],
            "dec": [0.0, 0.0, 0.0, 0.3, 0.5],
            "z": [0.5, 0.5, 0.5, 0.1, 0.5],
            "m_vir": [5e14, 5e14, 5e14, 5e14, 1e14],
            "in_footprint": True,
        }
    )
    # radio hosted by halo 0; bright radio 0.5' from halo 1; bright lone radio; faint radio
    # near halo 2; a bright dusty source; a faint dusty one
    sources = pd.DataFrame(
        {
            "ra": [10.2, 10.5 + 0.5 / 60, 10.9, 11.0, 10.7, 10.6],
            "dec": [0.0, 0.0, -0.4, 0.0, 0.4, -0.5],
            "population": ["radio", "radio", "radio", "radio", "ir", "ir"],
            "host_halo_id": [0, -1, -1, -1, -1, -1],
            "flux_090_mjy": [3.0, 2.0, 4.0, 0.5, 0.1, 0.1],
            "flux_148_mjy": [2.0, 1.5, 3.0, 0.3, 2.0, 0.5],
            "flux_219_mjy": [1.5, 1.0, 2.0, 0.2, 8.0, 2.0],
        }
    )
    return halos, sources


def test_truth_classes():
    halos, sources = truth_tables()
    det = shipped_config()["detector"]
    det.update(class_bands(det, [{"name": n, "freq_ghz": f} for n, f in BANDS]))
    assert (det["radio_band"], det["dusty_band"]) == ("090", "219")
    out = classify_objects(
        halos, sources, det, {"m_vir_min": 2e14, "z_min": 0.25}, SPLITS, Footprint.from_config(FOOTPRINT)
    )
    assert out["class"].tolist() == ["cluster_radio", "cluster_radio", "cluster", "radio", "dusty"]
    assert out["halo_id"].tolist() == [0, 1, 2, -1, -1]
    np.testing.assert_allclose(out["flux_mjy"], [3.0, 2.0, np.nan, 4.0, 8.0])
    # RA 10.2 and 10.5 are in the test stripe (below 10.48), 10.5..10.8 validation
    assert out["split"].tolist() == ["test", "validation", "train", "train", "validation"]
    # with a smaller radius the source 0.5' from halo 1 is a lone radio source
    det2 = {**det, "classes_radius_arcmin": 0.1}
    out2 = classify_objects(
        halos, sources, det2, {"m_vir_min": 2e14, "z_min": 0.25}, SPLITS, Footprint.from_config(FOOTPRINT)
    )
    assert out2["class"].tolist() == ["cluster_radio", "cluster", "cluster", "radio", "radio", "dusty"]


# ---------------------------------------------------------------------------------------------
# a tiny trained detector on painted blobs

#: Peak amplitude per band (µK_CMB) of the point sources, Gaussian sigma 0.5'.
RADIO_UK = np.array([400.0, 250.0, 150.0])
DUSTY_UK = np.array([40.0, 120.0, 400.0])
#: Cluster decrement at 90 GHz (µK), beta-model core radius (arcmin), SZ spectrum in the other bands.
CLUSTER_90_UK, CORE_ARCMIN = -150.0, 0.8


def synthetic_sky(tmp, seed=11):
    """Blobs of the four classes on a grid 7' apart (one on the tiles' seam corner), written as
    the maps, halos and sources of a run."""
    rng = np.random.default_rng(seed)
    step = 7.0 / 60.0
    ra_c, dec_c = SEAM_CORNER
    ks = np.arange(-6, 7)
    ra, dec = (a.ravel() for a in np.meshgrid(ra_c + ks * step, dec_c + ks * step))
    jitter = rng.uniform(-0.6, 0.6, (2, ra.size)) / 60.0
    corner = (ra == ra_c) & (dec == dec_c)
    ra, dec = ra + np.where(corner, 0.0, jitter[0]), dec + np.where(corner, 0.0, jitter[1])
    cls = rng.integers(4, size=ra.size)
    cls[corner] = 0
    box = Footprint.from_config(FOOTPRINT)
    pixels = box.pixels(NSIDE)
    import healpy as hp

    pra, pdec = hp.pix2ang(NSIDE, pixels, lonlat=True)
    f = tsz_spectrum(np.array([nu for _, nu in BANDS]))
    cluster_uk = CLUSTER_90_UK * f / f[0]
    maps = rng.normal(0.0, 10.0, (3, pixels.size))
    for r, d, c in zip(ra, dec, cls, strict=True):
        near = np.flatnonzero((np.abs(pdec - d) < 0.1) & (np.abs(pra - r) < 0.1))
        t = separation_arcmin(pra[near], pdec[near], r, d)
        gauss = np.exp(-0.5 * (t / 0.5) ** 2)
        if c in (0, 3):
            maps[:, near] += cluster_uk[:, None] / (1.0 + (t / CORE_ARCMIN) ** 2)
        if c in (1, 3):
            maps[:, near] += RADIO_UK[:, None] * gauss
        if c == 2:
            maps[:, near] += DUSTY_UK[:, None] * gauss
    paths = []
    for b, (name, _) in enumerate(BANDS):
        path = tmp / f"dust_{name}.fits"
        io.write_partial_map(path, pixels, maps[b].astype(np.float32), NSIDE)
        paths.append(path)
    is_cl = np.isin(cls, (0, 3))
    halos = pd.DataFrame(
        {
            "halo_id": np.arange(is_cl.sum()),
            "ra": ra[is_cl],
            "dec": dec[is_cl],
            "z": 0.5,
            "m_vir": 5e14,
            "in_footprint": True,
        }
    )
    host = np.full(ra.size, -1)
    host[is_cl] = np.arange(is_cl.sum())
    is_src = cls != 0
    sources = pd.DataFrame(
        {
            "ra": ra[is_src],
            "dec": dec[is_src],
            "population": np.where(cls[is_src] == 2, "ir", "radio"),
            "host_halo_id": np.where(cls[is_src] == 3, host[is_src], -1),
            "flux_090_mjy": np.where(cls[is_src] == 2, 0.1, 5.0),
            "flux_148_mjy": 1.0,
            "flux_219_mjy": np.where(cls[is_src] == 2, 10.0, 1.0),
        }
    )
    io.write_table(tmp / "halos.parquet", {k: halos[k].to_numpy() for k in halos}, {})
    io.write_table(tmp / "sources.parquet", {k: sources[k].to_numpy() for k in sources}, {})
    truth = pd.DataFrame({"ra": ra, "dec": dec, "class": np.asarray(CLASSES)[cls]})
    return paths, truth


def tiny_detector() -> dict:
    det = copy.deepcopy(shipped_config()["detector"])
    det["patches"].update(
        npix=32, per_object={c: 4 for c in CLASSES}, offset_arcmin=2.5, random_per_deg2=20.0
    )
    det["training"].update(batch_size=16, steps=300, eval_every_steps=100, log_every_steps=10, lr=5e-3)
    det["peaks"].update(prob_min=0.1)
    return validate_config({**shipped_config(), "detector": det})["detector"]


def train_and_detect(tmp, maps, detector, callbacks=()):
    run_detector_objects(
        halos=tmp / "halos.parquet",
        sources=tmp / "sources.parquet",
        detector=detector,
        bands=[{"name": n, "freq_ghz": f} for n, f in BANDS],
        positive={"m_vir_min": 2e14, "z_min": 0.25},
        splits=SPLITS,
        footprint=FOOTPRINT,
        objects=tmp / "objects.parquet",
    )
    common = {"footprint": FOOTPRINT, "nside": NSIDE, "splits": SPLITS}
    run_train_detector(
        maps=maps,
        objects=tmp / "objects.parquet",
        detector=detector,
        seed=5,
        pixel_arcmin=TILES["pixel_arcmin"],
        workdir=tmp / "work",
        model=tmp / "model.ckpt",
        history=tmp / "history.csv",
        summary=tmp / "training.json",
        callbacks=callbacks,
        **common,
    )
    run_detect(
        maps=maps,
        model=tmp / "model.ckpt",
        objects=tmp / "objects.parquet",
        accelerator="cpu",
        peaks=detector["peaks"],
        match_arcmin=1.0,
        tiles=TILES,
        detections=tmp / "detections.parquet",
        **common,
    )
    return io.read_table(tmp / "detections.parquet")[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, one_torch_thread):
    tmp = tmp_path_factory.mktemp("detector")
    maps, truth = synthetic_sky(tmp)
    det = train_and_detect(tmp, maps, tiny_detector())
    return tmp, maps, truth, det


def test_blobs_found_at_their_positions_with_their_class(trained):
    """Every painted object has an entry of its class within 0.5'; every confident entry
    (prob >= 0.5) is one of them."""
    _, _, truth, det = trained
    sep = separation_arcmin(
        truth["ra"].to_numpy()[:, None],
        truth["dec"].to_numpy()[:, None],
        det["ra"].to_numpy()[None],
        det["dec"].to_numpy()[None],
    )
    same = truth["class"].to_numpy()[:, None] == det["class"].to_numpy()[None]
    hit = ((sep < 0.5) & same).any(axis=1)
    missed = truth[~hit]
    assert hit.all(), f"{len(missed)} of {len(truth)} objects missed:\n{missed}"
    confident = det["prob"].to_numpy() >= 0.5
    assert (sep[:, confident].min(axis=0) < 0.5).all()
    assert set(det["split"]) == {"train", "validation", "test"}
    assert np.isfinite(det["pos_err_arcmin"]).all() and (det["pos_err_arcmin"] < 0.5).all()


def test_object_on_a_seam_corner_gives_one_entry(trained):
    """The blob on the corner shared by four tile cores is seen by every tile and kept once."""
    det = trained[3]
    sep = separation_arcmin(det["ra"].to_numpy(), det["dec"].to_numpy(), *SEAM_CORNER)
    assert (sep < 1.0).sum() == 1
    assert det["class"].to_numpy()[np.argmin(sep)] == "cluster"


def test_same_config_same_detections(trained, tmp_path):
    tmp, maps, _, det = trained
    for name in ("halos.parquet", "sources.parquet"):
        (tmp_path / name).write_bytes((tmp / name).read_bytes())
    train_and_detect(tmp_path, maps, tiny_detector())
    for name in ("model.ckpt", "history.csv", "training.json", "detections.parquet", "objects.parquet"):
        assert (tmp_path / name).read_bytes() == (tmp / name).read_bytes(), name


def test_scorer_gives_the_lightning_modules_maps(trained):
    """HeatmapScorer (torch alone) reads the exported model into the very weights and heat maps
    of HeatmapDetector.load_from_checkpoint (that the inference modules import no Lightning:
    tests/test_cnn.py)."""
    tmp = trained[0]
    lightning_module = HeatmapDetector.load_from_checkpoint(tmp / "model.ckpt", map_location="cpu")
    scorer = HeatmapScorer.from_checkpoint(tmp / "model.ckpt")
    assert scorer.state_dict().keys() == lightning_module.state_dict().keys()
    x = np.random.default_rng(0).normal(0.0, 30.0, (2, len(BANDS), 48, 48)).astype(np.float32)
    ours, theirs = predict_maps(scorer, x), predict_maps(lightning_module, x)
    assert all(np.array_equal(a, b) for a, b in zip(ours, theirs, strict=True))


class Kill(Callback):
    """Stops the run like a kill after ``at`` training steps."""

    def __init__(self, at):
        self.at = at

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if trainer.global_step >= self.at:
            raise SystemExit("killed")


def test_killed_training_resumes_identically(trained, tmp_path):
    tmp, maps, _, _ = trained
    for name in ("halos.parquet", "sources.parquet"):
        (tmp_path / name).write_bytes((tmp / name).read_bytes())
    with pytest.raises(SystemExit):
        train_and_detect(tmp_path, maps, tiny_detector(), callbacks=[Kill(150)])
    assert (tmp_path / "work" / "last.ckpt").exists() and not (tmp_path / "model.ckpt").exists()
    assert torch.load(tmp_path / "work" / "last.ckpt", weights_only=True)["global_step"] == 100
    train_and_detect(tmp_path, maps, tiny_detector())
    for name in ("model.ckpt", "history.csv", "training.json", "detections.parquet"):
        assert (tmp_path / name).read_bytes() == (tmp / name).read_bytes(), name


def test_stale_training_state_is_not_reused(trained, tmp_path, caplog):
    """A changed config (here the learning rate) deletes the old state and trains afresh, to
    the result of a fresh run; the same config then reuses it."""
    tmp, maps, _, _ = trained
    for name in ("halos.parquet", "sources.parquet"):
        (tmp_path / name).write_bytes((tmp / name).read_bytes())
    other = tiny_detector()
    other["training"]["lr"] = 1e-3
    with pytest.raises(SystemExit):
        train_and_detect(tmp_path, maps, other, callbacks=[Kill(120)])
    caplog.set_level(logging.INFO, logger="skyhunt.cnn")
    train_and_detect(tmp_path, maps, tiny_detector())
    assert "detector.training.lr: 0.001 -> 0.005" in caplog.text
    assert (tmp_path / "model.ckpt").read_bytes() == (tmp / "model.ckpt").read_bytes()
    recorded = json.loads((tmp_path / "work" / "fingerprint.json").read_text())
    assert recorded["detector"]["training"]["lr"] == 0.005


# ---------------------------------------------------------------------------------------------
# bad inputs


def test_bad_inputs_fail_naming_the_file(trained, tmp_path):
    tmp, maps, _, _ = trained
    det = tiny_detector()
    common = {"footprint": FOOTPRINT, "nside": NSIDE, "splits": SPLITS}

    def detect(maps, objects=tmp / "objects.parquet", model=tmp / "model.ckpt"):
        run_detect(
            maps=maps,
            model=model,
            objects=objects,
            accelerator="cpu",
            peaks=det["peaks"],
            match_arcmin=1.0,
            tiles=TILES,
            detections=tmp_path / "out.parquet",
            **common,
        )

    corrupt = tmp_path / "dust_148.fits"
    data = bytearray(maps[1].read_bytes())
    data[len(data) // 2 : len(data) // 2 + 64] = b"\x7f" * 64
    corrupt.write_bytes(bytes(data))
    with pytest.raises(io.InputFileError, match="dust_148.fits fails its FITS checksum"):
        detect([maps[0], corrupt, maps[2]])
    pixels, values, _ = io.read_partial_map(maps[2])
    values[100] = np.nan
    nan_map = tmp_path / "dust_219.fits"
    io.write_partial_map(nan_map, pixels, values, NSIDE)
    with pytest.raises(io.InputFileError, match="dust_219.fits contains non-finite values"):
        detect([maps[0], maps[1], nan_map])
    objects, _ = io.read_table(tmp / "objects.parquet")
    io.write_table(
        tmp_path / "objects.parquet", {k: objects[k].to_numpy() for k in ("ra", "dec", "split")}, {}
    )
    with pytest.raises(io.InputFileError, match=r"objects.parquet lacks columns \['class'\]"):
        detect(maps, objects=tmp_path / "objects.parquet")
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(io.InputFileError, match="junk.ckpt: not a readable skyhunt detector checkpoint"):
        detect(maps, model=tmp_path / "junk.ckpt")
    halos, _ = io.read_table(tmp / "halos.parquet")
    io.write_table(tmp_path / "halos.parquet", {k: halos[k].to_numpy() for k in ("halo_id", "ra", "dec")}, {})
    with pytest.raises(
        io.InputFileError, match=r"halos.parquet lacks columns \['z', 'm_vir', 'in_footprint'\]"
    ):
        run_detector_objects(
            halos=tmp_path / "halos.parquet",
            sources=tmp / "sources.parquet",
            detector=det,
            bands=[{"name": n, "freq_ghz": f} for n, f in BANDS],
            positive={"m_vir_min": 2e14, "z_min": 0.25},
            splits=SPLITS,
            footprint=FOOTPRINT,
            objects=tmp_path / "o.parquet",
        )


def test_config_checks_the_detector_keys():
    from skyhunt.config import ConfigError

    cfg = shipped_config()
    cfg["detector"]["radio_band"] = "030"
    cfg["detector"]["training"]["steps"] = 150
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert (
        "config key 'detector.radio_band': expected the name of a band in sky.bands (090, 148, 219)"
        in str(err.value)
    )
    assert "config key 'detector.training.steps': expected a multiple of" in str(err.value)
