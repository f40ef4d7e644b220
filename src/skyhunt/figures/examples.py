"""Example cutouts: the noise ladder of a positive and a negative cutout (DeepSZ Fig. 1) and test
positives as RGB images, by CNN and MF outcome (DeepSZ Fig. 7).

Cutout arrays ``a[band, iy, ix]`` are north up and east left as displayed by ``imshow`` (row 0 is
the northern edge, column 0 the eastern edge; :mod:`skyhunt.cutouts.grid`). The plots use the
extent of :func:`cutout_extent`: x is the offset east of the cutout centre in arcmin, increasing
to the left as on the sky, and y the offset north. Temperatures are in µK_CMB.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.patches import Circle

from skyhunt import io
from skyhunt.cutouts.arrays import check_index_matches, load_cutout_array
from skyhunt.cutouts.grid import ARCMIN, tan_project
from skyhunt.cutouts.readers import read_index
from skyhunt.evaluation.pipeline import read_ensemble_scores
from skyhunt.figures.style import COMPONENT_LABELS, WIDTH, method_label, save_figure, stage_label
from skyhunt.sky.readers import read_halos

log = logging.getLogger("skyhunt.figures")

#: Pixels beyond this percentile of |T - centre| (over all stages of a band) saturate the colour
#: scale of :func:`band_scales`, so that one bright source does not wash out the tSZ decrement.
CLIP_PERCENTILE = 99.5

#: Percentile of |T - median| over all shown cutouts that saturates an RGB channel (:func:`rgb_halfwidth`).
RGB_PERCENTILE = 99.0

#: Radius of the dashed circle around the halo in the RGB panels, arcmin.
HALO_CIRCLE_ARCMIN = 1.0

#: Index columns the example figures read.
INDEX_COLUMNS = ("cutout_id", "split", "label", "n_qualifying_in_cutout", "halo_m_vir", "halo_z")
HALO_OFFSET_COLUMNS = ("halo_dx_arcmin", "halo_dy_arcmin")

#: Ensemble score columns :func:`positive_outcomes` reads (``results/ensembles/scores.parquet``).
SCORE_COLUMNS = ("cutout_id", "split", "label", "cnn", "mf", "prod", "cnn_pos", "mf_pos", "prod_pos")

#: The (cnn_pos, mf_pos) classes of DeepSZ Fig. 7, in panel order: rows CNN TP / FN, columns MF TP / FN.
OUTCOMES = ((True, True), (True, False), (False, True), (False, False))


def cutout_extent(size_arcmin: float) -> tuple[float, float, float, float]:
    """``imshow`` extent (left, right, bottom, top) of a cutout, arcmin from its centre.

    East (positive RA offsets) is on the left, as on the sky, and north up.
    """
    half = size_arcmin / 2.0
    return (half, -half, -half, half)


def band_order(bands: list[dict]) -> np.ndarray:
    """Positions of the bands in increasing frequency (R, G, B = lowest to highest for RGB)."""
    return np.argsort([b["freq_ghz"] for b in bands], kind="stable")


def band_label(band: dict) -> str:
    """E.g. ``{"freq_ghz": 90.0}`` -> "90 GHz"."""
    return f"{band['freq_ghz']:g} GHz"


def stage_increments(stages: list[dict]) -> list[str]:
    """Column titles of the noise ladder: the first stage in full, then what each stage adds.

    E.g. ["CMB+tSZ", "+kSZ", "+IR", "+radio", "+dust"] for the DeepSZ ladder (instrument noise is
    in every stage).
    """
    first = stage_label(stages, stages[0]["name"])
    return [first] + ["+" + "+".join(COMPONENT_LABELS.get(c, c) for c in s["add"]) for s in stages[1:]]


def choose_examples(index: pd.DataFrame, seed: int, split: str = "test") -> tuple[int, int]:
    """Rows (array order) of the positive and negative example cutouts of DeepSZ Fig. 1.

    Parameters
    ----------
    index : DataFrame
        Cutout index (``results/cutouts/index.parquet``), one row per cutout in array order.
    seed : int
        Seed (config ``seed``) of the draw of the negative.
    split : str
        The split the examples come from.

    Returns
    -------
    positive, negative : int
        The positive holds the most massive qualifying halo (largest M_vir) of ``split``, the lowest
        row on ties. The negative is drawn uniformly with ``seed`` among the cutouts of ``split`` with
        no qualifying halo anywhere in their 8' x 8' (``n_qualifying_in_cutout == 0``), so that no
        cluster just outside the central region shows in it.

    Raises
    ------
    ValueError
        If ``split`` has no positive or no such negative.
    """
    in_split = index["split"].to_numpy() == split
    label = index["label"].to_numpy(bool)
    positives = np.flatnonzero(in_split & label)
    negatives = np.flatnonzero(in_split & ~label & (index["n_qualifying_in_cutout"].to_numpy() == 0))
    if positives.size == 0 or negatives.size == 0:
        raise ValueError(
            f"split {split!r} has {positives.size} positive cutouts and {negatives.size} without any "
            "qualifying halo; the examples need one of each"
        )
    mass = index["halo_m_vir"].to_numpy(float)[positives]
    positive = int(positives[np.argmax(mass)])  # argmax: the first (lowest row) on ties
    negative = int(np.random.default_rng(seed).choice(negatives))
    return positive, negative


def brightest_halo(halos: pd.DataFrame, ra0: float, dec0: float, size_arcmin: float) -> pd.Series | None:
    """The halo with the strongest tSZ signal (largest Y_5R500) centred inside a cutout.

    Parameters
    ----------
    halos : DataFrame
        Halo catalogue (``results/sky/halos.parquet``): ra, dec (deg), m_vir, z, y5r500_arcmin2.
    ra0, dec0 : float
        Cutout centre, degrees.
    size_arcmin : float
        Cutout side, arcmin.

    Returns
    -------
    Series or None
        The halo's row with ``dx_arcmin`` and ``dy_arcmin`` (east and north of the centre in the
        cutout's tangent plane) added; None if no halo is centred inside the cutout.
    """
    half = size_arcmin / 2.0
    ra, dec = halos["ra"].to_numpy(float), halos["dec"].to_numpy(float)
    # a box a few times the cutout around it first: the gnomonic projection folds the far side in
    dra = ((ra - ra0 + 180.0) % 360.0 - 180.0) * np.cos(np.radians(dec0))
    near = np.flatnonzero((np.abs(dec - dec0) < 2 * half / 60.0) & (np.abs(dra) < 2 * half / 60.0))
    xi, eta = tan_project(ra0, dec0, ra[near], dec[near])
    dx, dy = xi / ARCMIN, eta / ARCMIN
    inside = (np.abs(dx) <= half) & (np.abs(dy) <= half)
    if not inside.any():
        return None
    k = np.argmax(np.where(inside, halos["y5r500_arcmin2"].to_numpy(float)[near], -np.inf))
    out = halos.iloc[near[k]].copy()
    out["dx_arcmin"], out["dy_arcmin"] = float(dx[k]), float(dy[k])
    return out


def band_scales(stack: np.ndarray, percentile: float = CLIP_PERCENTILE) -> tuple[np.ndarray, np.ndarray]:
    """A diverging colour scale per band, shared by all noise stages of one cutout.

    Parameters
    ----------
    stack : ndarray, shape (stages, bands, npix, npix)
        One cutout at every noise stage, µK_CMB.
    percentile : float
        Percentile of |T - centre| over all stages' pixels of a band that sets the half-width.

    Returns
    -------
    centre : ndarray, shape (bands,)
        Median of the first stage's pixels (the local CMB level), µK_CMB.
    halfwidth : ndarray, shape (bands,)
        The colour scale of band b spans centre[b] +- halfwidth[b], µK_CMB; brighter pixels
        (usually point sources of later stages) saturate.
    """
    stack = np.asarray(stack, dtype=np.float64)
    centre = np.median(stack[0], axis=(1, 2))
    dev = np.abs(stack - centre[None, :, None, None])
    halfwidth = np.percentile(dev.transpose(1, 0, 2, 3).reshape(stack.shape[1], -1), percentile, axis=1)
    return centre, np.maximum(halfwidth, np.finfo(float).tiny)


@dataclass(frozen=True)
class Example:
    """One example cutout of :func:`plot_cutout_examples`.

    Attributes
    ----------
    title : str
    stack : ndarray, shape (stages, bands, npix, npix)
        The cutout at every noise stage, µK_CMB.
    halo : (float, float) or None
        (east, north) offset of a halo to mark, arcmin.
    qualifying : bool
        Whether that halo makes the cutout positive (red x) or not (black +).
    """

    title: str
    stack: np.ndarray
    halo: tuple[float, float] | None
    qualifying: bool


#: Marker of a halo (qualifying: DeepSZ's red x) drawn over a white one of the same shape.
HALO_MARKERS = {True: ("x", "red"), False: ("+", "black")}


def plot_cutout_examples(
    examples: list[Example],
    column_titles: list[str],
    band_labels: list[str],
    size_arcmin: float,
    central_arcmin: float,
    png_path,
    pdf_path,
) -> None:
    """DeepSZ Fig. 1: examples (blocks of rows = bands) through the noise ladder (columns).

    Parameters
    ----------
    examples : list of Example
        Each a block of rows (one per band).
    column_titles : list of str
        One per stage (:func:`stage_increments`).
    band_labels : list of str
        One per band, e.g. "90 GHz".
    size_arcmin, central_arcmin : float
        Cutout side, and side of the central square (dashed) where a halo makes a cutout positive.
    png_path, pdf_path : path-like
    """
    n_stages, n_bands = examples[0].stack.shape[:2]
    extent = cutout_extent(size_arcmin)
    width = min(WIDTH, 1.3 * n_stages + 0.9)  # narrower for short ladders: no gaps between columns
    fig = plt.figure(figsize=(width, 1.33 * n_bands * len(examples) + 0.5), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(examples), 1, hspace=0.03))
    half_c = central_arcmin / 2.0
    ticks = _ticks(size_arcmin)
    for subfig, example in zip(subfigs, examples, strict=True):
        stack = example.stack
        subfig.suptitle(example.title, fontsize=9)
        axes = subfig.subplots(n_bands, n_stages, sharex=True, sharey=True)
        centre, halfwidth = band_scales(stack)
        for b in range(n_bands):
            for s in range(n_stages):
                ax = axes[b, s]
                im = ax.imshow(
                    stack[s, b],
                    extent=extent,
                    origin="upper",
                    cmap="RdBu_r",
                    vmin=centre[b] - halfwidth[b],
                    vmax=centre[b] + halfwidth[b],
                    interpolation="nearest",
                )
                ax.plot(
                    [half_c, -half_c, -half_c, half_c, half_c],
                    [half_c, half_c, -half_c, -half_c, half_c],
                    color="0.3",
                    lw=0.6,
                    ls=(0, (3, 2)),
                )
                if example.halo is not None:
                    marker, colour = HALO_MARKERS[example.qualifying]
                    ax.plot(*example.halo, marker=marker, color="white", ms=7, mew=2.6)
                    ax.plot(*example.halo, marker=marker, color=colour, ms=7, mew=1.4)
                ax.set_xticks(ticks)
                ax.set_yticks(ticks)
                ax.tick_params(labelsize=7, length=2)
                if b == 0:
                    ax.set_title(column_titles[s], fontsize=8)
                if s == 0:
                    ax.set_ylabel(f"{band_labels[b]}\nDec offset [']", fontsize=8)
                if b == n_bands - 1:
                    ax.set_xlabel("RA offset [']", fontsize=8)
            cbar = subfig.colorbar(im, ax=axes[b, :], extend="both", pad=0.01, fraction=0.04, aspect=12)
            cbar.set_label("T [µK$_{\\rm CMB}$]", fontsize=7)
            cbar.ax.tick_params(labelsize=7)
    save_figure(fig, png_path, pdf_path)


def _ticks(size_arcmin: float) -> list[float]:
    """Symmetric ticks every 2' (or a coarser step for large cutouts) inside +- size / 2."""
    step = max(2.0, 2.0 * math.floor(size_arcmin / 8.0))
    k = math.floor(size_arcmin / 2.0 / step)
    return [i * step for i in range(-k, k + 1)]


def _mass_text(m_vir: float, z: float) -> str:
    """E.g. "M_vir = 8.1e14 M_sun, z = 0.57" in mathtext."""
    exponent = math.floor(math.log10(m_vir))
    return rf"$M_{{\rm vir}}={m_vir / 10**exponent:.1f}\times10^{{{exponent}}}\,M_\odot$, $z={z:.2f}$"


def run_cutout_examples(
    *,
    arrays: list,
    index,
    halos,
    stages: list[dict],
    bands: list[dict],
    cutouts: dict,
    seed: int,
    png,
    pdf,
) -> None:
    """The ``cutout_examples`` rule: DeepSZ Fig. 1 from the cutouts of every noise stage.

    Parameters
    ----------
    arrays : list of path-like
        ``results/cutouts/<stage>.npy`` in the order of ``stages``.
    index : path-like
        ``results/cutouts/index.parquet``.
    halos : path-like
        ``results/sky/halos.parquet`` (the strongest-tSZ halo in the negative, :func:`brightest_halo`).
    stages : list of dict
        Config ``sky.stages``.
    bands : list of dict
        Config ``sky.bands`` entries (``freq_ghz``, GHz).
    cutouts : dict
        Config ``cutouts`` keys ``size_arcmin`` and ``central_arcmin`` (arcmin).
    seed : int
        Config ``seed`` (draw of the negative example).
    png, pdf : path-like
        Outputs.
    """
    if len(arrays) != len(stages):
        raise ValueError(f"{len(arrays)} cutout arrays for {len(stages)} noise stages")
    cutout_index = read_index(index, ("ra", "dec", *INDEX_COLUMNS, *HALO_OFFSET_COLUMNS))
    halo_table = read_halos(halos, ("ra", "dec", "z", "m_vir", "y5r500_arcmin2"))
    cubes = [load_cutout_array(p) for p in arrays]
    for path, cube in zip(arrays, cubes, strict=True):
        check_index_matches(cutout_index, cube, index, path)
        if cube.shape[1:] != cubes[0].shape[1:] or cube.shape[1] != len(bands):
            raise io.InputFileError(
                f"{path}: cutouts of shape {cube.shape[1:]}, expected {len(bands)} bands "
                f"like {arrays[0]} {cubes[0].shape[1:]}"
            )
    positive, negative = choose_examples(cutout_index, seed)
    pos, neg = cutout_index.iloc[positive], cutout_index.iloc[negative]
    examples = [
        Example(
            f"Positive: test cutout {pos['cutout_id']}, the most massive test halo (x): "
            f"{_mass_text(pos['halo_m_vir'], pos['halo_z'])}",
            np.stack([np.asarray(a[positive], dtype=np.float64) for a in cubes]),
            (float(pos["halo_dx_arcmin"]), float(pos["halo_dy_arcmin"])),
            True,
        )
    ]
    title = f"Negative: test cutout {neg['cutout_id']} (drawn with seed {seed})"
    other = brightest_halo(halo_table, neg["ra"], neg["dec"], cutouts["size_arcmin"])
    if other is not None:
        title += f"; strongest-tSZ halo in it (+): {_mass_text(other['m_vir'], other['z'])}"
    examples.append(
        Example(
            title,
            np.stack([np.asarray(a[negative], dtype=np.float64) for a in cubes]),
            None if other is None else (other["dx_arcmin"], other["dy_arcmin"]),
            False,
        )
    )
    log.info(
        "positive example: cutout %d (M_vir %.3g M_sun, z %.2f); negative example: cutout %d",
        pos["cutout_id"],
        pos["halo_m_vir"],
        pos["halo_z"],
        neg["cutout_id"],
    )
    plot_cutout_examples(
        examples,
        stage_increments(stages),
        [band_label(b) for b in bands],
        cutouts["size_arcmin"],
        cutouts["central_arcmin"],
        png,
        pdf,
    )


# ---------------------------------------------------------------------------------------------
# DeepSZ Fig. 7: test positives as RGB images, by CNN and MF outcome


def positive_outcomes(scores: pd.DataFrame, index: pd.DataFrame, split: str = "test") -> pd.DataFrame:
    """The positive cutouts of ``split`` with each method's outcome and their halo.

    Parameters
    ----------
    scores : DataFrame
        Ensemble scores (``results/ensembles/scores.parquet``, :data:`SCORE_COLUMNS`).
    index : DataFrame
        Cutout index, in array order.
    split : str

    Returns
    -------
    DataFrame
        One row per positive: ``row`` (position in the cutout arrays), the score columns, and
        halo_m_vir (M_sun), halo_z, halo_dx_arcmin, halo_dy_arcmin (arcmin east / north).

    Raises
    ------
    ValueError
        If a scored cutout is not in the index or its label disagrees with it.
    """
    part = scores[(scores["split"] == split) & scores["label"].astype(bool)]
    row = pd.Series(np.arange(len(index)), index=index["cutout_id"].to_numpy())
    unknown = ~part["cutout_id"].isin(row.index)
    if unknown.any():
        raise ValueError(f"scored cutouts {part['cutout_id'][unknown].tolist()[:5]} are not in the index")
    out = part[list(SCORE_COLUMNS)].reset_index(drop=True)
    out.insert(0, "row", row.loc[out["cutout_id"]].to_numpy())
    halo = index.iloc[out["row"]]
    if not halo["label"].astype(bool).all():
        raise ValueError("the ensemble scores label cutouts positive that the cutout index does not")
    for c in ("halo_m_vir", "halo_z", *HALO_OFFSET_COLUMNS):
        out[c] = halo[c].to_numpy()
    return out


def pick_examples(outcomes: pd.DataFrame) -> dict[tuple[bool, bool], pd.Series | None]:
    """One example per (cnn_pos, mf_pos) class: the member with the median PROD score.

    With an even number of members, the lower of the two middle ones; ties in PROD are ordered by
    cutout_id. Classes without members map to None.
    """
    picks = {}
    for cnn_pos, mf_pos in OUTCOMES:
        members = outcomes[(outcomes["cnn_pos"] == cnn_pos) & (outcomes["mf_pos"] == mf_pos)]
        members = members.sort_values(["prod", "cutout_id"], kind="stable")
        picks[cnn_pos, mf_pos] = members.iloc[(len(members) - 1) // 2] if len(members) else None
    return picks


def relative_to_median(cutouts: np.ndarray) -> np.ndarray:
    """Cutouts (N, bands, npix, npix) minus each cutout's per-band median, µK_CMB.

    Removes the local CMB level, which varies by hundreds of µK between cutouts and would
    otherwise set each image's brightness; the cutout's structure (gradients, sources, tSZ) stays.
    """
    cutouts = np.asarray(cutouts, dtype=np.float64)
    return cutouts - np.median(cutouts, axis=(2, 3), keepdims=True)


def rgb_halfwidth(cutouts: np.ndarray, percentile: float = RGB_PERCENTILE) -> np.ndarray:
    """Per-channel half-width of the RGB scale: a percentile of |T| over a set of cutouts.

    Parameters
    ----------
    cutouts : ndarray, shape (N, bands, npix, npix)
        µK_CMB relative to each cutout's median (:func:`relative_to_median`).
    percentile : float
        Percentile of |T| over all cutouts and pixels of a band.

    Returns
    -------
    ndarray, shape (bands,)
        µK_CMB.
    """
    flat = np.abs(np.asarray(cutouts, dtype=np.float64)).transpose(1, 0, 2, 3).reshape(cutouts.shape[1], -1)
    return np.maximum(np.percentile(flat, percentile, axis=1), np.finfo(np.float32).tiny)


def to_rgb(cutout: np.ndarray, halfwidth: np.ndarray) -> np.ndarray:
    """An RGB image of one cutout: channel b is -T_b mapped linearly from [-a_b, a_b] to [0, 1].

    Negation makes the tSZ decrement (at 90 and 148 GHz, nearly null at 219 GHz) bright in the
    first two channels: a cluster is yellow-orange on a grey background (T = 0 is mid-grey in
    every channel); sources brighter at high frequency (dusty galaxies) are dark and brown.

    Parameters
    ----------
    cutout : ndarray, shape (3, npix, npix)
        µK_CMB relative to the cutout's median, channels in R, G, B order.
    halfwidth : ndarray, shape (3,)
        a_b, µK_CMB (:func:`rgb_halfwidth`); brighter pixels saturate.

    Returns
    -------
    ndarray, shape (npix, npix, 3), float64 in [0, 1]
    """
    x = 0.5 - np.asarray(cutout, dtype=np.float64) / (2.0 * np.asarray(halfwidth)[:, None, None])
    return np.clip(x, 0.0, 1.0).transpose(1, 2, 0)


def plot_rgb_examples(
    picks: dict,
    images: dict,
    counts: dict,
    size_arcmin: float,
    suptitle: str,
    png_path,
    pdf_path,
) -> None:
    """DeepSZ Fig. 7: a 2 x 2 grid, rows CNN TP / FN, columns MF TP / FN.

    Parameters
    ----------
    picks : dict
        (cnn_pos, mf_pos) -> row of :func:`positive_outcomes` or None (:func:`pick_examples`).
    images : dict
        (cnn_pos, mf_pos) -> RGB image (npix, npix, 3) of the pick (:func:`to_rgb`).
    counts : dict
        (cnn_pos, mf_pos) -> number of positives in the class.
    size_arcmin : float
        Cutout side.
    suptitle : str
    png_path, pdf_path : path-like
    """
    fig, axes = plt.subplots(2, 2, figsize=(WIDTH, WIDTH * 1.08), layout="constrained")
    extent = cutout_extent(size_arcmin)
    total = sum(counts.values())
    name = {True: "TP", False: "FN"}
    ticks = _ticks(size_arcmin)
    for k, key in enumerate(OUTCOMES):
        ax = axes.flat[k]
        cnn_pos, mf_pos = key
        head = f"{method_label('cnn')} {name[cnn_pos]}, {method_label('mf')} {name[mf_pos]}"
        head += f" ({counts[key]} of {total})"
        pick = picks[key]
        ax.set_xticks(ticks)
        ax.set_yticks(ticks)
        if pick is None:
            ax.set_xlim(extent[:2])
            ax.set_ylim(extent[2:])
            ax.set_aspect("equal")
            ax.set_facecolor("0.92")
            ax.text(0, 0, f"no test positive is\n{head.split(' (')[0]}", ha="center", va="center")
            ax.set_title(head + "\n\n\n", fontsize=8)
        else:
            ax.imshow(images[key], extent=extent, origin="upper", interpolation="nearest")
            halo = (pick["halo_dx_arcmin"], pick["halo_dy_arcmin"])
            ax.add_patch(Circle(halo, HALO_CIRCLE_ARCMIN, fill=False, ec="white", lw=1.0, ls="--"))
            caught = "caught" if pick["prod_pos"] else "missed"
            ax.set_title(
                f"{head}\ncutout {pick['cutout_id']}: $p_{{\\rm CNN}}={pick['cnn']:.2f}$, "
                f"SNR$_{{\\rm MF}}={pick['mf']:.1f}$\n{method_label('prod')}: {caught}\n"
                f"{_mass_text(pick['halo_m_vir'], pick['halo_z'])}",
                fontsize=8,
            )
        if k % 2 == 0:
            ax.set_ylabel("Dec offset [arcmin]")
        if k >= 2:
            ax.set_xlabel("RA offset [arcmin]")
    fig.suptitle(suptitle, fontsize=9)
    save_figure(fig, png_path, pdf_path)


def run_rgb_examples(
    *,
    scores,
    index,
    array,
    stages: list[dict],
    stage: str,
    bands: list[dict],
    size_arcmin: float,
    png,
    pdf,
) -> None:
    """The ``rgb_examples`` rule: DeepSZ Fig. 7 from the ensemble scores of the evaluation stage.

    Parameters
    ----------
    scores : path-like
        ``results/ensembles/scores.parquet`` (outcomes at the thresholds chosen on validation).
    index : path-like
        ``results/cutouts/index.parquet``.
    array : path-like
        ``results/cutouts/<stage>.npy`` of the evaluation stage.
    stages : list of dict
        Config ``sky.stages`` (for the stage's label).
    stage : str
        The evaluation stage.
    bands : list of dict
        Config ``sky.bands`` entries (``freq_ghz``, GHz); exactly three, shown as R, G, B in
        increasing frequency.
    size_arcmin : float
        Cutout side, arcmin (config ``cutouts.size_arcmin``).
    png, pdf : path-like
        Outputs.
    """
    if len(bands) != 3:
        raise ValueError(f"an RGB image needs exactly 3 bands (config sky.bands), got {len(bands)}")
    table = read_ensemble_scores(scores, SCORE_COLUMNS)
    cutout_index = read_index(index, INDEX_COLUMNS + HALO_OFFSET_COLUMNS)
    stack = load_cutout_array(array)
    check_index_matches(cutout_index, stack, index, array)
    outcomes = positive_outcomes(table, cutout_index)
    if outcomes.empty:
        raise io.InputFileError(f"{scores}: no test positives")
    order = band_order(bands)
    cube = relative_to_median(stack[np.sort(outcomes["row"].to_numpy())][:, order])
    halfwidth = rgb_halfwidth(cube)
    picks = pick_examples(outcomes)
    images, counts = {}, {}
    for key, pick in picks.items():
        counts[key] = int(((outcomes["cnn_pos"] == key[0]) & (outcomes["mf_pos"] == key[1])).sum())
        if pick is not None:
            images[key] = to_rgb(relative_to_median(stack[int(pick["row"])][None, order])[0], halfwidth)
            log.info("class %s: %d positives; cutout %d", key, counts[key], pick["cutout_id"])
    rgb = "/".join(f"{bands[i]['freq_ghz']:g}" for i in order)
    plot_rgb_examples(
        picks,
        images,
        counts,
        size_arcmin,
        f"Test positives, {stage_label(stages, stage)}: R/G/B = $-(T - $cutout median$)$ at {rgb} GHz\n"
        "tSZ decrements are yellow, dusty galaxies dark brown; "
        f"dashed circle: {HALO_CIRCLE_ARCMIN:g}' around the halo",
        png,
        pdf,
    )
