"""Vetting of the MF candidates (issue 17): truth labels and reasons, features, both vetters."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from skyhunt import io
from skyhunt.cutouts.grid import CutoutGeometry, tan_deproject
from skyhunt.sky.footprint import Footprint
from skyhunt.vetting import pipeline, training
from skyhunt.vetting.classical import classical_scores, fit_classical
from skyhunt.vetting.features import DISTANCE_CAP_ARCMIN, candidate_features
from skyhunt.vetting.labels import label_candidates, resolve_labels
from skyhunt.vetting.models import DeepShadows, VetterScorer, build_vetter, predict_logits
from skyhunt.vetting.module import CandidateVetter

LABELS = {
    "m_vir_min": 2e14,
    "z_min": 0.25,
    "low_m_vir_min": 5e13,
    "match_arcmin": 1.0,
    "source_flux_mjy": 5.0,
    "source_arcmin": 1.0,
    "sidelobe_arcmin": 6.0,
}
ARCMIN_DEG = 1.0 / 60.0


def toy_truth():
    """Six candidates along Dec 0, one per reason (and a heavy halo at too low a redshift)."""
    cand = pd.DataFrame(
        {
            "ra": [1.0, 1.0 + 4 * ARCMIN_DEG, 2.0, 3.0, 4.0, 5.0],
            "dec": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            "snr": [20.0, 4.0, 5.0, 6.0, 4.5, 5.5],
        }
    )
    halos = pd.DataFrame(
        {
            "halo_id": [10, 11, 12, 13],
            # real at candidate 0 (0.5' off); light at 2; a heavy but z < z_min one at 5; a light one
            # 3' from candidate 3 (beyond the match radius)
            "ra": [1.0 + 0.5 * ARCMIN_DEG, 2.0, 5.0, 3.0 + 3 * ARCMIN_DEG],
            "dec": [0.0, 0.0, 0.0, 0.0],
            "m_vir": [5e14, 8e13, 5e14, 8e13],
            "z": [0.5, 0.5, 0.1, 0.5],
        }
    )
    sources = pd.DataFrame(
        {
            "ra": [3.0 + 0.5 * ARCMIN_DEG, 4.0 + 0.5 * ARCMIN_DEG],
            "dec": [0.0, 0.0],
            "flux_090_mjy": [8.0, 1.0],  # bright near candidate 3; faint near candidate 4
            "flux_148_mjy": [6.0, 2.0],
        }
    )
    return cand, halos, sources


def test_labels_give_each_reason_from_the_truth():
    cand, halos, sources = toy_truth()
    out = label_candidates(cand, halos, sources, LABELS)
    assert out["reason"].tolist() == [
        "cluster",  # a qualifying halo 0.5' away
        "side_lobe",  # 4' from the brighter real cluster, no halo of its own
        "low_mass_halo",  # an 8e13 M_sun halo on it
        "point_source",  # an 8 mJy source 0.5' away (the light halo is 3' away)
        "noise",  # only a faint source
        "low_mass_halo",  # a heavy halo but at z 0.1 < z_min: not qualifying, still a halo
    ]
    assert out["label"].tolist() == [1, 0, 0, 0, 0, 0]
    assert out["halo_id"].tolist() == [10, -1, 11, -1, -1, 12]
    assert out["source_arcmin"][3] == pytest.approx(0.5, rel=1e-6)
    # a lower real-cluster mass makes the light halo real
    light = label_candidates(cand, halos, sources, {**LABELS, "m_vir_min": 5e13})
    assert light["reason"][2] == "cluster"


def test_null_label_thresholds_come_from_cutouts_positive():
    out = resolve_labels({**LABELS, "m_vir_min": None, "z_min": None}, {"m_vir_min": 3e14, "z_min": 0.1})
    assert (out["m_vir_min"], out["z_min"]) == (3e14, 0.1)


def test_features_are_the_mf_outputs_and_distances():
    cand, _, _ = toy_truth()
    cand = cand.assign(
        scale_index=[3, 0, 1, 0, 0, 2],
        y0=cand["snr"] * 2e-6,
        y0_fixed=1e-5,
        snr_fixed=cand["snr"] - 1,
        snr_s00=cand["snr"] - 0.5,
        snr_s01=cand["snr"] - 0.2,
    )
    removed = pd.DataFrame({"ra": [2.0 + 2 * ARCMIN_DEG], "dec": [0.0]})
    f = candidate_features(cand, removed)
    np.testing.assert_allclose(f["sigma_y"], 2e-6)
    np.testing.assert_array_equal(f["snr_s01"], cand["snr"] - 0.2)
    assert f["source_arcmin"][2] == pytest.approx(2.0, rel=1e-6)
    assert f["source_arcmin"][0] == DISTANCE_CAP_ARCMIN
    # candidate 1 sits 4' from the brighter candidate 0; candidate 0 has no brighter neighbour
    assert f["brighter_arcmin"][1] == pytest.approx(4.0, rel=1e-6)
    assert f["brighter_snr_ratio"][1] == pytest.approx(0.2)
    assert (f["brighter_arcmin"][0], f["brighter_snr_ratio"][0]) == (DISTANCE_CAP_ARCMIN, 0.0)
    with pytest.raises(ValueError, match="per-scale SNR"):
        candidate_features(cand.drop(columns=["snr_s00", "snr_s01"]), removed)


def test_classical_vetter_separates_a_separable_toy_problem():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 4))
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.8).astype(int)  # a linear boundary in two of four features
    features = pd.DataFrame(x, columns=list("abcd"))
    cfg = {"max_iter": 50, "learning_rate": 0.1, "max_leaf_nodes": 15, "l2_regularization": 0.0}
    model = fit_classical(features.iloc[:400], y[:400], cfg, seed=1)
    p = classical_scores(model, features.iloc[400:])
    accuracy = np.mean((p > 0.5) == y[400:])
    assert accuracy > 0.9
    again = classical_scores(fit_classical(features.iloc[:400], y[:400], cfg, seed=1), features.iloc[400:])
    np.testing.assert_array_equal(p, again)
    with pytest.raises(ValueError, match="both classes"):
        fit_classical(features.iloc[:10], np.zeros(10), cfg, seed=1)


def test_deepshadows_has_the_papers_shape_and_parameters():
    """Tanoglidis et al. 2021 (Table 1) on 64x64x3 images: 4096 features into a dense layer of 1024."""
    net = DeepShadows(3, 64)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32, 64]
    assert [m.p for m in net.modules() if isinstance(m, torch.nn.Dropout)] == [0.4] * 3
    dense = [m for m in net.modules() if isinstance(m, torch.nn.Linear)]
    assert [(d.in_features, d.out_features) for d in dense] == [(4096, 1024), (1024, 1)]
    n = sum(p.numel() for p in net.parameters())
    # convolutions 448 + 4640 + 18496, batch norms 2 x (16 + 32 + 64), dense 4195328 + 1025
    assert n == 4_220_161
    net.eval()
    assert net(torch.zeros(5, 3, 64, 64)).shape == (5,)
    assert build_vetter("deepshadows", 3, 32)(torch.zeros(2, 3, 32, 32)).shape == (2,)
    with pytest.raises(ValueError, match="unknown vetting architecture"):
        build_vetter("resnet", 3, 32)


def test_cutout_centres_stay_inside_the_footprint():
    fp = Footprint(0.0, 2.0, 0.0, 2.0)
    geometry = CutoutGeometry(8.0, 32)
    ra, dec = np.array([1.0, 0.01]), np.array([1.0, 1.0])
    cra, cdec, shift = pipeline.cutout_centres(ra, dec, fp, geometry, 1.0)
    assert (cra[0], cdec[0], shift[0]) == (1.0, 1.0, 0.0)
    reach = geometry.reach_deg(1.0)
    assert cra[1] == pytest.approx(reach / np.cos(np.radians(2.0 - reach)))  # the shrunk box's widest row
    assert shift[1] == pytest.approx((cra[1] - 0.01) * 60 * np.cos(np.radians(1.0)), rel=1e-3)


def toy_vetting_files(tmp_path, n=240, npix=16, seed=0):
    """A vetting table and cutouts: real candidates hold a central decrement, spurious ones a point."""
    rng = np.random.default_rng(seed)
    label = (rng.random(n) < 0.3).astype(np.int8)
    label[:6] = [1, 0, 1, 0, 1, 0]
    split = np.array(["train", "validation", "test"])[np.arange(n) % 3]
    y, x = np.mgrid[:npix, :npix] - (npix - 1) / 2
    blob = -30.0 * np.exp(-(x**2 + y**2) / (2 * 2.0**2))
    point = np.zeros((npix, npix))
    point[npix // 2, npix // 2] = -30.0
    cut = rng.normal(0, 10.0, (n, 3, npix, npix)) + np.where(label[:, None, None, None] == 1, blob, point)
    array = tmp_path / "cutouts.npy"
    np.save(array, cut.astype(np.float32))
    snr = rng.normal(5.0, 1.0, n)
    table = tmp_path / "candidates.parquet"
    columns = {
        "candidate": np.arange(n),
        "split": split,
        "label": label,
        "reason": np.where(label == 1, "cluster", "point_source"),
        "f_snr": snr,
        "f_snr_s00": snr + np.where(label == 1, -1.0, 1.0) + rng.normal(0, 0.3, n),
    }
    io.write_table(table, columns, dict.fromkeys(columns, ""))
    return table, array, label, split


@pytest.mark.usefixtures("one_torch_thread")
def test_cnn_vetter_learns_blobs_from_points_and_both_vetters_are_summarised(tmp_path):
    table, array, label, split = toy_vetting_files(tmp_path)
    cnn = {
        "architecture": "small",
        "batch_size": 16,
        "steps": 60,
        "eval_every_steps": 20,
        "log_every_steps": 10,
        "lr": 1.0,
        "ratio": 1.0,
        "weight_decay": 0.0,
        "augment": True,
    }
    out = tmp_path / "cnn"
    kw = dict(vetting_cnn=cnn, accelerator="cpu", seed=5, table=table, array=array, workdir=out / "work")
    training.run_train_vetter(**kw, model=out / "model.ckpt", history=out / "h.csv", summary=out / "t.json")
    classical = {"max_iter": 30, "learning_rate": 0.1, "max_leaf_nodes": 7, "l2_regularization": 0.0}
    scores, summary = tmp_path / "scores.parquet", tmp_path / "summary.json"
    pipeline.run_vet_candidates(
        classical=classical,
        accelerator="cpu",
        batch_size=32,
        seed=5,
        stage="dust",
        table=table,
        array=array,
        model=out / "model.ckpt",
        scores=scores,
        summary=summary,
    )
    res = json.loads(summary.read_text())
    assert res["methods"]["cnn"]["test_auc"] > 0.95
    assert res["methods"]["classical"]["test_auc"] > 0.9  # snr_s00 separates the classes
    assert res["methods"]["mf_snr"]["test_auc"] < 0.7  # the SNR alone does not
    s, _ = io.read_table(scores)
    np.testing.assert_array_equal(s["label"], label)
    assert np.all((s["p_cnn"] >= 0) & (s["p_cnn"] <= 1))
    # VetterScorer (torch alone) gives CandidateVetter's very logits
    lightning_module = CandidateVetter.load_from_checkpoint(out / "model.ckpt", map_location="cpu")
    scorer = VetterScorer.from_checkpoint(out / "model.ckpt")
    assert scorer.state_dict().keys() == lightning_module.state_dict().keys()
    cutouts = np.load(array, mmap_mode="r")
    logits = predict_logits(scorer, cutouts, 32)
    np.testing.assert_array_equal(logits, predict_logits(lightning_module, cutouts, 32))
    np.testing.assert_array_equal(1.0 / (1.0 + np.exp(-logits)), s["p_cnn"])
    # one class in the training stripe fails naming it
    one = tmp_path / "one"
    one.mkdir()
    t1, a1, _, _ = toy_vetting_files(one)
    t, _ = io.read_table(t1)
    t.loc[t["split"] == "train", "label"] = 0
    io.write_table(t1, {c: t[c].to_numpy() for c in t.columns}, dict.fromkeys(t.columns, ""))
    with pytest.raises(io.InputFileError, match="train stripe"):
        training.run_train_vetter(
            **{**kw, "table": t1, "array": a1, "workdir": one / "w"},
            model=one / "m.ckpt",
            history=one / "h.csv",
            summary=one / "t.json",
        )


@pytest.mark.slow
def test_workflow_vets_the_mf_catalogue_on_cutouts_of_the_cutout_code(two_runs):
    """The default run's vetting outputs: cutouts equal to the cutout code's at the recorded centres,
    labels that agree with the catalogue truth, both vetted catalogues in the catalogue metrics."""
    from skyhunt.catalogues.files import read_catalogue
    from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts

    cfg, (a, _) = two_runs
    stage = cfg["cnn"]["stages"][-1]
    results = a / "results"
    table, array = pipeline.read_vetting(
        results / "vetting" / stage / "candidates.parquet", results / "vetting" / stage / "cutouts.npy"
    )
    cand, _ = io.read_table(results / "mf" / stage / "candidates.parquet")
    assert len(table) == len(cand) > 0
    np.testing.assert_array_equal(table["ra"], cand["ra"])
    inside = table["cutout_offset_arcmin"].to_numpy() == 0
    np.testing.assert_array_equal(table["cutout_ra"][inside], table["ra"][inside])
    maps = [results / "sky" / "observed" / f"{stage}_{b['name']}.fits" for b in cfg["sky"]["bands"]]
    pixels, values = io.read_partial_maps(maps, cfg["sky"]["nside"])
    expected = extract_cutouts(
        PatchInterpolator(cfg["sky"]["nside"], pixels),
        values,
        table["cutout_ra"].to_numpy(),
        table["cutout_dec"].to_numpy(),
        CutoutGeometry.from_config(cfg["cutouts"]),
        cfg["cutouts"]["interpolation"],
    )
    np.testing.assert_array_equal(np.asarray(array), expected)
    # the cutout centre is the candidate: its TAN offsets are 0 at the centre pixel
    ra0, dec0 = tan_deproject(table["cutout_ra"].to_numpy(), table["cutout_dec"].to_numpy(), 0.0, 0.0)
    np.testing.assert_allclose(ra0, table["cutout_ra"], atol=1e-12)
    summary = json.loads((results / "vetting" / stage / "summary.json").read_text())
    assert set(summary["methods"]) == {"mf_snr", "cnn", "classical"}
    metrics = json.loads((results / "catalogues" / "metrics.json").read_text())
    assert {"vetted_cnn", "vetted_classical"} <= set(metrics["methods"])
    vetted = read_catalogue(results / "catalogues" / "vetted_classical.fits", "vetted_classical")
    assert len(vetted) == len(cand)
    assert np.all((vetted["score"] >= 0) & (vetted["score"] <= 1))
    np.testing.assert_array_equal(np.sort(vetted["snr"]), np.sort(cand["snr"]))
