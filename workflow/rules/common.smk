# Shared helpers: config validation, wildcard values and input functions.
import os
import sys

from skyhunt.config import ConfigError, validate_config
from skyhunt.sky.components import stage_components

try:
    validated = validate_config(config)
except ConfigError as err:
    sys.exit(f"skyhunt: invalid configuration\n{err}")
config.clear()
config.update(validated)

# Jobs in a conda environment (envs/skyhunt.yaml) import skyhunt from the source tree.
os.environ["PYTHONPATH"] = os.pathsep.join(
    p for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH")) if p
)

BANDS = [b["name"] for b in config["sky"]["bands"]]
STAGES = [s["name"] for s in config["sky"]["stages"]]
SKY = "results/sky"


wildcard_constraints:
    band="|".join(BANDS),
    stage="|".join(STAGES),


def observed_map_inputs(wildcards):
    """Component maps of the stage's cumulative components, plus noise, for one band."""
    comps = stage_components(config["sky"]["stages"], wildcards.stage)
    return [f"{SKY}/components/{c}_{wildcards.band}.fits" for c in comps + ["noise"]]
