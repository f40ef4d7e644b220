"""Shared look of the report figures: method colours, stage labels, atomic saving."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

from skyhunt.evaluation.ensembles import METHOD_NAMES  # noqa: E402
from skyhunt.io import atomic_output  # noqa: E402

#: Colour of each method (DeepSZ colours: CNN black, MF purple, PROD blue).
COLOURS = {
    "mf": "tab:purple",
    "cnn": "black",
    "detector": "tab:brown",
    "and": "tab:orange",
    "prod": "tab:blue",
    "learned": "tab:green",
    "vetted_cnn": "tab:red",
    "vetted_classical": "tab:olive",
}

#: Width of a report figure, inches (at 150 dpi: readable in the HTML report without zooming).
WIDTH = 7.0

RC = {
    "figure.dpi": 150,
    "savefig.dpi": 150,
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "savefig.bbox": "tight",
}


def method_label(method: str) -> str:
    return METHOD_NAMES[method]


def method_colour(method: str) -> str:
    return COLOURS[method]


def stage_label(stages: list[dict], name: str) -> str:
    """Cumulative label of a noise stage from ``sky.stages``, e.g. ``+IR galaxies`` -> "CMB+tSZ+kSZ+IR"."""
    added = []
    for stage in stages:
        added += stage["add"]
        if stage["name"] == name:
            return "+".join(COMPONENT_LABELS.get(c, c) for c in added)
    raise KeyError(f"no noise stage named {name!r} in sky.stages")


COMPONENT_LABELS = {"cmb": "CMB", "tsz": "tSZ", "ksz": "kSZ", "ir": "IR", "radio": "radio", "dust": "dust"}


plt.rcParams.update(RC)


def new_figure(nrows: int = 1, ncols: int = 1, height: float = 3.2, **kwargs):
    """A report-width figure (``plt.subplots`` arguments pass through); ``height`` in inches."""
    return plt.subplots(nrows, ncols, figsize=(WIDTH, height), **kwargs)


def save_figure(fig, png_path, pdf_path) -> None:
    """Write ``fig`` as PNG and PDF, each atomically (no partial file on failure), and close it."""
    for path, fmt in ((png_path, "png"), (pdf_path, "pdf")):
        with atomic_output(path) as tmp:
            fig.savefig(tmp, format=fmt, metadata=_metadata(fmt))
    plt.close(fig)


def _metadata(fmt: str) -> dict:
    """No creation date or software version in the files, so reruns give the same bytes."""
    if fmt == "pdf":
        return {"CreationDate": None, "Producer": None, "Creator": None}
    return {"Software": None}
