"""The detector over the whole footprint, on the matched filter's TAN tiles.

Each tile of :func:`skyhunt.mf.tiles.make_layout` (config ``mf.tiles``) is sampled from the
observed maps by the cutouts' bilinear interpolation (pixels outside the footprint, or closer
to its edge than the interpolation reach, get the training mean, i.e. 0 after scaling), the
network gives its heat maps, and the peaks (:mod:`skyhunt.detector.peaks`) are kept as the MF
keeps its detections: in the tile's own core or up to ``SEAM_ARCMIN`` outside it, then one
per object across seams (:func:`skyhunt.mf.search.deduplicate_seams`: of sightings of
different tiles within 1', the one deepest inside its own core).
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from skyhunt.cutouts.extract import PatchInterpolator, interpolate_at
from skyhunt.cutouts.grid import interpolation_reach_arcmin
from skyhunt.detector.objects import CLASSES
from skyhunt.detector.peaks import find_peaks, window_pixels
from skyhunt.mf.search import SEAM_ARCMIN, core_depth_arcmin, deduplicate_seams
from skyhunt.mf.tiles import TileLayout, inside_mask
from skyhunt.sky.footprint import Footprint

log = logging.getLogger("skyhunt.detector")


def tile_image(
    layout: TileLayout, tile, interp: PatchInterpolator, maps: np.ndarray, footprint, fill
) -> tuple:
    """A tile's maps (bands, npix, npix) in µK_CMB, and the mask of pixels with map data."""
    ra, dec = layout.pixel_positions(tile)
    valid = inside_mask(footprint, ra, dec, interpolation_reach_arcmin(interp.nside))
    nb = maps.shape[1]
    flat = np.repeat(np.asarray(fill, np.float32)[:, None], layout.npix * layout.npix, axis=1)
    v = valid.ravel()
    flat[:, v] = interpolate_at(interp, maps, ra.ravel()[v], dec.ravel()[v]).T
    return flat.reshape(nb, layout.npix, layout.npix), valid


def detect(
    module, layout: TileLayout, interp: PatchInterpolator, maps: np.ndarray, footprint: Footprint, peaks: dict
) -> pd.DataFrame:
    """Heat-map peaks over the footprint, one row per object.

    Parameters
    ----------
    module : skyhunt.detector.scoring.HeatmapScorer or skyhunt.detector.module.HeatmapDetector
    layout : TileLayout
    interp : PatchInterpolator
    maps : ndarray, shape (npix, bands), float32
        The observed partial maps, µK_CMB.
    footprint : Footprint
    peaks : dict
        Config ``detector.peaks`` (``prob_min``, ``nms_arcmin``).

    Returns
    -------
    pandas.DataFrame
        ``ra``, ``dec`` (deg), ``class``, ``prob``, ``p_<class>``, ``tile``; sorted by
        descending ``prob``, ties by ra, dec.
    """
    from skyhunt.detector.scoring import predict_maps  # torch: only the jobs that run a network import it

    fill = module.band_mean.flatten().cpu().numpy()
    window = window_pixels(peaks["nms_arcmin"], layout.pixel_arcmin)
    reach = interpolation_reach_arcmin(interp.nside)
    parts = []
    t0 = time.perf_counter()
    for tile in layout.tiles:
        image, valid = tile_image(layout, tile, interp, maps, footprint, fill)
        heat, offset = predict_maps(module, image[None])
        found = find_peaks(heat[0], offset[0], peaks["prob_min"], window)
        ra, dec = layout.sky_of(tile, found["y"], found["x"])
        depth = core_depth_arcmin(tile, ra, dec)
        keep = (depth > -SEAM_ARCMIN) & inside_mask(footprint, ra, dec, reach)
        table = {
            "ra": ra,
            "dec": dec,
            "class": np.asarray(CLASSES, dtype=object)[found["cls"]],
            "prob": found["prob"],
        }
        table.update({f"p_{c}": found["p"][:, k] for k, c in enumerate(CLASSES)})
        table.update(tile=np.full(len(ra), tile.index, dtype=np.int64), depth=depth)
        parts.append(pd.DataFrame(table)[keep])
    columns = ["ra", "dec", "class", "prob", *(f"p_{c}" for c in CLASSES), "tile", "depth"]
    found = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    found = found[deduplicate_seams(found)].drop(columns="depth")
    log.info(
        "%d tiles of %d^2 pixels in %.1f s: %d peaks above %.2f",
        len(layout.tiles),
        layout.npix,
        time.perf_counter() - t0,
        len(found),
        peaks["prob_min"],
    )
    return found.sort_values(["prob", "ra", "dec"], ascending=[False, True, True], ignore_index=True)
