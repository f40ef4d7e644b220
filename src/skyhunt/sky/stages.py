"""The sky components and the cumulative noise ladder of the config (DeepSZ, Lin et al. 2021,
section 1.2: CMB + tSZ, then kSZ, infrared galaxies, radio galaxies and Galactic dust).

Pure Python: the Snakefile and :mod:`skyhunt.config` import it on every Snakemake invocation.
"""

from __future__ import annotations

#: Sky components a stage may add, in DeepSZ's order.
COMPONENTS = ("cmb", "tsz", "ksz", "ir", "radio", "dust")


def stage_components(stages: list[dict], stage: str) -> list[str]:
    """Sky components in a cumulative noise stage: those added by it and all before it.

    Raises
    ------
    KeyError
        If ``stage`` is not configured.
    """
    names = [s["name"] for s in stages]
    if stage not in names:
        raise KeyError(f"noise stage {stage!r} is not in config sky.stages ({names})")
    out = []
    for s in stages[: names.index(stage) + 1]:
        out.extend(s["add"])
    return out
