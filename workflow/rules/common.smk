# Shared helpers: config validation, wildcard values and input functions.
import dataclasses
import functools
import os
import re
import sys
import urllib.parse

import yaml
from snakemake.utils import update_config

from skyhunt.config import ConfigError, check_config_files, validate_config
from skyhunt.download import DownloadError, load_manifest
from skyhunt.sky.stages import COMPONENTS, stage_components
from skyhunt.sky.scan import scan_filter_on
from skyhunt.sky.instrument import red_lmax

try:
    # Snakemake keeps the last value of a key given twice in a config file: re-read each strictly
    check_config_files(workflow.configfiles)
    # --config 'sky={nside: 1024}' reaches the Snakefile as the string '1024': validate_config reads it
    validated = validate_config(config, command_line=workflow.config_settings.config)
except ConfigError as err:
    sys.exit(f"skyhunt: invalid configuration\n{err}")
config.clear()
config.update(validated)

# Jobs in a conda environment (envs/skyhunt.yaml) import skyhunt from the source tree.
# (A write, so no envvars directive: the workflow requires no environment variable.)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p
        for p in (os.path.join(workflow.basedir, "src"), os.environ.get("PYTHONPATH"))
        if p
    )
)

BANDS = [b["name"] for b in config["sky"]["bands"]]
STAGES = [s["name"] for s in config["sky"]["stages"]]
# Every output, log and benchmark of this configuration lands under config results_dir.
RESULTS = config["results_dir"]
SKY = f"{RESULTS}/sky"
# The noise stage of the ensembles, Table 1 and single-stage figures (DeepSZ section 3).
EVAL_STAGE = config["evaluation"]["stage"] or config["cnn"]["stages"][-1]


wildcard_constraints:
    band="|".join(BANDS),
    stage="|".join(STAGES),


def logfile(name):
    """Path of a job's log file, e.g. logfile("cnn/train_{stage}.log")."""
    return f"{RESULTS}/logs/{name}"


def benchfile(name):
    """Path of a job's benchmark table, e.g. benchfile("cnn/train_{stage}.tsv")."""
    return f"{RESULTS}/benchmarks/{name}"


# ---------------------------------------------------------------------------------------------
# params: each rule gets exactly the config values its step reads, so that editing an unrelated
# key never reruns it (Snakemake reruns a job when its params change).


def pick(section, *keys):
    """A config section with only the given keys."""
    return {key: section[key] for key in keys}


def without(section, *keys):
    """A config section without the given keys."""
    return {key: value for key, value in section.items() if key not in keys}


def components_of_stage(wildcards):
    """Input function of params: the sky components in the {stage} wildcard's maps."""
    return stage_components(config["sky"]["stages"], wildcards.stage)


def mf_sources(wildcards):
    """Input function of matched_filter: the source catalogue, none for treatment detect."""
    if config["mf"]["point_sources"]["treatment"] == "detect":
        return []
    return f"{SKY}/sources.parquet"


def band_fields(*fields):
    """Every band of sky.bands, in order, with only the given fields."""
    return [pick(band, *fields) for band in config["sky"]["bands"]]


def band_entry(*fields):
    """Input function of params: the {band} wildcard's entry of sky.bands with only the given fields."""

    def entry(wildcards):
        (band,) = [b for b in config["sky"]["bands"] if b["name"] == wildcards.band]
        return pick(band, *fields)

    return entry


# The scan filter (sky.scan_filter): observed_map gets the filter's keys only when it is on, so
# editing them with the filter off reruns nothing; the matched filter then reads its transfer.
SCAN_FILTER = (
    without(config["sky"]["scan_filter"], "transfer_realisations")
    if scan_filter_on(config["sky"]["scan_filter"])
    else None
)


def matched_filter_transfer(wildcards):
    """Named input of matched_filter: the scan filter's transfer function, only when it is on."""
    if SCAN_FILTER is None:
        return {}
    return {"transfer": f"{RESULTS}/mf/scan_transfer.fits"}


def observed_map_inputs(wildcards):
    """Component maps of the stage's cumulative components, plus noise, for one band."""
    comps = stage_components(config["sky"]["stages"], wildcards.stage)
    return [f"{SKY}/components/{c}_{wildcards.band}.fits" for c in comps + ["noise"]]


# ---------------------------------------------------------------------------------------------
# instrument noise: depth maps (sky.noise.depth) and red noise (sky.bands[].ell_knee)

DEPTH = config["sky"]["noise"]["depth"]


def depth_weights_input(wildcards):
    """The user's weight map of the {band} wildcard (depth model file), else nothing."""
    if DEPTH["model"] != "file":
        return []
    return [DEPTH["path_template"].format(band=wildcards.band)]


def noise_ivar_input(wildcards):
    """The {band} wildcard's depth map when the depth is not uniform, else nothing."""
    return (
        []
        if DEPTH["model"] == "uniform"
        else [f"{SKY}/depth/ivar_{wildcards.band}.fits"]
    )


def mf_ivar_inputs(wildcards):
    """Every band's depth map for the matched filter's local normalisation (depth not uniform
    and mf.noise model; the maps noise estimate already follows each tile), else nothing.
    """
    if DEPTH["model"] == "uniform" or config["mf"]["noise"] != "model":
        return []
    return [f"{SKY}/depth/ivar_{band}.fits" for band in BANDS]


def noise_map_mem_mb(wildcards):
    """Memory of a noise_map job, MB: the red-noise harmonic coefficients dominate when present."""
    (band,) = [b for b in config["sky"]["bands"] if b["name"] == wildcards.band]
    if not band["ell_knee"]:
        return 1000
    lmax = red_lmax(band, config["sky"]["noise"], config["sky"]["nside"])
    return 1000 + (lmax + 1) ** 2 * 64 // 10**6


# ---------------------------------------------------------------------------------------------
# sky sources (sky.source): simulate.smk or imported.smk makes the component maps and tables

SKY_SOURCE = config["sky"]["source"]
SKY_COMPONENTS = sorted({c for s in config["sky"]["stages"] for c in s["add"]})
SEHGAL = "resources/sehgal2010"
SEHGAL_CFG = config["sky"]["sehgal2010"]
SHIPPED_MANIFEST = os.path.join(
    workflow.basedir, "workflow", "resources", "sehgal2010_manifest.yaml"
)


def sehgal_map_name(component, band):
    """File name of a Sehgal et al. (2010) map on LAMBDA, e.g. 148_tsz_healpix.fits."""
    name = SEHGAL_CFG["components"][component]
    return SEHGAL_CFG["map_template"].format(component=name, band=band)


def sehgal_files():
    """Every file the configured Sehgal run needs: maps of the used components, then catalogues."""
    maps = [sehgal_map_name(c, b) for c in SKY_COMPONENTS for b in BANDS]
    cats = [SEHGAL_CFG["halo_catalogue"]] + [
        c["file"] for c in SEHGAL_CFG["source_catalogues"]
    ]
    return maps + cats


def sehgal_manifest():
    """Manifest entries (size, sha256, md5) of the files to download; stops if one is missing."""
    path = SEHGAL_CFG["manifest"] or SHIPPED_MANIFEST
    try:
        manifest = load_manifest(path)
    except DownloadError as err:
        sys.exit(f"skyhunt: {err}")
    missing = [f for f in sehgal_files() if f not in manifest]
    if missing:
        sys.exit(
            f"skyhunt: download manifest {path} has no entry for {', '.join(missing)}; add one per file "
            "(write 'name: {size: null, sha256: null, md5: null}' if the values are unknown)"
        )
    return {name: dataclasses.asdict(manifest[name]) for name in sehgal_files()}


def download_url(wildcards):
    """URL of one simulation file: sky.sehgal2010.base_url joined with the file name."""
    return urllib.parse.urljoin(SEHGAL_CFG["base_url"], wildcards.file)


def download_entry(wildcards):
    return SEHGAL_MANIFEST[wildcards.file]


def import_map_input(wildcards):
    """The full-sky map of one component and band: downloaded (sehgal2010) or the user's (maps)."""
    if SKY_SOURCE == "sehgal2010":
        return f"{SEHGAL}/{sehgal_map_name(wildcards.component, wildcards.band)}"
    return config["sky"]["maps"]["path_template"].format(
        component=wildcards.component, band=wildcards.band
    )


def import_halos_input(wildcards):
    if SKY_SOURCE == "sehgal2010":
        return f"{SEHGAL}/{SEHGAL_CFG['halo_catalogue']}"
    return config["sky"]["maps"]["halo_catalogue"]


def import_sources_input(wildcards):
    if SKY_SOURCE == "sehgal2010":
        return [f"{SEHGAL}/{c['file']}" for c in SEHGAL_CFG["source_catalogues"]]
    path = config["sky"]["maps"]["source_catalogue"]
    return [path] if path else []


def source_catalogue_specs():
    """(columns, population) of each source catalogue, in the order of import_sources_input."""
    if SKY_SOURCE == "sehgal2010":
        return [
            (c["columns"], c["population"]) for c in SEHGAL_CFG["source_catalogues"]
        ]
    maps = config["sky"]["maps"]
    return (
        [(maps["source_columns"], maps["source_population"])]
        if maps["source_catalogue"]
        else []
    )


SEHGAL_MANIFEST = sehgal_manifest() if SKY_SOURCE == "sehgal2010" else {}


# The compare and kfold targets read the runs that exist, and make this run if it is one.
def run_present(results_dir):
    """Whether results_dir is this configuration's own or holds a run's tables/table1.csv."""
    return os.path.normpath(results_dir) == os.path.normpath(RESULTS) or os.path.exists(
        os.path.join(results_dir, "tables", "table1.csv")
    )


def compared_setups():
    return [s for s in config["compare"]["setups"] if run_present(s["results_dir"])]


def compared_tables(name):
    return [os.path.join(s["results_dir"], "tables", name) for s in compared_setups()]


def compared_names(wildcards):
    return [s["name"] for s in compared_setups()]


# The kfold target (kfold.smk): the fold runs that exist, and this run if it is a fold.
def kfold_dirs():
    """The results_dir of every fold, in fold order."""
    template = config["kfold"]["results_dir"]
    return [template.format(fold=k) for k in range(config["kfold"]["folds"])]


def kfold_folds(wildcards=None):
    """The folds whose runs exist (or are this configuration's own run)."""
    return [k for k, d in enumerate(kfold_dirs()) if run_present(d)]


def kfold_missing(wildcards):
    return [d for d in kfold_dirs() if not run_present(d)]


def kfold_inputs(name):
    return [os.path.join(kfold_dirs()[k], name) for k in kfold_folds()]


# The injection-based selection function (selection.smk): the batches of each design.
SELECTION_DESIGNS = {
    "main": config["selection"]["batches"],
    "study": config["selection"]["study_batches"],
}


def selection_tables(stem):
    """Input function: the tables ``injections/{stem}_<batch>.parquet`` of the {design}
    wildcard's batches (stem ``batch``: injections, ``cutouts``: cutout classifiers)."""

    def tables(wildcards):
        return [
            f"{RESULTS}/selection/injections/{stem}_{b}.parquet"
            for b in range(SELECTION_DESIGNS[wildcards.design])
        ]

    return tables


# The transfer target (transfer.smk): the target runs that exist, and their configurations.
def transfer_pairs():
    """The pairs of transfer.pairs whose target run has its cutout index, by name."""
    return {
        p["name"]: p
        for p in config["transfer"]["pairs"]
        if os.path.exists(os.path.join(p["results_dir"], "cutouts", "index.parquet"))
    }


TRANSFER_PAIRS = transfer_pairs()


def transfer_missing(wildcards):
    return [
        p["results_dir"]
        for p in config["transfer"]["pairs"]
        if p["name"] not in TRANSFER_PAIRS
    ]


@functools.lru_cache(maxsize=None)
def transfer_target_config(name):
    """The validated configuration of a pair's target run: config.yaml, then its configfiles."""
    merged = yaml.safe_load(open(os.path.join(workflow.basedir, "config.yaml")))
    for path in TRANSFER_PAIRS[name]["configfiles"]:
        with open(path, encoding="utf-8") as f:
            update_config(merged, yaml.safe_load(f) or {})
    try:
        return validate_config(merged)
    except ConfigError as err:
        sys.exit(f"skyhunt: invalid configuration of transfer pair {name!r}\n{err}")


def transfer_eval_stage(name):
    cfg = transfer_target_config(name)
    return cfg["evaluation"]["stage"] or cfg["cnn"]["stages"][-1]


def transfer_target(name, path):
    """A file of the pair's target run; {eval} stands for its evaluation stage."""
    return os.path.join(
        TRANSFER_PAIRS[name]["results_dir"],
        path.format(eval=transfer_eval_stage(name)),
    )


def transfer_cnn_inputs(wildcards):
    """Named inputs of transfer_train: the source model, the target's cutouts and index."""
    return {
        "source_model": f"{RESULTS}/cnn/{EVAL_STAGE}/model.ckpt",
        "array": transfer_target(wildcards.pair, "cutouts/{eval}.npy"),
        "index": transfer_target(wildcards.pair, "cutouts/index.parquet"),
    }


def transfer_zero_shot_array(wildcards):
    return transfer_target(wildcards.pair, "cutouts/{eval}.npy")


def transfer_runs(mode):
    """Input function of transfer_metrics: the score tables of ``mode``, N-major, then replicate."""

    def runs(wildcards):
        return [
            f"{RESULTS}/transfer/{wildcards.pair}/{mode}/n{n}_s{r}.parquet"
            for n in config["transfer"]["n_labelled"]
            for r in range(config["transfer"]["seeds"])
        ]

    return runs


def transfer_metrics_inputs(wildcards):
    """Named inputs of transfer_metrics taken from the target run."""
    return {
        "index": transfer_target(wildcards.pair, "cutouts/index.parquet"),
        "mf": transfer_target(wildcards.pair, "mf/{eval}/cutout_snr.parquet"),
    }


def transfer_mf_inputs(wildcards):
    """Named inputs of transfer_mf_maps: the target's maps and tables, as its matched_filter and
    match_mf read them (no depth maps: the noise comes from the maps)."""
    name = wildcards.pair
    cfg = transfer_target_config(name)
    bands = [b["name"] for b in cfg["sky"]["bands"]]
    out = {
        "maps": [
            transfer_target(name, f"sky/observed/{{eval}}_{band}.fits")
            for band in bands
        ],
        "spectrum": transfer_target(name, "sky/cmb_spectrum.ecsv"),
        "halos": transfer_target(name, "sky/halos.parquet"),
        "index": transfer_target(name, "cutouts/index.parquet"),
    }
    if cfg["mf"]["point_sources"]["treatment"] != "detect":
        out["sources"] = transfer_target(name, "sky/sources.parquet")
    if scan_filter_on(cfg["sky"]["scan_filter"]):
        out["transfer"] = transfer_target(name, "mf/scan_transfer.fits")
    return out


def transfer_mf_target(wildcards):
    """Param of transfer_mf_maps: the target's configuration of its matched filter and matching,
    with mf.noise maps."""
    cfg = transfer_target_config(wildcards.pair)
    sky = cfg["sky"]
    stage = transfer_eval_stage(wildcards.pair)
    return {
        "nside": sky["nside"],
        "footprint": sky["footprint"],
        "bands": sky["bands"],
        "point_sources": sky["point_sources"],
        "red_noise": pick(
            sky["noise"],
            "red_correlation",
            "red_correlation_groups",
            "red_ell_min",
            "red_cut_fraction",
        ),
        "mf": dict(without(cfg["mf"], "matching"), noise="maps"),
        "components": stage_components(sky["stages"], stage),
        "stage": stage,
        "scan_filter": (
            without(sky["scan_filter"], "transfer_realisations")
            if scan_filter_on(sky["scan_filter"])
            else None
        ),
        "cutouts": pick(cfg["cutouts"], "size_arcmin", "npix", "stride_arcmin"),
        "matching": cfg["mf"]["matching"],
    }
