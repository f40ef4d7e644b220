"""Input reading for the figure rules of ``workflow/rules/ensembles.smk``."""

from __future__ import annotations

from skyhunt import io
from skyhunt.evaluation.pipeline import load_method_scores, read_thresholds
from skyhunt.figures.style import stage_label
from skyhunt.figures.thresholds import plot_noise_components, stage_metrics


def read_ensembles(scores_path, thresholds_path):
    """(scores DataFrame, thresholds per method) written by the ``ensembles`` rule."""
    scores, _ = io.read_table(scores_path)
    return scores, read_thresholds(thresholds_path)["methods"]


def run_noise_components(stages, sky_stages, index_path, cnn_paths, mf_paths, png, pdf, table_path) -> None:
    """DeepSZ Fig. 8 for every stage of ``cnn.stages``, and its numbers as a CSV table."""
    scores = {
        s: load_method_scores(index_path, c, m) for s, c, m in zip(stages, cnn_paths, mf_paths, strict=True)
    }
    metrics = stage_metrics(scores)
    with io.atomic_output(table_path) as tmp:
        metrics.to_csv(tmp, index=False, float_format="%.6g")
    plot_noise_components(scores, metrics, {s: stage_label(sky_stages, s) for s in stages}, png, pdf)
