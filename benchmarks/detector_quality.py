"""Time the detector's steps and score its catalogue on a finished default run.

Runs ``detector_objects``, ``train_detector`` and ``detect`` on the maps and tables of an
existing results directory (read only), into a scratch directory, on the given torch threads,
then prints the wall time of each step and the test-stripe completeness and purity at a 1'
match for a few thresholds, for the cluster catalogue (classes cluster and cluster_radio
against the qualifying halos) and per class.

    PYTHONPATH=src python benchmarks/detector_quality.py --results /work/main/results --out /tmp/det
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from skyhunt import io
from skyhunt.config import validate_config
from skyhunt.detector.calibration import match_to_objects
from skyhunt.detector.objects import CLASSES, CLUSTER_CLASSES
from skyhunt.detector.pipeline import run_detect, run_detector_objects
from skyhunt.detector.training import run_train_detector


def scores(det, obj, threshold: float, radius: float, classes) -> tuple:
    """Completeness and purity of the entries of ``classes`` at prob >= threshold on test."""
    d = det[(det["split"] == "test") & (det["prob"] >= threshold) & det["class"].isin(classes)]
    o = obj[(obj["split"] == "test") & obj["class"].isin(classes)]
    rows, _ = match_to_objects(d, o.reset_index(drop=True), radius)
    found = len(set(rows[rows >= 0]))
    return found / max(len(o), 1), float(np.mean(rows >= 0)) if len(d) else float("nan"), len(o), len(d)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--config", type=Path, default=Path("config.yaml"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--stage", default="dust")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    torch.set_num_threads(args.threads)
    cfg = validate_config(yaml.safe_load(args.config.read_text()))
    det_cfg, out = cfg["detector"], args.out
    out.mkdir(parents=True, exist_ok=True)
    maps = [args.results / f"sky/observed/{args.stage}_{b['name']}.fits" for b in cfg["sky"]["bands"]]
    t0, c0 = time.perf_counter(), time.process_time()
    run_detector_objects(
        halos=args.results / "sky/halos.parquet",
        sources=args.results / "sky/sources.parquet",
        detector=det_cfg,
        bands=cfg["sky"]["bands"],
        positive=cfg["cutouts"]["positive"],
        splits=cfg["cutouts"]["splits"],
        footprint=cfg["sky"]["footprint"],
        objects=out / "objects.parquet",
    )
    t1, c1 = time.perf_counter(), time.process_time()
    common = dict(
        footprint=cfg["sky"]["footprint"], nside=cfg["sky"]["nside"], splits=cfg["cutouts"]["splits"]
    )
    run_train_detector(
        maps=maps,
        objects=out / "objects.parquet",
        detector=det_cfg,
        seed=cfg["seed"],
        pixel_arcmin=cfg["mf"]["tiles"]["pixel_arcmin"],
        workdir=out / "checkpoints",
        model=out / "model.ckpt",
        history=out / "history.csv",
        summary=out / "training.json",
        threads=args.threads,
        **common,
    )
    t2, c2 = time.perf_counter(), time.process_time()
    run_detect(
        maps=maps,
        model=out / "model.ckpt",
        objects=out / "objects.parquet",
        accelerator=det_cfg["accelerator"],
        peaks=det_cfg["peaks"],
        match_arcmin=det_cfg["match_arcmin"],
        tiles=cfg["mf"]["tiles"],
        detections=out / "detections.parquet",
        **common,
    )
    t3, c3 = time.perf_counter(), time.process_time()
    print(f"on {args.threads} torch thread(s), wall (CPU) seconds:")
    print(f"  objects {t1 - t0:.1f} ({c1 - c0:.1f}), training {t2 - t1:.1f} ({c2 - c1:.1f})")
    print(f"  detection {t3 - t2:.1f} ({c3 - c2:.1f})")
    det, _ = io.read_table(out / "detections.parquet")
    obj, _ = io.read_table(out / "objects.parquet")
    for name, classes in (("clusters", CLUSTER_CLASSES), *((c, (c,)) for c in CLASSES)):
        for threshold in (0.1, 0.2, 0.3, 0.5):
            c, p, n_obj, n_det = scores(det, obj, threshold, 1.0, list(classes))
            print(
                f"{name:14s} prob >= {threshold:.1f}: completeness {c:.3f} of {n_obj}, "
                f"purity {p:.3f} of {n_det}"
            )


if __name__ == "__main__":
    main()
