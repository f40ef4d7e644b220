"""The catalogue rules: catalogue files, catalogue ensembles, the detector's cutout scores, metrics."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd

from skyhunt import io
from skyhunt.catalogues.edge import EDGE_UNITS, centre_distance, edge_table
from skyhunt.catalogues.ensembles import add_ranks, combine, fit_learned, prod_scores, take_rows
from skyhunt.catalogues.files import (
    ALL_CATALOGUES,
    CATALOGUE_NAMES,
    CATALOGUES,
    DETECTOR_MASS_COLUMNS,
    MF_MASS_COLUMNS,
    check_finite,
    read_catalogue,
    write_catalogue,
)
from skyhunt.catalogues.metrics import (
    average_precision,
    best_scores,
    completeness_purity,
    n_at_purity,
    true_entries,
)
from skyhunt.cutouts.grid import CutoutGeometry, Grid
from skyhunt.cutouts.layout import split_of
from skyhunt.cutouts.readers import GRID_COLUMNS, read_index
from skyhunt.detector.objects import CLASSES as DETECTOR_CLASSES
from skyhunt.detector.objects import CLUSTER_CLASSES
from skyhunt.evaluation.pipeline import read_thresholds
from skyhunt.masses.readers import read_candidate_masses, read_cnn_masses
from skyhunt.mf.matching import CUTOUT_SNR_UNITS, cutout_snr, match_halos
from skyhunt.mf.readers import read_candidates
from skyhunt.sky.components import component_rng
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import qualifying_mask
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.catalogues")


#: Columns of the detector's heat-map peaks (``results/detector/<stage>/detections.parquet``).
DETECTION_COLUMNS = (
    "ra",
    "dec",
    "class",
    "prob",
    *(f"p_{c}" for c in DETECTOR_CLASSES),
    "pos_err_arcmin",
    "split",
    "tile",
)
#: Columns of the detector's truth objects (``results/detector/objects.parquet``).
OBJECT_COLUMNS = ("object_id", "ra", "dec", "class", "halo_id", "split")
#: Halo columns the metrics need.
HALO_COLUMNS = ("halo_id", "ra", "dec", "z", "m_vir", "m500c", "in_footprint")
#: The splits the metrics evaluate: thresholds on the first, counts on the second.
SPLITS = ("validation", "test")
#: Purity kinds: against the qualifying halos, and against halos above the purity mass.
PURITY_KINDS = ("qualifying", "mass")

#: Units of the completeness-purity curves.
CURVE_UNITS = {
    "method": "",
    "split": "",
    "threshold": "method score",
    "n_entries": "entries with score >= threshold",
    "n_found": "qualifying halos found",
    "n_qualifying": "",
    "completeness": "",
    "purity_qualifying": "",
    "purity_mass": "",
}
#: Columns of the detector's cutout scores (as the MF's cutout SNR, ``prob`` for ``snr``).
CUTOUT_SCORE_UNITS = {("prob" if c == "snr" else c): u for c, u in CUTOUT_SNR_UNITS.items()}
CUTOUT_SCORE_UNITS["prob"] = "largest heat-map probability of a cluster entry (0: none)"


def read_detections(path) -> pd.DataFrame:
    """The detector's peaks; fail naming the file on a missing column, a NaN or an unknown class.

    ``pos_err_arcmin`` may be NaN (unknown: no validation entry of the class matched an object,
    as in tiny runs), but not infinite or negative.
    """
    table = io.read_checked_table(path, DETECTION_COLUMNS)
    check_finite(table, ("ra", "dec", "prob"), path)
    err = table["pos_err_arcmin"].to_numpy(float)
    bad = np.isinf(err) | (err < 0)
    if bad.any():
        raise io.InputFileError(f"{path}: column pos_err_arcmin is infinite or negative in {bad.sum()} rows")
    unknown = sorted(set(table["class"].astype(str)) - set(DETECTOR_CLASSES))
    if unknown:
        raise io.InputFileError(f"{path}: unknown classes {unknown} (expected {list(DETECTOR_CLASSES)})")
    return table


def read_objects(path) -> pd.DataFrame:
    """The detector's truth objects; fail naming the file on a missing column or a NaN position."""
    table = io.read_checked_table(path, OBJECT_COLUMNS)
    check_finite(table, ("ra", "dec"), path)
    return table


def run_catalogue_mf(*, footprint: dict, splits: dict, stage: str, candidates, masses, fits, parquet) -> None:
    """The MF catalogue: the evaluation stage's candidates, score = SNR, their RA stripe and masses.

    Parameters
    ----------
    footprint : dict
        Config ``sky.footprint`` (deg).
    splits : dict
        Config ``cutouts.splits``.
    stage : str
        The evaluation stage.
    candidates : path-like
        ``results/mf/<stage>/candidates.parquet``.
    masses : path-like
        ``results/masses/mf_<stage>.parquet`` (rule ``mf_masses``: one row per candidate, in
        candidates order): the columns :data:`skyhunt.catalogues.files.MF_MASS_COLUMNS`.
    fits, parquet : path-like
        Outputs (:func:`skyhunt.catalogues.files.write_catalogue`).
    """
    table = read_candidates(candidates)
    io.require_columns(table, ("scale_arcmin", "scale_index", "y0", "tile"), candidates)
    check_finite(table, ("ra", "dec", "snr"), candidates)
    mass, notes = read_candidate_masses(masses, table, candidates, MF_MASS_COLUMNS)
    table = table.assign(
        score=table["snr"].to_numpy(float),
        **{"class": "cluster"},
        split=split_of(table["ra"].to_numpy(), Footprint.from_config(footprint), splits),
        **mass,
    )
    write_catalogue(
        table, "mf", {"stage": stage, "config": {"splits": splits}, "masses": notes}, fits, parquet
    )
    log.info("MF catalogue: %d entries, %d with a mass", len(table), int(np.isfinite(table["m500c"]).sum()))


def detector_masses(
    table: pd.DataFrame, halos: pd.DataFrame, cnn: pd.DataFrame, radius_arcmin: float
) -> dict:
    """The CNN masses of detector entries: those of the halos they match (:data:`DETECTOR_MASS_COLUMNS`).

    Parameters
    ----------
    table : DataFrame
        Detector entries (ra, dec, deg).
    halos : DataFrame
        Halo table (halo_id, ra, dec, m_vir, z): each entry's halo is the most massive within
        ``radius_arcmin`` (:func:`skyhunt.mf.matching.match_halos`, the MF's rule).
    cnn : DataFrame
        The CNN mass table (:func:`skyhunt.masses.readers.read_cnn_masses`: halo_id, m500c in
        M_sun, sigma_ln_m500c), one row per halo (the qualifying halo of a validation or test
        positive cutout).
    radius_arcmin : float

    Returns
    -------
    dict
        Column -> values per entry; NaN masses where the matched halo has no row in ``cnn``.
    """
    row = match_halos(table["ra"].to_numpy(float), table["dec"].to_numpy(float), halos, radius_arcmin)
    matched = row >= 0
    z = np.where(matched, halos["z"].to_numpy(float)[np.maximum(row, 0)], np.nan)
    at = np.full(len(table), -1)
    at[matched] = pd.Index(cnn["halo_id"].to_numpy()).get_indexer(halos["halo_id"].to_numpy()[row[matched]])
    m = take_rows(cnn["m500c"].to_numpy(float), at, np.nan)
    sigma = take_rows(cnn["sigma_ln_m500c"].to_numpy(float), at, np.nan)
    return {"z": z, "m500c": m, "m500c_lo": m * np.exp(-sigma), "m500c_hi": m * np.exp(sigma)}


def run_catalogue_detector(
    *, stage: str, match_radius_arcmin: float, detections, halos, cnn_masses, fits, parquet
) -> None:
    """The detector's cluster catalogue: its entries of class cluster or cluster_radio, score = prob,
    and the CNN mass of the halo each matches (:func:`detector_masses`).

    Parameters
    ----------
    stage : str
        The evaluation stage.
    match_radius_arcmin : float
        Config ``catalogues.match_radius_arcmin`` (an entry's halo).
    detections : path-like
        ``results/detector/<stage>/detections.parquet``.
    halos : path-like
        The halo table.
    cnn_masses : path-like
        ``results/masses/cnn_<stage>.parquet`` (rule ``cnn_masses``).
    fits, parquet : path-like
        Outputs.
    """
    table = read_detections(detections)
    table = table[table["class"].isin(CLUSTER_CLASSES)].reset_index(drop=True)
    mass = detector_masses(
        table,
        read_halos(halos, ("halo_id", "ra", "dec", "m_vir", "z")),
        read_cnn_masses(cnn_masses),
        match_radius_arcmin,
    )
    table = table.assign(score=table["prob"].to_numpy(float), **mass)
    notes = {
        "source": "rule cnn_masses: the CNN mass network on the cutout holding the entry's matched halo",
        "redshift": io.read_table_meta(cnn_masses).get("redshift", "true redshift of the matched halo"),
        "interval": "exp(ln M -/+ the predicted sigma of ln M)",
    }
    meta = {"stage": stage, "config": {"classes": list(CLUSTER_CLASSES)}, "masses": notes}
    write_catalogue(table, "detector", meta, fits, parquet)
    log.info(
        "detector catalogue: %d cluster entries, %d with a CNN mass",
        len(table),
        int(np.isfinite(table["m500c"]).sum()),
    )


def qualifying_halos(halos: pd.DataFrame, positive: dict) -> pd.DataFrame:
    """Halos of the cutout positive cut (config ``cutouts.positive``), inside the footprint or not.

    The truth of an entry counts halos beyond the footprint's edge too (a detection at the edge
    of a halo just outside is not false); completeness counts the in-footprint ones.
    """
    keep = qualifying_mask(halos, positive["m_vir_min"], positive["z_min"])
    return halos[keep].reset_index(drop=True)


def run_catalogue_ensembles(
    *,
    match_radius_arcmin: float,
    positive: dict,
    l2: float,
    stage: str,
    mf,
    detector,
    halos,
    prod_fits,
    prod_parquet,
    learned_fits,
    learned_parquet,
) -> None:
    """The catalogue ensembles: cross-match, rank product and the learned combination.

    Parameters
    ----------
    match_radius_arcmin : float
        Cross-match radius, arcmin (config ``catalogues.match_radius_arcmin``).
    positive : dict
        Config ``cutouts.positive`` (the labels of the learned fit).
    l2 : float
        Penalty of the learned combination (config ``evaluation.learned.l2``).
    stage : str
        The evaluation stage.
    mf, detector : path-like
        The MF and detector catalogues (Parquet).
    halos : path-like
        Halo table (labels of the validation entries).
    prod_fits, prod_parquet, learned_fits, learned_parquet : path-like
        Outputs.
    """
    mf_table, det_table = read_catalogue(mf, "mf"), read_catalogue(detector, "detector")
    table = add_ranks(combine(mf_table, det_table, match_radius_arcmin))
    # the masses of the matched entry of each catalogue, NaN for none
    for suffix, row_column, cat, columns in (
        ("mf", "mf_row", mf_table, MF_MASS_COLUMNS),
        ("detector", "det_row", det_table, DETECTOR_MASS_COLUMNS),
    ):
        rows = table[row_column].to_numpy()
        for c in columns:
            table[f"{c}_{suffix}"] = take_rows(cat[c].to_numpy(float), rows, np.nan)
    masses = {
        "source": (
            "*_mf: the MF catalogue's masses of the entry's MF match (NaN: detector only); "
            "*_detector: the detector catalogue's CNN masses of its detector match (NaN: MF only)"
        ),
        "redshift": "true redshift of the matched entry's matched halo",
    }
    q = qualifying_halos(read_halos(halos, HALO_COLUMNS), positive)
    true = true_entries(table["ra"], table["dec"], q["ra"], q["dec"], match_radius_arcmin)
    try:
        model = fit_learned(table, true, l2)
    except ValueError as err:
        raise io.InputFileError(f"{mf}, {detector}, {halos}: {err}") from err
    config = {"match_radius_arcmin": match_radius_arcmin, "floor": 0.0}
    prod = table.assign(score=prod_scores(table))
    write_catalogue(
        prod, "ens_prod", {"stage": stage, "config": config, "masses": masses}, prod_fits, prod_parquet
    )
    learned = table.assign(score=model(table["q_detector"].to_numpy(), table["q_mf"].to_numpy()))
    weights = dict(zip(("q_detector", "q_mf", "q_detector_q_mf"), model.weights, strict=True))
    config = {**config, "l2": l2, "intercept": model.intercept, "weights": weights}
    write_catalogue(
        learned,
        "ens_learned",
        {"stage": stage, "config": config, "masses": masses},
        learned_fits,
        learned_parquet,
    )
    counts = table["found_by"].value_counts()
    log.info("catalogue ensemble: %s entries; learned weights %s", dict(counts), weights)


def run_detector_cutout_scores(
    *, cutouts: dict, matching: dict, catalogue, halos, index, cutout_scores
) -> None:
    """The detector's cluster entries to cutouts exactly as the MF's detections (DeepSZ 2.3).

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys size_arcmin, npix, stride_arcmin (arcmin).
    matching : dict
        Config ``mf.matching`` (``radius_arcmin``), the MF's rule.
    catalogue : path-like
        The detector catalogue (Parquet).
    halos, index : path-like
        Halo table and cutout index.
    cutout_scores : path-like
        Output, one row per cutout in index order (:data:`CUTOUT_SCORE_UNITS`).
    """
    entries = read_catalogue(catalogue, "detector")
    table = cutout_snr(
        entries.assign(snr=entries["prob"].to_numpy(float)),
        read_halos(halos, ("halo_id", "ra", "dec", "m_vir")),
        read_index(index, (*GRID_COLUMNS, "split")),
        CutoutGeometry.from_config(cutouts),
        cutouts["stride_arcmin"],
        matching["radius_arcmin"],
    ).rename(columns={"snr": "prob"})
    io.write_table(
        cutout_scores,
        {c: table[c].to_numpy() for c in CUTOUT_SCORE_UNITS},
        CUTOUT_SCORE_UNITS,
        meta={"matching": matching},
    )
    log.info("%d of %d cutouts hold a detector cluster entry", np.sum(table["prob"] > 0), len(table))


def method_metrics(
    entries: pd.DataFrame,
    halos: pd.DataFrame,
    qualifying: pd.DataFrame,
    catalogues: dict,
    rng_name: str,
    seed: int,
) -> tuple[pd.DataFrame, dict]:
    """Completeness-purity curves (validation, test) and N at each purity level of one catalogue.

    Parameters
    ----------
    entries : DataFrame
        The catalogue (ra, dec, score, split).
    halos : DataFrame
        Halos with ``split`` and ``in_footprint`` (the purity-mass truth is taken from them).
    qualifying : DataFrame
        Qualifying halos with ``split`` and ``in_footprint`` (the truth; completeness counts
        the in-footprint ones).
    catalogues : dict
        Config ``catalogues``.
    rng_name : str
        Name of the bootstrap stream (:func:`skyhunt.sky.components.component_rng`).
    seed : int
        Run seed.
    """
    r = catalogues["match_radius_arcmin"]
    heavy = halos[halos["m500c"].to_numpy() >= catalogues["purity_m500c_min"]]
    true = {
        "qualifying": true_entries(entries["ra"], entries["dec"], qualifying["ra"], qualifying["dec"], r),
        "mass": true_entries(entries["ra"], entries["dec"], heavy["ra"], heavy["dec"], r),
    }
    part, best = {}, {}
    curves = []
    for split in SPLITS:
        rows = entries["split"].to_numpy() == split
        part[split] = rows
        q = qualifying[(qualifying["split"].to_numpy() == split) & qualifying["in_footprint"].to_numpy(bool)]
        e = entries[rows]
        best[split] = best_scores(q["ra"], q["dec"], e["ra"], e["dec"], e["score"], r)
        curve = completeness_purity(
            np.unique(e["score"].to_numpy()),
            e["score"],
            true["qualifying"][rows],
            true["mass"][rows],
            best[split],
        )
        curves.append(curve.assign(split=split))
    out = {}
    interval = catalogues["interval"]
    pct = 100 * (1 - interval) / 2, 100 * (1 + interval) / 2
    for kind in PURITY_KINDS:
        for level in catalogues["purity_levels"]:
            rng = component_rng(seed, f"{rng_name}/{kind}/{level}")
            val = part["validation"]
            res = n_at_purity(
                entries["score"].to_numpy()[val],
                true[kind][val],
                best["test"],
                level,
                catalogues["bootstrap_samples"],
                rng,
            )
            lo, hi = np.percentile(res.pop("draws"), pct)
            # null where the level is never reached on validation (JSON has no infinity)
            finite = np.isfinite(res["threshold"])
            res.update(n_lo=float(lo), n_hi=float(hi), threshold=float(res["threshold"]) if finite else None)
            out.setdefault(kind, {})[f"{level:g}"] = res
    return pd.concat(curves, ignore_index=True), out


def detector_ap(detections: pd.DataFrame, objects: pd.DataFrame, radius_arcmin: float, split: str) -> dict:
    """Per-class AP at ``radius_arcmin`` on one split (entries scored by ``prob``) and their mean."""
    d = detections[detections["split"].to_numpy() == split]
    o = objects[objects["split"].to_numpy() == split]
    ap = {}
    for c in DETECTOR_CLASSES:
        e, t = d[d["class"].to_numpy() == c], o[o["class"].to_numpy() == c]
        ap[c] = average_precision(e["ra"], e["dec"], e["prob"], t["ra"], t["dec"], radius_arcmin)
    present = [v for v in ap.values() if np.isfinite(v)]
    return {
        "split": split,
        "ap": {c: (float(v) if np.isfinite(v) else None) for c, v in ap.items()},
        "n_objects": {c: int(np.sum(o["class"].to_numpy() == c)) for c in DETECTOR_CLASSES},
        "map": float(np.mean(present)) if present else None,
    }


def metrics_markdown(metrics: dict) -> str:
    """The headline table (N at purity, test stripe) and the detector's AP as GitHub Markdown."""
    levels = list(next(iter(metrics["methods"].values()))["n_at_purity"]["qualifying"])
    pct = f"{100 * metrics['interval']:.0f} %"
    head = " | ".join(f"N at {float(p):.0%} purity ({k})" for k in PURITY_KINDS for p in levels)
    lines = [
        f"Catalogues, noise stage `{metrics['stage']}`: qualifying clusters found on the test stripe at the "
        "lowest threshold at which the validation purity reaches each level "
        f"({metrics['match_radius_arcmin']:g}' match; purity against qualifying halos and against "
        "halos with M500c >= "
        f"{metrics['purity_m500c_min']:.3g} M_sun); {pct} bootstrap intervals; "
        f"{metrics['n_qualifying_test']} qualifying test halos.",
        "",
        f"| catalogue | {head} |",
        "|---|" + "---|" * (len(PURITY_KINDS) * len(levels)),
    ]
    for m, res in metrics["methods"].items():
        cells = []
        for k in PURITY_KINDS:
            for p in levels:
                v = res["n_at_purity"][k][p]
                t = "never reached" if v["threshold"] is None else f"≥ {v['threshold']:.3g}"
                cells.append(f"{v['n']} [{v['n_lo']:.0f}, {v['n_hi']:.0f}] ({t})")
        lines.append(f"| {CATALOGUE_NAMES[m]} | " + " | ".join(cells) + " |")
    ap = metrics["detector_ap"]
    lines += [
        "",
        f"Detector average precision at {metrics['match_radius_arcmin']:g}' ({ap['split']} stripe):",
        "",
        "| class | objects | AP |",
        "|---|---|---|",
    ]
    for c in DETECTOR_CLASSES:
        v = ap["ap"][c]
        lines.append(f"| {c} | {ap['n_objects'][c]} | {'—' if v is None else f'{v:.3f}'} |")
    mean = "—" if ap["map"] is None else f"{ap['map']:.3f}"
    lines.append(f"| mAP | | {mean} |")
    return "\n".join(lines) + "\n"


def run_catalogue_metrics(
    *,
    catalogues: dict,
    positive: dict,
    footprint: dict,
    splits: dict,
    seed: int,
    stage: str,
    mf,
    detector,
    ens_prod,
    ens_learned,
    vetted_cnn,
    vetted_classical,
    halos,
    objects,
    detections,
    metrics,
    curves,
    md,
) -> None:
    """Completeness, purity, N at purity (with bootstrap intervals) of every catalogue; detector AP.

    Parameters
    ----------
    catalogues : dict
        Config ``catalogues``.
    positive : dict
        Config ``cutouts.positive`` (the qualifying halos).
    footprint, splits : dict
        Config ``sky.footprint`` and ``cutouts.splits`` (the halos' RA stripes).
    seed : int
        Run seed (bootstrap streams).
    stage : str
        The evaluation stage.
    mf, detector, ens_prod, ens_learned, vetted_cnn, vetted_classical : path-like
        The catalogues (Parquet).
    halos, objects, detections : path-like
        Halo table, the detector's truth objects and its peaks of every class.
    metrics, curves, md : path-like
        Outputs: JSON, Parquet curves (:data:`CURVE_UNITS`) and the Markdown table.
    """
    h = read_halos(halos, HALO_COLUMNS)
    h["split"] = split_of(h["ra"].to_numpy(), Footprint.from_config(footprint), splits)
    q = qualifying_halos(h, positive)
    paths = dict(
        zip(ALL_CATALOGUES, (mf, detector, ens_prod, ens_learned, vetted_cnn, vetted_classical), strict=True)
    )
    out = {
        "stage": stage,
        "match_radius_arcmin": catalogues["match_radius_arcmin"],
        "purity_m500c_min": catalogues["purity_m500c_min"],
        "interval": catalogues["interval"],
        "bootstrap_samples": catalogues["bootstrap_samples"],
        "n_qualifying_test": int(np.sum((q["split"] == "test") & q["in_footprint"].to_numpy(bool))),
        "methods": {},
    }
    all_curves = []
    for m, path in paths.items():
        curve, res = method_metrics(
            read_catalogue(path, m), h, q, catalogues, f"catalogue_bootstrap/{m}", seed
        )
        all_curves.append(curve.assign(method=m))
        out["methods"][m] = {"n_at_purity": res}
    out["detector_ap"] = detector_ap(
        read_detections(detections), read_objects(objects), catalogues["match_radius_arcmin"], "test"
    )
    table = pd.concat(all_curves, ignore_index=True)
    io.write_table(curves, {c: table[c].to_numpy() for c in CURVE_UNITS}, CURVE_UNITS, meta={"stage": stage})
    with io.atomic_output(metrics) as tmp:
        tmp.write_text(json.dumps(out, indent=2) + "\n")
    text = metrics_markdown(out)
    with io.atomic_output(md) as tmp:
        tmp.write_text(text, encoding="utf-8")
    log.info("\n%s", text)


def read_metrics(path) -> dict:
    """The JSON of :func:`run_catalogue_metrics`; fails naming the file if it is not one."""
    try:
        out = json.loads(open(path, encoding="utf-8").read())
        missing = set(CATALOGUES) - set(out["methods"])
        out["match_radius_arcmin"], out["stage"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise io.InputFileError(f"{path}: not a metrics file of rule catalogue_metrics ({err!r})") from err
    if missing:
        raise io.InputFileError(f"{path}: no metrics for catalogues {sorted(missing)}")
    return out


def validation_threshold(metrics: dict, method: str = "detector") -> tuple[float, float | None]:
    """(purity level, threshold): a catalogue's validation threshold at the lowest purity level
    against the qualifying halos (None where the validation purity never reaches it)."""
    levels = metrics["methods"][method]["n_at_purity"]["qualifying"]
    level = min(levels, key=float)
    return float(level), levels[level]["threshold"]


def run_detector_edge(
    *,
    cutouts: dict,
    interval: float,
    edge_bin_arcmin: float,
    stage: str,
    catalogue,
    metrics,
    halos,
    index,
    cnn,
    thresholds,
    edge,
) -> None:
    """Completeness of the detector and the classifier against the distance from the nearest cutout centre.

    Parameters
    ----------
    cutouts : dict
        Config ``cutouts`` keys size_arcmin, npix, stride_arcmin and positive.
    interval : float
        Central probability of the intervals (config ``catalogues.interval``).
    edge_bin_arcmin : float
        Distance bin, arcmin (config ``catalogues.edge_bin_arcmin``).
    stage : str
        The evaluation stage.
    catalogue, metrics : path-like
        The detector catalogue and the metrics JSON (its validation threshold at the lowest
        purity level).
    halos, index, cnn, thresholds : path-like
        Halo table, cutout index, the stage's CNN scores and ``thresholds.json`` (the CNN's
        validation threshold).
    edge : path-like
        Output Parquet table (:data:`skyhunt.catalogues.edge.EDGE_UNITS`).
    """
    chosen = read_thresholds(thresholds)
    if chosen["stage"] != stage:
        raise io.InputFileError(f"{thresholds}: thresholds of stage {chosen['stage']}, expected {stage}")
    cnn_threshold = float(chosen["methods"]["cnn"]["threshold"])
    m = read_metrics(metrics)
    level, threshold = validation_threshold(m)
    idx = read_index(index, (*GRID_COLUMNS, "split"))
    scores = io.read_checked_table(cnn, ("cutout_id", "probability"))
    if not np.array_equal(scores["cutout_id"].to_numpy(), idx["cutout_id"].to_numpy()):
        raise io.InputFileError(f"{cnn}: its cutout_id column does not follow {index}")
    q = qualifying_halos(read_halos(halos, HALO_COLUMNS), cutouts["positive"])
    q = q[q["in_footprint"].to_numpy(bool)]
    cut, dist = centre_distance(
        Grid.from_index(idx, cutouts["stride_arcmin"]), CutoutGeometry.from_config(cutouts), q["ra"], q["dec"]
    )
    keep = (cut >= 0) & np.isin(idx["split"].to_numpy()[np.maximum(cut, 0)], SPLITS)
    q, cut, dist = q[keep], cut[keep], dist[keep]
    entries = read_catalogue(catalogue, "detector")
    entries = entries[entries["score"].to_numpy() >= (np.inf if threshold is None else threshold)]
    found = best_scores(
        q["ra"], q["dec"], entries["ra"], entries["dec"], entries["score"], m["match_radius_arcmin"]
    )
    table = edge_table(
        dist,
        np.isfinite(found),
        scores["probability"].to_numpy()[cut] >= cnn_threshold,
        edge_bin_arcmin,
        interval,
    )
    meta = {
        "stage": stage,
        "detector_purity": level,
        "detector_threshold": threshold,
        "cnn_threshold": cnn_threshold,
    }
    io.write_table(edge, {c: table[c].to_numpy() for c in EDGE_UNITS}, EDGE_UNITS, meta=meta)
    log.info("\n%s", table.to_string(index=False))
