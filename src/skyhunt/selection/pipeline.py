"""One function per Snakemake rule of the injection-based selection function (issue 16).

Per injection batch three jobs share one set of injected maps. ``inject_mf``: model clusters
painted into copies of the evaluation stage's observed maps (scratch outputs; the originals are
only read) and the matched filter run on them exactly as rule ``matched_filter`` runs it
(:func:`skyhunt.mf.pipeline.run_matched_filter`: tiles, point-source treatment, noise model,
depth normalisation). ``inject_detect``: the CNN detector on the same maps as rule ``detect``,
and the catalogue ensembles of the two (:mod:`skyhunt.selection.finders`); per injection, each
method's best score within the match radius. ``inject_classify``: the CNN classifier and Table 1's
ensembles on the main grid's cutouts re-cut from the same maps
(:mod:`skyhunt.selection.cutout_finders`); per injection, the scores of the cutout holding it.
``selection_completeness``: the completeness grid of every method at its validation threshold,
the same grid from the sky's own halos and the chi^2 between the two. ``mass_limit``: M500c at
the completeness level at ``z_ref``, per method, per matched-filter tile and as a coarse HEALPix
map.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.catalogues.files import check_finite
from skyhunt.catalogues.pipeline import read_metrics, validation_threshold
from skyhunt.cutouts.extract import PatchInterpolator, extract_cutouts
from skyhunt.cutouts.grid import CutoutGeometry
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.evaluation.pipeline import read_ensemble_scores, read_thresholds
from skyhunt.mf.pipeline import filter_maps, write_candidates
from skyhunt.mf.tiles import inside_mask, make_layout
from skyhunt.selection import completeness as comp
from skyhunt.selection import cutout_finders, finders, masslimit
from skyhunt.selection.files import (
    CompletenessGrid,
    read_completeness,
    write_completeness,
    write_mass_limit,
    write_mass_limit_map,
)
from skyhunt.selection.inject import INJECTION_UNITS, draw_injections, injected_signal
from skyhunt.selection.methods import CATALOGUE_METHODS, CUTOUT_SCORES, METHOD_SCORES, METHODS
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.pipeline import write_band_map
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.selection")

#: Columns of a batch's injection table: the injections, and each method's best score within the radius.
INJECTED_UNITS = {
    **INJECTION_UNITS,
    **{
        f"score_{m}": f"{u} (largest entry within the match radius; 0: none)"
        for m, u in METHOD_SCORES.items()
    },
}


def grid_edges(selection: dict) -> tuple[np.ndarray, np.ndarray]:
    """M500c (M_sun, log-spaced) and z bin edges of config ``selection``."""
    g = selection["grid"]
    m = np.logspace(np.log10(g["m500c_min"]), np.log10(g["m500c_max"]), g["m500c_bins"] + 1)
    return m, np.asarray(g["z_edges"], dtype=float)


def run_inject_mf(
    *,
    nside: int,
    footprint: dict,
    bands: list,
    point_sources: dict,
    mf: dict,
    components: list,
    stage: str,
    cosmology: dict,
    halo_model: dict,
    selection: dict,
    match_radius_arcmin: float,
    seed: int,
    batch: int | str,
    maps: list,
    spectrum,
    halos,
    injected: list,
    candidates,
    injections,
    sources=None,
    scan_filter: dict | None = None,
    transfer=None,
    red_noise: dict | None = None,
    ivar: list = (),
    threads: int = 1,
) -> None:
    """Inject one batch of model clusters into copies of the stage's maps and run the MF on them.

    Parameters
    ----------
    nside, footprint, bands, point_sources, mf, components, stage, scan_filter, transfer, red_noise, ivar
        As :func:`skyhunt.mf.pipeline.run_matched_filter` (the main run's matched filter of
        ``stage``).
    cosmology : dict
        Config ``sky.cosmology``.
    halo_model : dict
        Config ``sky.halos`` keys ``truncation_r500``, ``y_scatter_ln``, ``v_los_sigma_km_s``,
        ``relativistic_tsz``.
    selection : dict
        Config ``selection`` (``injections`` per batch, ``grid``, ``edge_arcmin``,
        ``avoid``, ``separation_arcmin``).
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin`` (1′).
    seed : int
        Run seed.
    batch : int or str
        Batch number (the ``{batch}`` wildcard; stream ``injection_<batch>``).
    maps : list of path-like
        The stage's observed maps (read only).
    spectrum, sources : path-like
        As for the matched filter.
    halos : path-like
        The sky's halos (the bright ones are avoided).
    injected : list of path-like
        Output: the injected maps, one per band (scratch for :func:`run_inject_detect` and
        :func:`run_inject_classify`).
    candidates : path-like
        Output: the MF's candidates on them (scratch for :func:`run_inject_detect` and
        :func:`run_inject_classify`).
    injections : path-like
        Output Parquet table: the injections (:data:`skyhunt.selection.inject.INJECTION_UNITS`)
        and ``score_mf``.
    threads : int
        Threads of the FFTs.
    """
    batch = int(batch)  # the {batch} wildcard
    fp = Footprint.from_config(footprint)
    sky_halos = read_halos(halos, ("ra", "dec", "m500c"))
    bright = sky_halos[sky_halos["m500c"] >= selection["avoid"]["m500c_min"]]
    m_edges, z_edges = grid_edges(selection)
    table = draw_injections(
        selection["injections"],
        batch,
        component_rng(seed, f"injection_{batch}"),
        fp,
        (m_edges[0], m_edges[-1]),
        (z_edges[0], z_edges[-1]),
        cosmology,
        halo_model,
        selection["edge_arcmin"],
        bright["ra"].to_numpy(),
        bright["dec"].to_numpy(),
        selection["avoid"]["radius_arcmin"],
        selection["separation_arcmin"],
    )
    pixels, values = io.read_partial_maps(maps, nside=nside)
    signal = injected_signal(
        table,
        nside,
        pixels,
        bands,
        components,
        halo_model["truncation_r500"],
        halo_model["relativistic_tsz"],
        scan_filter,
    )
    injected_values = (values + signal).astype(np.float32)  # as the maps read back from FITS
    del values, signal
    for i, (band, path) in enumerate(zip(bands, injected, strict=True)):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_band_map(path, pixels, injected_values[:, i], nside, band, stage)
    cand, _ = filter_maps(
        pixels,
        injected_values,
        nside=nside,
        footprint=footprint,
        bands=bands,
        point_sources=point_sources,
        mf=mf,
        components=components,
        stage=stage,
        spectrum=spectrum,
        sources=sources,
        scan_filter=scan_filter,
        transfer=transfer,
        red_noise=red_noise,
        ivar=ivar,
        map_name=f"the injected maps of {maps[0]}",
        threads=threads,
    )
    # the candidates are kept for the detector's job; the removed point sources are not
    write_candidates(candidates, cand, mf=mf, stage=stage, bands=bands)
    table["score_mf"] = comp.best_score_within(
        table["ra"], table["dec"], cand["ra"], cand["dec"], cand["snr"], match_radius_arcmin
    )
    units = {**INJECTION_UNITS, "score_mf": INJECTED_UNITS["score_mf"]}
    io.write_table(
        injections,
        {c: table[c].to_numpy() for c in units},
        units,
        meta={"batch": batch, "stage": stage, "selection": selection},
    )
    log.info(
        "batch %d: %d injections, %d with an MF candidate within %g arcmin",
        batch,
        len(table),
        int(np.sum(table["score_mf"] > 0)),
        match_radius_arcmin,
    )


def run_inject_detect(
    *,
    nside: int,
    footprint: dict,
    tiles: dict,
    splits: dict,
    peaks: dict,
    accelerator: str,
    match_radius_arcmin: float,
    injected: list,
    candidates,
    mf_injections,
    model,
    ensemble,
    injections,
) -> None:
    """The detector and the catalogue ensembles on one batch's injected maps; every method's scores.

    Parameters
    ----------
    nside : int
    footprint, tiles, splits, peaks : dict
        Config ``sky.footprint``, ``mf.tiles``, ``cutouts.splits``, ``detector.peaks`` (the
        detector as rule ``detect``, the catalogues' RA stripes).
    accelerator : str
        Config ``detector.accelerator``.
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin`` (1′; the recoveries and the cross-match).
    injected, candidates, mf_injections : path-like
        The batch's injected maps, their MF candidates and its injection table
        (:func:`run_inject_mf`).
    model : path-like
        The detector's checkpoint (rule ``train_detector``).
    ensemble : path-like
        The main run's learned-ensemble catalogue (Parquet): the ensembles' rank reference and
        learned weights (:mod:`skyhunt.selection.finders`).
    injections : path-like
        Output Parquet table (:data:`INJECTED_UNITS`).
    """
    # torch only here: the other selection steps start without it
    from skyhunt.detector.pipeline import load_detector

    fp = Footprint.from_config(footprint)
    module = load_detector(model, accelerator)
    reference, learned = finders.read_reference(ensemble), finders.learned_model(ensemble)
    table = io.read_checked_table(mf_injections, (*INJECTION_UNITS, "score_mf"))
    cand = io.read_checked_table(candidates, ("ra", "dec", "snr"))
    pixels, values = io.read_partial_maps(injected, nside=nside)
    entries = {
        "mf": finders.mf_entries(cand, fp, splits),
        "detector": finders.detector_entries(module, nside, pixels, values, fp, tiles, peaks, splits),
    }
    ens = finders.ensemble_entries(
        entries["mf"], entries["detector"], reference, learned, match_radius_arcmin
    )
    entries["ens_prod"] = ens.assign(score=ens["ens_prod"])
    entries["ens_learned"] = ens.assign(score=ens["ens_learned"])
    for m in CATALOGUE_METHODS[1:]:
        e = entries[m]
        table[f"score_{m}"] = comp.best_score_within(
            table["ra"], table["dec"], e["ra"], e["dec"], e["score"], match_radius_arcmin
        )
    io.write_table(
        injections,
        {c: table[c].to_numpy() for c in INJECTED_UNITS},
        INJECTED_UNITS,
        meta=io.read_table_meta(mf_injections),
    )
    log.info(
        "batch of %d injections; within %g arcmin of an entry: %s",
        len(table),
        match_radius_arcmin,
        {m: int(np.sum(table[f"score_{m}"] > 0)) for m in CATALOGUE_METHODS},
    )


#: Columns of a batch's cutout-classifier table (rule ``inject_classify``) and their units.
CLASSIFIED_UNITS = {
    "injection_id": "",
    "cutout_id": "(the main grid's cutout scoring the injection; -1: none, not scored)",
    **{f"score_{m}": u for m, u in CUTOUT_SCORES.items()},
}


def run_inject_classify(
    *,
    nside: int,
    cutouts: dict,
    accelerator: str,
    batch_size: int,
    matching: dict,
    injected: list,
    candidates,
    mf_injections,
    halos,
    index,
    model,
    cnn_scores,
    ensemble_scores,
    thresholds,
    classified,
) -> None:
    """The CNN classifier and Table 1's ensembles on one batch's injected maps (rule ``inject_classify``).

    Parameters
    ----------
    nside : int
    cutouts : dict
        Config ``cutouts`` (size_arcmin, npix, stride_arcmin, central_arcmin, interpolation).
    accelerator : str
        Config ``cnn.accelerator``.
    batch_size : int
        Cutouts per inference batch (config ``cnn.training.batch_size``).
    matching : dict
        Config ``mf.matching`` (``radius_arcmin``: the MF's matching to halos and injections, as
        rule ``match_mf`` matches the main run's candidates).
    injected, candidates, mf_injections : path-like
        The batch's injected maps, their MF candidates and its injection table (:func:`run_inject_mf`).
    halos, index : path-like
        The sky's halos and the main run's cutout index.
    model, cnn_scores : path-like
        The evaluation stage's CNN checkpoint and its score table (the Platt calibration).
    ensemble_scores, thresholds : path-like
        The main run's ensemble scores and Table 1's thresholds (rule ``ensembles``).
    classified : path-like
        Output Parquet table, one row per injection in the batch's order (:data:`CLASSIFIED_UNITS`).
    """
    # torch only here: the other selection steps start without it
    from skyhunt.cnn.pipeline import load_model, read_platt
    from skyhunt.cnn.scoring import predict_scores

    geometry = CutoutGeometry.from_config(cutouts)
    table = io.read_checked_table(mf_injections, INJECTION_UNITS)
    cut_index = read_index(index, (*GRID_COLUMNS, "split"))
    rows = cutout_finders.injection_cutouts(
        cut_index, geometry, cutouts["stride_arcmin"], cutouts["central_arcmin"], table["ra"], table["dec"]
    )
    scored, at = np.unique(rows[rows >= 0], return_inverse=True)  # each scored injection's among them
    module, platt = load_model(model, accelerator), read_platt(cnn_scores)
    pixels, values = io.read_partial_maps(injected, nside=nside)
    arrays = extract_cutouts(
        PatchInterpolator(nside, pixels),
        values,
        cut_index["ra"].to_numpy()[scored],
        cut_index["dec"].to_numpy()[scored],
        geometry,
        cutouts["interpolation"],
    )
    try:
        raw = predict_scores(module, arrays, np.arange(scored.size), batch_size)
    except ValueError as err:
        raise io.InputFileError(f"{model}: on the injected cutouts of {injected[0]}, {err}") from err
    snr = cutout_finders.injected_cutout_snr(
        io.read_checked_table(candidates, ("ra", "dec", "snr")),
        read_halos(halos, ("halo_id", "ra", "dec", "m_vir")),
        table,
        cut_index,
        geometry,
        cutouts["stride_arcmin"],
        matching["radius_arcmin"],
    )
    reference = read_ensemble_scores(ensemble_scores, ("split", "cnn", "mf"))
    chosen = read_thresholds(thresholds)["methods"]
    split = cut_index["split"].to_numpy()[scored]
    scores = cutout_finders.cutout_method_scores(platt(raw), snr[scored], split, reference, chosen)
    columns = classified_columns(
        table["injection_id"], rows, cut_index["cutout_id"], {m: v[at] for m, v in scores.items()}
    )
    io.write_table(classified, columns, CLASSIFIED_UNITS, meta=io.read_table_meta(mf_injections))
    limits = cutout_finders.cutout_thresholds(chosen)
    has = rows >= 0
    log.info(
        "batch of %d injections: %d scored by %d validation and test cutouts; positive: %s",
        len(table),
        int(has.sum()),
        scored.size,
        {m: int(np.sum(columns[f"score_{m}"][has] >= t)) for m, t in limits.items()},
    )


def classified_columns(injection_id, rows, cutout_id, scores: dict) -> dict:
    """The columns of a batch's cutout-classifier table (:data:`CLASSIFIED_UNITS`).

    Parameters
    ----------
    injection_id : array_like of int
        The batch's injections.
    rows : ndarray of int
        Row of the cutout index scoring each injection, -1: none
        (:func:`skyhunt.selection.cutout_finders.injection_cutouts`).
    cutout_id : array_like of int
        The cutout index's ``cutout_id`` column.
    scores : dict
        Method -> score of each scored injection (``rows >= 0``), in injection order
        (:data:`skyhunt.selection.methods.CUTOUT_SCORES`).

    Returns
    -------
    dict
        Column -> values per injection: ``injection_id``, ``cutout_id`` (-1: not scored) and
        ``score_<method>`` (0 where not scored).
    """
    has = rows >= 0
    columns = {
        "injection_id": np.asarray(injection_id),
        "cutout_id": np.full(rows.size, -1, dtype=np.int64),
    }
    columns["cutout_id"][has] = np.asarray(cutout_id)[rows[has]]
    for method, values in scores.items():
        columns[f"score_{method}"] = np.zeros(rows.size)
        columns[f"score_{method}"][has] = values
    return columns


def read_injections(paths, classified=()) -> pd.DataFrame:
    """Every batch's injection table, concatenated in batch order, beside its cutout-classifier
    table (:func:`run_inject_classify`) when ``classified`` lists them (one per batch, same order)."""
    inj = pd.concat([io.read_checked_table(p, tuple(INJECTED_UNITS)) for p in paths], ignore_index=True)
    if not classified:
        return inj
    cls = pd.concat(
        [io.read_checked_table(p, tuple(CLASSIFIED_UNITS)) for p in classified], ignore_index=True
    )
    if len(cls) != len(inj) or not np.array_equal(cls["injection_id"], inj["injection_id"]):
        raise io.InputFileError(
            f"{', '.join(map(str, classified))}: their injections are not those of "
            f"{', '.join(map(str, paths))}; rerun inject_classify"
        )
    return pd.concat([inj, cls.drop(columns="injection_id")], axis=1)


def mf_threshold(selection: dict, table1: dict) -> float:
    """The MF's SNR threshold: ``selection.mf_snr_threshold``, or where null Table 1's validation
    threshold (``table1``: the methods of ``thresholds.json``)."""
    if selection["mf_snr_threshold"] is not None:
        return float(selection["mf_snr_threshold"])
    return float(table1["mf"]["threshold"])


def method_thresholds(selection: dict, thresholds, metrics) -> dict:
    """Each method of :data:`METHODS`' threshold on its score; None where the validation purity
    never reaches its level.

    The MF: :func:`mf_threshold`. The detector and the catalogue ensembles: the lowest purity
    level of ``metrics.json`` (rule ``catalogue_metrics``), as the detector's edge curve
    (:func:`skyhunt.catalogues.pipeline.validation_threshold`). The cutout classifiers: Table 1's
    (:func:`skyhunt.selection.cutout_finders.cutout_thresholds`).

    Parameters
    ----------
    selection : dict
        Config ``selection`` (``mf_snr_threshold``).
    thresholds, metrics : path-like
        Table 1's ``thresholds.json`` (rule ``ensembles``) and ``metrics.json``.

    Returns
    -------
    dict
        Method -> threshold, in the units of its score (:data:`INJECTED_UNITS`, :data:`CLASSIFIED_UNITS`).
    """
    table1 = read_thresholds(thresholds)["methods"]
    m = read_metrics(metrics)
    out = {"mf": mf_threshold(selection, table1)}
    for method in CATALOGUE_METHODS[1:]:
        out[method] = validation_threshold(m, method)[1]
    return {**out, **cutout_finders.cutout_thresholds(table1)}


def method_completeness(
    inj: pd.DataFrame,
    inj_score: np.ndarray,
    sky: pd.DataFrame,
    sky_score: np.ndarray,
    threshold: float | None,
    selection: dict,
    interval: float,
) -> tuple[dict, dict]:
    """One method's completeness grids (injections and the sky's halos) and their comparison.

    Returns
    -------
    arrays : dict
        The images of :class:`skyhunt.selection.files.CompletenessGrid` of the method.
    result : dict
        Counts, chi^2, dof, p-values (plain and mass-weighted), the threshold (None: nothing
        is recovered).
    """
    m_edges, z_edges = grid_edges(selection)
    t = np.inf if threshold is None else threshold
    n_inj, k_inj = comp.bin_counts(inj["m500c"], inj["z"], inj_score >= t, m_edges, z_edges)
    n_true, k_true = comp.bin_counts(sky["m500c"], sky["z"], sky_score >= t, m_edges, z_edges)
    c_inj = comp.completeness_of(n_inj, k_inj, interval)
    c_true = comp.completeness_of(n_true, k_true, interval)
    test = comp.chi2_against_truth(n_inj, k_inj, n_true, k_true, selection["min_per_bin"])
    weights = comp.mass_weights(
        inj["m500c"], inj["z"], sky["m500c"], sky["z"], m_edges, z_edges, selection["mass_sub_bins"]
    )
    n_w, k_w = comp.weighted_counts(inj["m500c"], inj["z"], inj_score >= t, weights, m_edges, z_edges)
    weighted = comp.chi2_against_truth(n_w, k_w, n_true, k_true, selection["min_per_bin"])
    arrays = {
        "COMPLETENESS": c_inj["p"],
        "LOWER": c_inj["lower"],
        "UPPER": c_inj["upper"],
        "N_INJECTED": n_inj,
        "N_RECOVERED": k_inj,
        "TRUTH_COMPLETENESS": c_true["p"],
        "TRUTH_LOWER": c_true["lower"],
        "TRUTH_UPPER": c_true["upper"],
        "TRUTH_N": n_true,
        "TRUTH_K": k_true,
    }
    result = {
        "threshold": threshold,
        "injections": int(len(inj)),
        "injections_in_grid": int(n_inj.sum()),
        "recovered": int(k_inj.sum()),
        "truth_halos": int(n_true.sum()),
        "truth_found": int(k_true.sum()),
        "chi2": test["chi2"],
        "dof": test["dof"],
        "p_value": test["p_value"] if test["dof"] else None,
        "chi2_mass_weighted": weighted["chi2"],
        "dof_mass_weighted": weighted["dof"],
        "p_value_mass_weighted": weighted["p_value"] if weighted["dof"] else None,
    }
    return arrays, result


def run_selection_completeness(
    *,
    footprint: dict,
    selection: dict,
    match_radius_arcmin: float,
    interval: float,
    injections: list,
    halos,
    candidates,
    detector,
    ens_prod,
    ens_learned,
    metrics,
    thresholds,
    cutouts: dict,
    classified: list,
    index,
    ensemble_scores,
    completeness,
    summary,
) -> None:
    """Completeness of every method on the (M500c, z) grid from the injections, and from the sky's halos.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    selection : dict
        Config ``selection`` (``grid``, ``edge_arcmin``, ``min_per_bin``, ``mass_sub_bins``,
        ``mf_snr_threshold``).
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin``.
    interval : float
        Central probability of the intervals (config ``catalogues.interval``).
    injections : list of path-like
        The batches' tables (:func:`run_inject_detect`).
    halos, candidates : path-like
        The sky's halos and the main run's MF candidates of the stage.
    detector, ens_prod, ens_learned : path-like
        The main run's catalogues (Parquet): the truth completeness of those methods.
    metrics : path-like
        ``metrics.json`` of rule ``catalogue_metrics`` (the validation thresholds of the
        detector and the ensembles, :func:`method_thresholds`).
    completeness : path-like
        Output FITS (:func:`skyhunt.selection.files.write_completeness`), one grid per method of
        :data:`METHODS`.
    summary : path-like
        Output JSON, per method: the threshold (null: never reached on validation, nothing
        recovered), counts, chi^2, dof and p-value, plain and with the injections weighted to the
        halos' mass distribution within each bin (:func:`skyhunt.selection.completeness.mass_weights`).
    thresholds : path-like
        ``thresholds.json`` of the main run: Table 1's thresholds of the cutout classifiers, and
        the MF's when ``selection.mf_snr_threshold`` is null.
    cutouts : dict
        Config ``cutouts`` (size_arcmin, npix, stride_arcmin, central_arcmin).
    classified : list of path-like
        The batches' cutout-classifier tables (:func:`run_inject_classify`), in batch order.
    index, ensemble_scores : path-like
        The cutout index and the main run's ensemble scores: the cutout classifiers' truth. Those
        methods count the injections and halos of validation and test cutouts only
        (:mod:`skyhunt.selection.cutout_finders`).
    """
    fp = Footprint.from_config(footprint)
    chosen = method_thresholds(selection, thresholds, metrics)
    inj = read_injections(injections, classified)
    sky = read_halos(halos, ("ra", "dec", "z", "m500c", "in_footprint"))
    sky = sky[
        sky["in_footprint"].to_numpy() & inside_mask(fp, sky["ra"], sky["dec"], selection["edge_arcmin"])
    ]
    cand = io.read_checked_table(candidates, ("ra", "dec", "snr"))
    main = {"mf": cand.assign(score=cand["snr"])}
    for method, path in (("detector", detector), ("ens_prod", ens_prod), ("ens_learned", ens_learned)):
        main[method] = io.read_checked_table(path, ("ra", "dec", "score"))
        check_finite(main[method], ("ra", "dec", "score"), path)
    try:
        held, held_scores = cutout_finders.main_run_scores(
            read_index(index, (*GRID_COLUMNS, "split")),
            read_ensemble_scores(
                ensemble_scores, ("cutout_id", *cutout_finders.ENSEMBLE_SCORE_COLUMNS.values())
            ),
            CutoutGeometry.from_config(cutouts),
            cutouts["stride_arcmin"],
            cutouts["central_arcmin"],
            sky["ra"],
            sky["dec"],
        )
    except ValueError as err:
        raise io.InputFileError(f"{index}, {ensemble_scores}: {err}") from err
    in_cutouts = (inj["cutout_id"] >= 0).to_numpy()
    arrays, headers, result = {}, {}, {}
    for method in METHODS:
        if method in main:
            e = main[method]
            best = comp.best_score_within(
                sky["ra"], sky["dec"], e["ra"], e["dec"], e["score"], match_radius_arcmin
            )
            inj_m, sky_m = inj, sky
        else:  # a cutout classifier: the injections and halos of scored cutouts
            best, inj_m, sky_m = held_scores[method], inj[in_cutouts], sky[held]
        arrays[method], res = method_completeness(
            inj_m, inj_m[f"score_{method}"].to_numpy(), sky_m, best, chosen[method], selection, interval
        )
        result[method] = res
        headers[method] = {
            "RADIUS": (match_radius_arcmin, "[arcmin] match radius of a recovery"),
            "INTERVL": (interval, "central probability of LOWER, UPPER (Jeffreys)"),
            "CHI2": (res["chi2"], "injections vs the sky's halos, bins compared"),
            "DOF": (res["dof"], "bins compared (both counts >= MINBIN)"),
            "MINBIN": (selection["min_per_bin"], "least clusters per bin in the comparison"),
            "CHI2W": (res["chi2_mass_weighted"], "CHI2, injections weighted to halo masses"),
            "DOFW": (res["dof_mass_weighted"], "bins compared, weighted"),
            "NINJ": (len(inj_m), "injections the method scores"),
        }
        if chosen[method] is not None:  # none: the validation purity never reaches its level
            headers[method]["THRESH"] = (chosen[method], "validation threshold of the score")
        log.info(
            "%s at score >= %s: %d of %d injections recovered; chi^2 = %.2f for %d bins (p = %.3g) "
            "against %d of the sky's halos; weighted to their masses chi^2 = %.2f for %d bins (p = %.3g)",
            method,
            "never (no validation threshold)" if chosen[method] is None else f"{chosen[method]:.4g}",
            res["recovered"],
            res["injections_in_grid"],
            res["chi2"],
            res["dof"],
            res["p_value"] if res["p_value"] is not None else np.nan,
            res["truth_halos"],
            res["chi2_mass_weighted"],
            res["dof_mass_weighted"],
            res["p_value_mass_weighted"] if res["p_value_mass_weighted"] is not None else np.nan,
        )
    m_edges, z_edges = grid_edges(selection)
    write_completeness(completeness, CompletenessGrid(m_edges, z_edges, arrays, headers))
    with io.atomic_output(summary) as tmp, open(tmp, "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write("\n")


def run_mass_limit(
    *,
    footprint: dict,
    tiles: dict,
    mass_limit_cfg: dict,
    completeness,
    injections: list,
    candidates,
    mass_limit,
    mass_limit_map,
) -> None:
    """M500c at the completeness level at ``z``: per method footprint-wide, and per MF tile.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    tiles : dict
        Config ``mf.tiles`` (the search's tile layout).
    mass_limit_cfg : dict
        Config ``selection.mass_limit`` (``z``, ``level``, ``nside``).
    completeness : path-like
        The completeness grids (:func:`run_selection_completeness`).
    injections : list of path-like
        The batches' tables (the MF's SNR–mass slope).
    candidates : path-like
        The main run's MF candidates of the stage (each tile's noise, y0_fixed / snr_fixed).
    mass_limit : path-like
        Output FITS tables (:data:`skyhunt.selection.files.MASS_LIMIT_UNITS`, per MF tile;
        :data:`skyhunt.selection.files.METHOD_LIMIT_UNITS`, per method).
    mass_limit_map : path-like
        Output HEALPix map of the per-tile MF limit at nside ``mass_limit_cfg["nside"]``
        (:func:`skyhunt.selection.masslimit.healpix_map`).
    """
    fp = Footprint.from_config(footprint)
    grid = read_completeness(completeness)
    z_ref, level = float(mass_limit_cfg["z"]), float(mass_limit_cfg["level"])
    row = masslimit.z_row(grid.z_edges, z_ref)
    per_method = {}
    for method, arrays in grid.methods.items():
        t = grid.headers[method].get("THRESH", (np.nan,))[0]
        per_method[method] = (
            float(t),
            masslimit.mass_at_level(grid.m500c_edges, arrays["COMPLETENESS"][row], level),
        )
    threshold, m_lim = per_method["mf"]
    inj = read_injections(injections)
    found = (inj["score_mf"] >= threshold).to_numpy()
    slope = float("nan")
    if np.isfinite(m_lim) and found.sum() >= 3:
        slope = masslimit.snr_slope(inj["m500c"][found], inj["score_mf"][found])
    else:
        log.warning(
            "no MF mass limit: the completeness at z = %g never reaches %g, or fewer than 3 injections "
            "were recovered (%d); the table holds NaN",
            z_ref,
            level,
            found.sum(),
        )
    layout = make_layout(fp, tiles["core_deg"], tiles["overlap_deg"], tiles["pixel_arcmin"])
    cand = io.read_checked_table(candidates, ("ra", "dec", "y0_fixed", "snr_fixed"))
    good = (cand["snr_fixed"] > 0).to_numpy()
    sigma = (cand["y0_fixed"] / cand["snr_fixed"]).to_numpy()[good]
    ctile = layout.core_index(cand["ra"].to_numpy()[good], cand["dec"].to_numpy()[good])
    index = np.array([t.index for t in layout.tiles])
    sigma_tile = masslimit.tile_noise(index, ctile, sigma)
    sigma_ref = float(
        np.nanmedian(sigma_tile[layout.core_index(inj["ra"].to_numpy(), inj["dec"].to_numpy())])
    )
    limits = (
        masslimit.tile_limits(m_lim, sigma_tile, sigma_ref, slope)
        if np.isfinite(slope)
        else np.full(len(layout.tiles), np.nan)
    )
    t = layout.tiles
    columns = {
        "tile": index,
        "ra0": np.array([x.ra0 for x in t]),
        "dec0": np.array([x.dec0 for x in t]),
        "ra_lo": np.array([x.ra_lo for x in t]),
        "ra_hi": np.array([x.ra_hi for x in t]),
        "dec_lo": np.array([x.dec_lo for x in t]),
        "dec_hi": np.array([x.dec_hi for x in t]),
        "sigma_y0": sigma_tile,
        "m500c_limit": limits,
    }
    header = {
        "ZREF": (z_ref, "redshift of the mass limit"),
        "LEVEL": (level, "completeness level of the mass limit"),
        "THRESH": (threshold, "MF SNR threshold"),
    }
    if np.isfinite(slope):  # FITS headers hold no NaN: the cards are left out
        header["MLIM"] = (m_lim, "[solMass] footprint's MF M500c at LEVEL, ZREF")
        header["SLOPE"] = (slope, "d ln SNR / d ln M500c of recovered injections")
        header["SIGREF"] = (sigma_ref, "median fixed-filter y0 noise at the injections")
    write_mass_limit(mass_limit, columns, header, per_method)
    write_mass_limit_map(
        mass_limit_map,
        masslimit.healpix_map(int(mass_limit_cfg["nside"]), layout.core_index, limits),
        {k: header[k] for k in ("ZREF", "LEVEL", "THRESH")},
    )
    log.info(
        "M500c at %.0f %% completeness at z = %g: %s; MF tiles %.3g to %.3g (slope %.2f)",
        100 * level,
        z_ref,
        ", ".join(f"{m} {v[1]:.3g} M_sun" for m, v in per_method.items()),
        np.nanmin(limits) if np.isfinite(limits).any() else np.nan,
        np.nanmax(limits) if np.isfinite(limits).any() else np.nan,
        slope,
    )
