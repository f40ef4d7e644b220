"""The ``cutouts`` rule: staggered cutouts of every noise stage, labels and splits (DeepSZ 1.2)."""

from __future__ import annotations

import contextlib
import logging
import time

import numpy as np

from skyhunt import io
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.labels import label_cutouts, training_drops
from skyhunt.cutouts.layout import cutout_layout
from skyhunt.sky.readers import HALO_CUT_COLUMNS, read_halos

log = logging.getLogger("skyhunt.cutouts")

#: Cutouts extracted at a time before they are appended to the stage files.
BLOCK = 256

#: Units of the cutout index columns.
INDEX_UNITS = {
    "cutout_id": "",
    "ra": "deg",
    "dec": "deg",
    "grid_row": "",
    "grid_col": "",
    "split": "",
    "dropped": "",
    "label": "",
    "n_qualifying": "",
    "halo_id": "",
    "halo_m_vir": "M_sun",
    "halo_z": "",
    "halo_dx_arcmin": "arcmin (east of centre)",
    "halo_dy_arcmin": "arcmin (north of centre)",
    "n_qualifying_in_cutout": "",
}


def run_cutouts(
    *,
    footprint: dict,
    nside: int,
    bands: list,
    stages: list,
    cutouts: dict,
    maps: list,
    halos,
    index,
    arrays: list,
    threads: int = 1,
) -> None:
    """Cut every noise stage into staggered cutouts; write one array per stage and the index.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    nside : int
        HEALPix resolution of the maps.
    bands, stages : list of str
        Band and noise-stage names, in config order.
    cutouts : dict
        Config ``cutouts``.
    maps : list of path-like
        Observed maps, stage-major: every band of the first stage, then of the next.
    halos : path-like
        Halo table.
    index : path-like
        Output Parquet index, one row per cutout in array order.
    arrays : list of path-like
        Output ``.npy`` file per stage, of shape (N, nbands, npix, npix), float32, µK_CMB.
    threads : int
        Threads for the extraction.
    """
    if len(maps) != len(stages) * len(bands):
        raise ValueError(f"run_cutouts: {len(maps)} maps for {len(stages)} stages x {len(bands)} bands")
    stage_paths = dict(zip(stages, arrays, strict=True))
    cc, positive = cutouts, cutouts["positive"]
    layout = cutout_layout(footprint, nside, cc)
    grid, geometry, split = layout.grid, layout.geometry, layout.split
    halo_table = read_halos(halos, HALO_CUT_COLUMNS)
    labels = label_cutouts(
        grid,
        geometry,
        halo_table,
        cc["central_arcmin"],
        positive["m_vir_min"],
        positive["z_min"],
        unique=cc["stride_arcmin"] >= cc["central_arcmin"],
    )
    dropped = training_drops(grid, labels, split)

    shape = (len(bands), geometry.npix, geometry.npix)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False}
    # one stage at a time: only its band maps are in memory (not every stage's), and a block of
    # cutouts at a time into a reused buffer is appended to the stage's .npy file, so memory
    # grows with one stage's maps and not with the grid; plain writes are faster than memmaps
    buffer = np.empty((BLOCK, *shape), dtype=np.float32)
    nb = len(bands)
    interp = pixels = None
    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:
        for k, s in enumerate(stages):
            stage_maps = maps[k * nb : (k + 1) * nb]
            stage_pixels, values = io.read_partial_maps(stage_maps, nside)
            if interp is None:
                pixels, interp = stage_pixels, PatchInterpolator(nside, stage_pixels)
            elif not np.array_equal(stage_pixels, pixels):
                raise io.InputFileError(f"map file {stage_maps[0]} covers different pixels from {maps[0]}")
            del stage_pixels
            tmp = stack.enter_context(io.atomic_output(stage_paths[s]))
            with open(tmp, "wb") as f:
                np.lib.format.write_array_header_1_0(f, {**header, "shape": (len(grid), *shape)})
                for start in range(0, len(grid), BLOCK):
                    sel = slice(start, start + BLOCK)
                    n = grid.ra[sel].size
                    extract_cutouts(
                        interp,
                        values,
                        grid.ra[sel],
                        grid.dec[sel],
                        geometry,
                        cc["interpolation"],
                        out=buffer[:n],
                        threads=max(int(threads), 1),
                    )
                    f.write(buffer[:n].data)
            del values
    dt = time.perf_counter() - t0
    log.info(
        "cut %d cutouts x %d stages in %.1f s (%.0f cutouts/s per stage)",
        len(grid),
        len(stages),
        dt,
        len(grid) * len(stages) / dt,
    )

    columns = {
        "cutout_id": np.arange(len(grid), dtype=np.int64),
        "ra": grid.ra,
        "dec": grid.dec,
        "grid_row": grid.row.astype(np.int32),
        "grid_col": grid.col.astype(np.int32),
        "split": split,
        "dropped": dropped,
        **{c: labels[c].to_numpy() for c in labels.columns},
    }
    io.write_table(index, columns, INDEX_UNITS, meta={"cutouts": cc, "stages": stages, "bands": bands})
    for name in ("test", "validation", "train"):
        sel = split == name
        log.info(
            "%-10s %6d cutouts, %4d positive, %5d dropped",
            name,
            sel.sum(),
            labels["label"].to_numpy()[sel].sum(),
            dropped[sel].sum(),
        )
    pos = labels["label"].to_numpy() == 1
    log.info(
        "%.2f %% of positives hold more than one qualifying halo",
        100.0 * np.mean(labels["n_qualifying"].to_numpy()[pos] > 1) if pos.any() else 0.0,
    )
