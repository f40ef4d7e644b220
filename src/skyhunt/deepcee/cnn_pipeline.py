"""The Deep-CEE torch rules: ``train_deepcee`` and ``deepcee_detect``.

The detector is the CNN detector of issue 15 (:mod:`skyhunt.detector`: CenterNet heat maps on a
small U-Net) with three input channels (g, r, i) and one class, ``cluster``, trained from
scratch on the training fields. Deep-CEE (Chan & Stott 2019) fine-tuned a COCO-pretrained
Faster R-CNN; no pretrained weights can be downloaded here. The network sees each band as
asinh(flux / sky rms) (the colour-image stretch of Lupton et al. 2004, in place of Deep-CEE's
square root), then scaled by the training fields' per-band mean and rms (stored in the model).
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.cnn.device import Device
from skyhunt.deepcee.readers import DEEPCEE_DETECTION_UNITS, read_fields
from skyhunt.detector.data import Patches
from skyhunt.detector.peaks import find_peaks, window_pixels
from skyhunt.detector.pipeline import load_detector
from skyhunt.detector.scoring import predict_maps
from skyhunt.detector.training import detector_fingerprint, input_digests, train_detector
from skyhunt.optical.io import tan_wcs

log = logging.getLogger("skyhunt.deepcee")


def stretch(images: np.ndarray, sky_sigma) -> np.ndarray:
    """asinh(flux / sky rms) per band of images (N, 3, H, W), float32."""
    sigma = np.asarray(sky_sigma, float).reshape(1, -1, 1, 1)
    return np.arcsinh(images / sigma).astype(np.float32)


def field_patches(index, images, truth):
    """The detector's :class:`skyhunt.detector.data.Patches` of one split (stretched images, truth pixels)."""
    fields, stack, on, meta = read_fields(index, images, truth)
    objects = pd.DataFrame(
        {
            "patch": on["field_id"].to_numpy(np.int64),
            "y": on["y"],
            "x": on["x"],
            "cls": np.zeros(len(on), np.int64),
        }
    )
    return Patches(stretch(stack, meta["sky_sigma"]), objects), fields, meta


def run_train_deepcee(
    *,
    detector: dict,
    seed: int,
    train_images,
    train_index,
    train_truth,
    validation_images,
    validation_index,
    validation_truth,
    workdir,
    model,
    history,
    summary,
    callbacks=(),
) -> None:
    """Train the detector (one class, g, r, i) on the training fields; validation fields pick the best model.

    Parameters
    ----------
    detector : dict
        Config ``deepcee.detector`` (``architecture``, ``accelerator``, ``sigma_arcsec``, ``training``).
    seed : int
    train_*, validation_* : path-like
        The two splits' fields (:mod:`skyhunt.deepcee.readers`).
    workdir : path-like
        Training state (resumable; :mod:`skyhunt.detector.training`).
    model, history, summary : path-like
        Outputs.
    callbacks : sequence of lightning.Callback
    """
    train, _, meta = field_patches(train_index, train_images, train_truth)
    validation, _, _ = field_patches(validation_index, validation_images, validation_truth)
    sigma_px = np.array([detector["sigma_arcsec"] / meta["pixel_scale_arcsec"]])
    inputs = {"train": [train_images, train_truth], "validation": [validation_images, validation_truth]}
    device = Device.detect(detector["accelerator"])
    fingerprint = detector_fingerprint(
        detector, seed, {"sky_sigma": meta["sky_sigma"]}, device, input_digests(inputs)
    )
    train_detector(
        detector, seed, train, validation, sigma_px, fingerprint, workdir, model, history, summary, callbacks
    )


def run_deepcee_detect(*, detector: dict, model, images, index, truth, detections) -> None:
    """Run the trained detector on the test fields and write its peaks (:data:`DEEPCEE_DETECTION_UNITS`).

    Parameters
    ----------
    detector : dict
        Config ``deepcee.detector`` (``accelerator``, ``peaks``: ``prob_min``, ``nms_arcsec``).
    model : path-like
        The checkpoint of ``train_deepcee``.
    images, index, truth : path-like
        The test fields.
    detections : path-like
        Output, by field then decreasing ``prob``.
    """
    patches, fields, meta = field_patches(index, images, truth)
    module = load_detector(model, detector["accelerator"])
    scale, npix = meta["pixel_scale_arcsec"], meta["npix"]
    window = window_pixels(detector["peaks"]["nms_arcsec"], scale)
    rows = []
    for start in range(0, len(fields), 16):
        heat, offset = predict_maps(module, patches.images[start : start + 16])
        for k in range(len(heat)):
            f = fields.iloc[start + k]
            peak = find_peaks(heat[k], offset[k], detector["peaks"]["prob_min"], window)
            ra, dec = tan_wcs(f["ra"], f["dec"], npix, scale).all_pix2world(peak["x"], peak["y"], 0)
            rows.append(
                pd.DataFrame(
                    {
                        "field_id": int(f["field_id"]),
                        "ra": ra,
                        "dec": dec,
                        "x": peak["x"],
                        "y": peak["y"],
                        "prob": peak["prob"].astype(float),
                    }
                )
            )
    det = pd.concat(rows, ignore_index=True).sort_values(
        ["field_id", "prob"], ascending=[True, False], kind="stable"
    )
    io.write_table(
        detections, {k: det[k].to_numpy() for k in DEEPCEE_DETECTION_UNITS}, DEEPCEE_DETECTION_UNITS
    )
    log.info(
        "%d detections on %d test fields (prob >= %g)", len(det), len(fields), detector["peaks"]["prob_min"]
    )
