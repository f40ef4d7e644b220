"""The detector's rules ``detector_objects`` and ``detect`` (no Lightning import;
``train_detector``'s step is :func:`skyhunt.detector.training.run_train_detector`)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from skyhunt import io
from skyhunt.cutouts.extract import PatchInterpolator
from skyhunt.cutouts.layout import split_of
from skyhunt.detector.calibration import position_errors
from skyhunt.detector.inference import detect
from skyhunt.detector.objects import (
    CLASSES,
    HALO_COLUMNS,
    OBJECT_UNITS,
    SOURCE_COLUMNS,
    class_bands,
    classify_objects,
)
from skyhunt.mf.tiles import make_layout
from skyhunt.sky import readers
from skyhunt.sky.footprint import Footprint

if TYPE_CHECKING:
    from skyhunt.detector.scoring import HeatmapScorer

log = logging.getLogger("skyhunt.detector")

#: Units of the detection table's columns.
DETECTION_UNITS = {
    "ra": "deg",
    "dec": "deg",
    "class": "",
    "prob": "",
    **{f"p_{c}": "" for c in CLASSES},
    "pos_err_arcmin": "arcmin (1-sigma per axis)",
    "split": "",
    "tile": "",
}

#: Columns of ``objects.parquet`` the training and detection read.
OBJECT_COLUMNS = ("ra", "dec", "class", "split")


def run_detector_objects(
    *, halos, sources, detector: dict, bands: list, positive: dict, splits: dict, footprint: dict, objects
) -> None:
    """Write the truth objects of the four classes (``objects.parquet``, :data:`OBJECT_UNITS`).

    Parameters
    ----------
    halos, sources : path-like
        ``halos.parquet`` and ``sources.parquet``.
    detector : dict
        Config ``detector`` (the class thresholds are read).
    bands : list of dict
        ``sky.bands`` with ``name`` and ``freq_ghz`` (for the default class bands).
    positive, splits, footprint : dict
        Config ``cutouts.positive``, ``cutouts.splits`` and ``sky.footprint``.
    objects : path-like
        Output table.
    """
    detector = {**detector, **class_bands(detector, bands)}
    h = readers.read_halos(halos, HALO_COLUMNS)
    flux = [f"flux_{detector['radio_band']}_mjy", f"flux_{detector['dusty_band']}_mjy"]
    s = readers.read_sources(sources, (*SOURCE_COLUMNS, *flux))
    table = classify_objects(h, s, detector, positive, splits, Footprint.from_config(footprint))
    counts = table["class"].value_counts()
    log.info("truth objects: %s", ", ".join(f"{counts.get(c, 0)} {c}" for c in CLASSES))
    io.write_table(objects, {k: table[k].to_numpy() for k in OBJECT_UNITS}, OBJECT_UNITS)


def read_objects(path):
    """The truth objects of :func:`run_detector_objects`, checked for the columns the detector reads."""
    return io.read_checked_table(path, OBJECT_COLUMNS)


def load_detector(model_path, accelerator: str = "auto") -> HeatmapScorer:
    """The trained detector of ``train_detector``, on the GPU if ``accelerator`` allows one, else CPU
    (read with torch alone, :meth:`HeatmapScorer.from_checkpoint`)."""
    from skyhunt.cnn.device import Device  # torch: only the jobs that run a network import it
    from skyhunt.detector.scoring import HeatmapScorer

    try:
        module = HeatmapScorer.from_checkpoint(model_path)
    except Exception as err:
        raise io.InputFileError(f"{model_path}: not a readable skyhunt detector checkpoint ({err})") from err
    return module.to("cuda" if Device.detect(accelerator).accelerator == "gpu" else "cpu")


def run_detect(
    *,
    maps,
    model,
    objects,
    accelerator: str,
    peaks: dict,
    match_arcmin: float,
    footprint: dict,
    nside: int,
    splits: dict,
    tiles: dict,
    detections,
) -> None:
    """Run the detector over the footprint and write its catalogue (:data:`DETECTION_UNITS`).

    Parameters
    ----------
    maps : list of path-like
        The evaluation stage's observed maps, one per band (µK_CMB).
    model : path-like
        The checkpoint of ``train_detector``.
    objects : path-like
        ``objects.parquet``: only its validation-stripe objects are used, to calibrate the
        position uncertainty (:func:`skyhunt.detector.calibration.position_errors`).
    accelerator : str
        Config ``detector.accelerator``.
    peaks : dict
        Config ``detector.peaks``.
    match_arcmin : float
        Match radius of the calibration (config ``detector.match_arcmin``).
    footprint, splits, tiles : dict
        Config ``sky.footprint``, ``cutouts.splits``, ``mf.tiles``.
    nside : int
    detections : path-like
        Output table, sorted by descending ``prob`` (ties by ra, dec); the calibration is in its
        ``skyhunt`` metadata.
    """
    module = load_detector(model, accelerator)
    pixels, values = io.read_partial_maps([str(m) for m in maps], nside=nside)
    table = read_objects(objects)
    box = Footprint.from_config(footprint)
    layout = make_layout(box, tiles["core_deg"], tiles["overlap_deg"], tiles["pixel_arcmin"])
    found = detect(module, layout, PatchInterpolator(nside, pixels), values, box, peaks)
    found["split"] = split_of(found["ra"].to_numpy(), box, splits).astype(object)
    errors = position_errors(found, table, match_arcmin)
    found["pos_err_arcmin"] = (
        found["class"].map({c: e["pos_err_arcmin"] for c, e in errors.items()}).astype(float)
    )
    for c, e in errors.items():
        log.info(
            "%s: 1-sigma position error %.3f arcmin (%d matched validation entries)",
            c,
            e["pos_err_arcmin"],
            e["matched"],
        )
    io.write_table(
        detections,
        {k: found[k].to_numpy() for k in DETECTION_UNITS},
        DETECTION_UNITS,
        meta={"position_calibration": errors},
    )
