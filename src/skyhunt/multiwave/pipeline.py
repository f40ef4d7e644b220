"""The Kosiba rules (issue 18; ``snakemake kosiba``): the candidates' cutouts at every wavelength,
the classifier of each channel set over seeds, Kosiba's table, and the ensemble across wavelengths.

Candidates: the evaluation stage's MF candidates with the vetting code's cutouts and truth labels
(``vetting_data``: a cutout centred on each candidate, cut by the cutout code from the maps; a
qualifying halo within ``vetting.labels.match_arcmin``, 1', makes it real, otherwise the reason
why not), restricted to the ``kosiba.max_candidates`` highest-SNR entries of the MF catalogue,
whose X-ray and optical cutouts the optical and X-ray code renders here (``kosiba_*_cutouts``, as
``optical_cutouts`` and ``xray_cutouts`` with more candidates).
"""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.catalogues.files import read_catalogue
from skyhunt.catalogues.metrics import true_entries
from skyhunt.catalogues.pipeline import HALO_COLUMNS, method_metrics, qualifying_halos
from skyhunt.cutouts.arrays import load_cutout_array
from skyhunt.cutouts.layout import split_of
from skyhunt.multiwave.channels import OPTICAL_CHANNELS, channel_names, regrid
from skyhunt.multiwave.ensemble import SAME_ARCMIN, ensemble_scores, wavelength_entries
from skyhunt.multiwave.metrics import (
    METRICS,
    summary_table,
    table_markdown,
)
from skyhunt.multiwave.readers import (
    DATA_UNITS,
    read_cutout_images,
    read_kosiba_scores,
)
from skyhunt.optical.pipeline import run_optical_cutouts
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.readers import read_halos
from skyhunt.vetting.labels import nearest
from skyhunt.xray.pipeline import run_xray_cutouts

log = logging.getLogger("skyhunt.multiwave")

#: Columns of the vetting table the dataset reads.
VETTING_COLUMNS = ("candidate", "ra", "dec", "split", "label", "reason", "f_snr")


def run_kosiba_optical_cutouts(
    *, optical: dict, max_candidates: int, seed: int, candidates, galaxies, cutouts
) -> None:
    """:func:`skyhunt.optical.pipeline.run_optical_cutouts` of the ``max_candidates`` (config
    ``kosiba.max_candidates``) highest-SNR MF catalogue entries."""
    run_optical_cutouts(
        optical={**optical, "max_candidates": max_candidates},
        seed=seed,
        candidates=candidates,
        galaxies=galaxies,
        cutouts=cutouts,
    )


def run_kosiba_xray_cutouts(
    *,
    xray: dict,
    max_candidates: int,
    cosmology: dict,
    bands: list,
    seed: int,
    candidates,
    halos,
    sources,
    cutouts,
) -> None:
    """:func:`skyhunt.xray.pipeline.run_xray_cutouts` of the ``max_candidates`` highest-SNR entries."""
    run_xray_cutouts(
        xray={**xray, "max_candidates": max_candidates},
        cosmology=cosmology,
        bands=bands,
        seed=seed,
        candidates=candidates,
        halos=halos,
        sources=sources,
        cutouts=cutouts,
    )


def run_kosiba_data(
    *, npix: int, bands: list, stage: str, table, array, optical, xray, data, cutouts
) -> None:
    """The Kosiba dataset: per candidate with X-ray and optical cutouts, its mm, X-ray and g, r, i
    channels on one ``npix`` grid (:func:`skyhunt.multiwave.channels.regrid`) and its truth label.

    Parameters
    ----------
    npix : int
        Config ``kosiba.npix``: the common grid's side, pixels.
    bands : list of str
        The mm band names, in config order (the vetting cutouts' channels).
    stage : str
        The evaluation stage.
    table, array : path-like
        The stage's vetting table and cutouts (``vetting_data``).
    optical, xray : path-like
        The candidates' optical and X-ray cutout files (``kosiba_optical_cutouts``, ``kosiba_xray_cutouts``).
    data, cutouts : path-like
        Outputs: the table (:data:`DATA_UNITS`; its metadata name the channels and grids) and the
        cutouts (``.npy``, (N, channels, npix, npix) float32), in the cutout files' order.
    """
    vet = io.read_checked_table(table, VETTING_COLUMNS)
    mm = load_cutout_array(array)
    if len(mm) != len(vet) or mm.shape[1] != len(bands):
        raise io.InputFileError(
            f"{array} does not hold the {len(bands)}-band cutouts of {table}; rerun vetting_data"
        )
    o_table, o_images = read_cutout_images(optical, OPTICAL_CHANNELS)
    x_table, x_images = read_cutout_images(xray, (None,))
    same = len(o_table) == len(x_table) and np.allclose(
        o_table[["ra", "dec"]], x_table[["ra", "dec"]], rtol=0, atol=1e-9
    )
    if not same:
        raise io.InputFileError(f"{optical} and {xray} hold different candidates; rerun both")
    at, _ = nearest(o_table["ra"], o_table["dec"], vet["ra"], vet["dec"], SAME_ARCMIN)
    if (at < 0).any():
        raise io.InputFileError(
            f"{optical}: {int((at < 0).sum())} cutouts are of no candidate in {table}; rerun"
        )
    rows = vet.iloc[at]
    stacked = np.concatenate(
        [
            regrid(np.asarray(mm[at]), npix, "mean"),
            regrid(x_images, npix, "sum"),
            regrid(o_images, npix, "sum"),
        ],
        axis=1,
    )
    with io.atomic_output(cutouts) as tmp, open(tmp, "wb") as f:  # a file: np.save would add ".npy"
        np.save(f, stacked, allow_pickle=False)
    meta = {
        "stage": stage,
        "channels": channel_names(bands),
        "npix": npix,
        "grids": {
            "mm": {"side": int(mm.shape[-1])},
            "xray": {"side": int(x_images.shape[-1])},
            "optical": {"side": int(o_images.shape[-1])},
        },
    }
    columns = {
        "candidate": rows["candidate"].to_numpy(np.int64),
        "ra": rows["ra"].to_numpy(float),
        "dec": rows["dec"].to_numpy(float),
        "snr": rows["f_snr"].to_numpy(float),
        "split": rows["split"].to_numpy().astype(str),
        "label": rows["label"].to_numpy(np.int8),
        "reason": rows["reason"].to_numpy().astype(str),
    }
    io.write_table(data, columns, DATA_UNITS, meta=meta)
    counts = pd.crosstab(columns["split"], columns["label"])
    log.info(
        "Kosiba dataset: %d candidates x %d channels; real per stripe %s",
        len(rows),
        stacked.shape[1],
        counts.to_dict(),
    )


def run_kosiba_table(*, runs: list, data, csv, md) -> None:
    """Kosiba's table: mean ± std over the seeds of each channel set, with and without augmentation.

    Parameters
    ----------
    runs : list of path-like
        The per-run metrics of every ``kosiba_train`` job.
    data : path-like
        The Kosiba dataset table (the test stripe's counts).
    csv, md : path-like
        Outputs: one row per channel set and augmentation (mean and std of each metric), and the
        Markdown table in Kosiba's format.
    """
    frames = []
    for path in runs:
        try:
            frames.append(pd.read_csv(path))
        except (OSError, ValueError) as err:
            raise io.InputFileError(f"{path}: not a Kosiba run table ({err})") from err
    all_runs = pd.concat(frames, ignore_index=True)
    io.require_columns(all_runs, (*METRICS, "channels", "augment"), runs[0])
    summary = summary_table(all_runs)
    t = io.read_checked_table(data, ("split", "label"))
    test = t["split"].to_numpy() == "test"
    text = table_markdown(summary, int(test.sum()), int(t["label"].to_numpy()[test].sum()))
    with io.atomic_output(csv) as tmp:
        summary.to_csv(tmp, index=False, float_format="%.6g")
    with io.atomic_output(md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info("\n%s", text)


def classifier_scores(scores, data) -> pd.DataFrame:
    """ra, dec and the seed-mean probability of each Kosiba candidate of a channel set's scores."""
    s = read_kosiba_scores(scores)
    t = io.read_checked_table(data, ("candidate", "ra", "dec"))
    mean = s.groupby("candidate", sort=False)["probability"].mean()
    missing = ~t["candidate"].isin(mean.index)
    if missing.any():
        raise io.InputFileError(f"{scores} does not score the candidates of {data}; rerun kosiba_train")
    return t.assign(score=mean.loc[t["candidate"]].to_numpy())


def run_kosiba_ensemble(
    *,
    catalogues: dict,
    positive: dict,
    footprint: dict,
    splits: dict,
    l2: float,
    seed: int,
    stage: str,
    mf,
    detector,
    halos,
    data,
    xray_scores,
    optical_scores,
    summary,
    md,
) -> None:
    """Qualifying clusters found at each purity level by the learned catalogue ensemble with and
    without the X-ray and optical scores (:mod:`skyhunt.multiwave.ensemble`).

    Parameters
    ----------
    catalogues : dict
        Config ``catalogues`` (match radius, purity levels, bootstrap).
    positive : dict
        Config ``cutouts.positive`` (the qualifying halos).
    footprint, splits : dict
        Config ``sky.footprint`` and ``cutouts.splits`` (the halos' RA stripes).
    l2 : float
        Config ``evaluation.learned.l2``.
    seed : int
        Run seed (bootstrap streams ``kosiba_bootstrap/<method>/...``).
    stage : str
        The evaluation stage.
    mf, detector, halos : path-like
        The MF and detector catalogues and the halo table.
    data, xray_scores, optical_scores : path-like
        The Kosiba dataset table and the augmented X-ray-only and optical-only classifiers' scores.
    summary, md : path-like
        Outputs: JSON (N at purity per method with bootstrap intervals, the weights) and Markdown.
    """
    r = catalogues["match_radius_arcmin"]
    extra = {"xray": classifier_scores(xray_scores, data), "optical": classifier_scores(optical_scores, data)}
    table = wavelength_entries(read_catalogue(mf, "mf"), read_catalogue(detector, "detector"), r, extra)
    h = read_halos(halos, HALO_COLUMNS)
    h["split"] = split_of(h["ra"].to_numpy(), Footprint.from_config(footprint), splits)
    q = qualifying_halos(h, positive)
    true = true_entries(table["ra"], table["dec"], q["ra"], q["dec"], r)
    try:
        fitted = ensemble_scores(table, true, l2)
    except ValueError as err:
        raise io.InputFileError(f"{mf}, {detector}, {halos}: {err}") from err
    out = {
        "stage": stage,
        "l2": l2,
        "entries_with_cutouts": int(np.sum(table["score_xray"] > 0)),
        "methods": {},
    }
    for method in ("learned", "learned_multiwave"):
        _, res = method_metrics(
            table.assign(score=fitted[method]), h, q, catalogues, f"kosiba_bootstrap/{method}", seed
        )
        out["methods"][method] = {"n_at_purity": res, "weights": fitted["weights"][method]}
    with io.atomic_output(summary) as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n")
    text = ensemble_markdown(out, catalogues["interval"])
    with io.atomic_output(md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info("\n%s", text)


def ensemble_markdown(out: dict, interval: float) -> str:
    """N at each purity level (against the qualifying halos) with and without the X-ray and optical scores."""
    levels = list(out["methods"]["learned"]["n_at_purity"]["qualifying"])
    names = {
        "learned": "MF + detector (learned)",
        "learned_multiwave": "MF + detector + X-ray + optical (learned)",
    }
    lines = [
        f"Catalogue ensemble across wavelengths, noise stage `{out['stage']}`: qualifying clusters found on "
        f"the test stripe at the validation threshold of each purity; {100 * interval:.0f} % bootstrap "
        f"intervals; {out['entries_with_cutouts']} entries with X-ray and optical cutouts.",
        "",
        "| ensemble | " + " | ".join(f"N at {float(p):.0%} purity" for p in levels) + " |",
        "|---|" + "---|" * len(levels),
    ]
    for m, res in out["methods"].items():
        cells = []
        for p in levels:
            v = res["n_at_purity"]["qualifying"][p]
            t = "never reached" if v["threshold"] is None else f"≥ {v['threshold']:.3g}"
            cells.append(f"{v['n']} [{v['n_lo']:.0f}, {v['n_hi']:.0f}] ({t})")
        lines.append(f"| {names[m]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
