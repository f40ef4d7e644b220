"""Tests of the config schema and :mod:`skyhunt.config`."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from skyhunt.config import (
    SCHEMA_PATH,
    ConfigError,
    check_config_files,
    load_schema,
    read_config_file,
    validate_config,
)

REPO = Path(__file__).resolve().parents[1]
CONFIG_PATH = REPO / "config.yaml"


@pytest.fixture(scope="module")
def shipped() -> dict:
    with open(CONFIG_PATH, encoding="utf-8") as f:
        return yaml.safe_load(f)


@pytest.fixture
def cfg(shipped) -> dict:
    return copy.deepcopy(shipped)


def problems_of(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# the shipped config and the schema itself


def test_schema_path_is_the_workflow_schema():
    assert SCHEMA_PATH == REPO / "workflow" / "schemas" / "config.schema.yaml"
    assert load_schema()["type"] == "object"


def test_shipped_config_validates(shipped):
    before = copy.deepcopy(shipped)
    out = validate_config(shipped)
    assert shipped == before, "validate_config must not modify its input"
    assert out is not shipped
    assert out["seed"] == 20210310
    assert out["sky"]["nside"] == 8192
    assert [b["name"] for b in out["sky"]["bands"]] == ["090", "148", "219"]


def test_shipped_config_through_snakemake_loader():
    from snakemake.common.configfile import load_configfile

    out = validate_config(load_configfile(str(CONFIG_PATH)))
    assert isinstance(out["sky"]["halos"]["m_vir_min"], float)


def test_pyyaml_scientific_notation_strings_become_numbers(cfg):
    """PyYAML (YAML 1.1, used by Snakemake) reads ``1.0e13`` without an exponent sign as a string."""
    halos = yaml.safe_load("m_vir_min: 1.0e13\nz_max: 3e0\n")
    assert halos["m_vir_min"] == "1.0e13"  # the quirk this guards against
    cfg["sky"]["halos"].update(halos)
    out = validate_config(cfg)
    assert out["sky"]["halos"]["m_vir_min"] == 1.0e13
    assert out["sky"]["halos"]["z_max"] == 3.0
    assert isinstance(out["sky"]["halos"]["m_vir_min"], float)
    # but only where a number is expected, and only real numbers
    cfg["sky"]["halos"]["m_vir_min"] = "1.0e13 M_sun"
    assert "config key 'sky.halos.m_vir_min': expected a number" in problems_of(cfg)


def _walk(config, schema, path=""):
    """Yield (dotted path, value, schema) for every key of ``config``."""
    if isinstance(config, dict):
        for key, value in config.items():
            sub = schema["properties"][key]
            child = f"{path}.{key}" if path else key
            yield child, value, sub
            yield from _walk(value, sub, child)
    elif isinstance(config, list):
        for i, item in enumerate(config):
            yield from _walk(item, schema["items"], f"{path}[{i}]")


def test_every_shipped_key_is_documented(shipped):
    schema = load_schema()
    completed = validate_config(shipped)
    seen = 0
    for path, value, sub in _walk(shipped, schema):
        seen += 1
        assert "type" in sub, path
        assert sub.get("description"), path
        if isinstance(value, dict):
            assert sub.get("additionalProperties") is False, path
        if "default" in sub and not isinstance(value, dict):
            assert sub["default"] == _lookup(completed, path), f"{path}: default differs from config.yaml"
    assert seen > 60


def _lookup(config, dotted):
    node = config
    for part in dotted.replace("[", ".[").split("."):
        node = node[int(part[1:-1])] if part.startswith("[") else node[part]
    return node


def test_all_objects_in_schema_are_closed():
    def objects(schema, path="<root>"):
        if schema.get("type") == "object":
            yield path, schema
        for key, sub in schema.get("properties", {}).items():
            yield from objects(sub, f"{path}.{key}")
        if isinstance(schema.get("items"), dict):
            yield from objects(schema["items"], f"{path}[]")

    found = list(objects(load_schema()))
    assert len(found) > 10
    for path, sub in found:
        assert sub.get("additionalProperties") is False, path


def test_model_enums_accept_mdef_vir():
    """Every allowed colossus model can be evaluated for virial masses."""
    from colossus.halo import concentration
    from colossus.lss import mass_function

    halos = load_schema()["properties"]["sky"]["properties"]["halos"]["properties"]
    for model in halos["mass_function"]["enum"]:
        mdefs = mass_function.models[model].mdefs
        assert "vir" in mdefs or "*" in mdefs, model
    for model in halos["concentration_model"]["enum"]:
        assert "vir" in concentration.models[model].mdefs, model


# ---------------------------------------------------------------------------------------------
# defaults


def test_defaults_fill_omitted_optional_keys(cfg):
    del cfg["sky"]["margin_deg"]
    del cfg["sky"]["cosmology"]  # a whole section
    del cfg["sky"]["halos"]["z_max"]  # a key inside a section
    del cfg["sky"]["bands"][1]["beam_fwhm_arcmin"]  # a key inside a list item
    del cfg["sky"]["point_sources"]["populations"]["ir"]["slope"]
    del cfg["sky"]["stages"]
    before = copy.deepcopy(cfg)
    out = validate_config(cfg)
    assert cfg == before
    assert out["sky"]["margin_deg"] == 0.5
    assert out["sky"]["cosmology"] == {
        "H0": 71.0,
        "Om0": 0.264,
        "Ob0": 0.044,
        "sigma8": 0.80,
        "ns": 0.96,
        "tau": 0.087,
    }
    assert out["sky"]["halos"]["z_max"] == 3.0
    assert out["sky"]["bands"][1]["beam_fwhm_arcmin"] == 0.0
    assert out["sky"]["point_sources"]["populations"]["ir"]["slope"] == 3.5
    assert out["sky"]["point_sources"]["populations"]["radio"]["slope"] == 2.5
    assert [s["name"] for s in out["sky"]["stages"]] == ["cmb_tsz", "ksz", "ir", "radio", "dust"]


def test_minimal_config_is_completed():
    minimal = {
        "seed": 1,
        "sky": {
            "footprint": {"ra_min": 10, "ra_max": 20, "dec_min": -5, "dec_max": 5},
            "bands": [{"name": "f150", "freq_ghz": 150, "noise_uk_arcmin": 5, "ps_d3000_uk2": 9}],
        },
    }
    out = validate_config(minimal)
    assert out["sky"]["nside"] == 8192
    assert out["sky"]["cmb"]["lmax"] == 8000
    assert out["sky"]["dust"]["lmax"] == 3000
    assert out["sky"]["point_sources"]["halo_hosted_radio"]["probability"] == 0.05
    # ints given for number keys come back as floats
    assert out["sky"]["footprint"]["ra_min"] == 10.0
    assert isinstance(out["sky"]["footprint"]["ra_min"], float)
    assert isinstance(out["sky"]["bands"][0]["freq_ghz"], float)


def test_integral_float_for_integer_key_becomes_int(cfg):
    cfg["sky"]["cmb"]["lmax"] = 6000.0
    out = validate_config(cfg)
    assert out["sky"]["cmb"]["lmax"] == 6000
    assert isinstance(out["sky"]["cmb"]["lmax"], int)


# ---------------------------------------------------------------------------------------------
# malformed configs: each must name the offending key


def test_wrong_type_string_for_number(cfg):
    cfg["sky"]["bands"][1]["freq_ghz"] = "148 GHz"
    msg = problems_of(cfg)
    assert "config key 'sky.bands[1].freq_ghz': expected a number, got '148 GHz'" in msg


def test_quoted_number_gets_a_hint(cfg):
    cfg["sky"]["margin_deg"] = "0.5"
    msg = problems_of(cfg)
    assert "config key 'sky.margin_deg': expected a number, got '0.5'" in msg
    assert "remove the quotes" in msg


def test_wrong_type_section_is_not_a_mapping(cfg):
    cfg["sky"]["footprint"] = [0, 12, 0, 10]
    msg = problems_of(cfg)
    assert "config key 'sky.footprint': expected a mapping of keys to values" in msg


def test_negative_noise(cfg):
    cfg["sky"]["bands"][2]["noise_uk_arcmin"] = -6.6
    msg = problems_of(cfg)
    assert "config key 'sky.bands[2].noise_uk_arcmin': expected a number >= 0, got -6.6" in msg
    assert "arcmin" in msg  # the unit hint from the schema description


def test_negative_y_scatter(cfg):
    cfg["sky"]["halos"]["y_scatter_ln"] = -0.2
    msg = problems_of(cfg)
    assert "config key 'sky.halos.y_scatter_ln': expected a number >= 0, got -0.2" in msg
    assert "ln Y5R500" in msg  # the description's first sentence says what the key is


def test_dec_out_of_range(cfg):
    cfg["sky"]["footprint"]["dec_max"] = 95
    msg = problems_of(cfg)
    assert "config key 'sky.footprint.dec_max': expected a number <= 90, got 95" in msg


def test_misspelt_key(cfg):
    cfg["sky"]["footprnt"] = cfg["sky"].pop("footprint")
    msg = problems_of(cfg)
    assert "config key 'sky.footprnt' is not a known key (known: " in msg
    assert "did you mean 'footprint'?" in msg
    assert "config key 'sky.footprint' is missing" in msg


def test_unknown_top_level_key(cfg):
    cfg["sed"] = 1
    msg = problems_of(cfg)
    known = (
        "catalogues, cnn, compare, cutouts, deepcee, detector, evaluation, kfold, kosiba, masses, mf, "
        "optical, results_dir, seed, selection, sky, transfer, vetting, xray"
    )
    assert f"config key 'sed' is not a known key (known: {known})" in msg


def test_unknown_key_in_list_item(cfg):
    cfg["sky"]["bands"][0]["fwhm_arcmin"] = 1.0
    msg = problems_of(cfg)
    assert "config key 'sky.bands[0].fwhm_arcmin' is not a known key" in msg
    assert "beam_fwhm_arcmin" in msg


def test_unknown_component_in_stage(cfg):
    cfg["sky"]["stages"][3]["add"] = ["radio", "synchrotron"]
    msg = problems_of(cfg)
    assert (
        "config key 'sky.stages[3].add[1]': expected one of 'cmb', 'tsz', 'ksz', 'ir', 'radio', 'dust'" in msg
    )
    assert "got 'synchrotron'" in msg


def test_missing_required_key(cfg):
    del cfg["sky"]["footprint"]["ra_max"]
    msg = problems_of(cfg)
    assert "config key 'sky.footprint.ra_max' is missing" in msg


def test_missing_required_key_in_band(cfg):
    del cfg["sky"]["bands"][0]["freq_ghz"]
    msg = problems_of(cfg)
    assert "config key 'sky.bands[0].freq_ghz' is missing" in msg


def test_duplicate_band_name(cfg):
    cfg["sky"]["bands"][2]["name"] = "148"
    msg = problems_of(cfg)
    assert "config key 'sky.bands[2].name'" in msg
    assert "band names must be unique" in msg
    assert "sky.bands[1] is already called '148'" in msg


def test_bad_band_name(cfg):
    cfg["sky"]["bands"][0]["name"] = "90 GHz"
    msg = problems_of(cfg)
    assert "config key 'sky.bands[0].name': expected a string matching ^[A-Za-z0-9_]+$" in msg


def test_unquoted_numeric_band_name(cfg):
    cfg["sky"]["bands"][1]["name"] = 148  # YAML `name: 148` without quotes
    msg = problems_of(cfg)
    assert "config key 'sky.bands[1].name': expected a string, got 148 (an integer)" in msg


@pytest.mark.parametrize("ra_max", [2.0, 5.0])
def test_ra_min_not_below_ra_max(cfg, ra_max):
    cfg["sky"]["footprint"]["ra_min"] = 5.0
    cfg["sky"]["footprint"]["ra_max"] = ra_max
    msg = problems_of(cfg)
    assert "config key 'sky.footprint.ra_min'" in msg
    assert "sky.footprint.ra_max" in msg


def test_dec_min_not_below_dec_max(cfg):
    cfg["sky"]["footprint"]["dec_min"] = 10.0
    msg = problems_of(cfg)
    assert "config key 'sky.footprint.dec_min': expected" in msg
    assert "got 10.0" in msg


def test_nside_not_power_of_two(cfg):
    cfg["sky"]["nside"] = 1000
    msg = problems_of(cfg)
    assert "config key 'sky.nside': expected one of 32, 64, " in msg
    assert "got 1000" in msg
    assert "power of two" in msg


def test_duplicate_stage_name(cfg):
    cfg["sky"]["stages"][4]["name"] = "ksz"
    msg = problems_of(cfg)
    assert "config key 'sky.stages[4].name'" in msg
    assert "stage names must be unique" in msg


def test_component_added_twice(cfg):
    cfg["sky"]["stages"][1]["add"] = ["ksz", "tsz"]
    msg = problems_of(cfg)
    assert "config key 'sky.stages[1].add[1]'" in msg
    assert "'tsz', which sky.stages[0] already adds" in msg


def test_first_stage_without_cmb(cfg):
    cfg["sky"]["stages"][0]["add"] = ["tsz"]
    cfg["sky"]["stages"][1]["add"] = ["ksz", "cmb"]
    msg = problems_of(cfg)
    assert "config key 'sky.stages[0].add': expected the first stage to add cmb" in msg


def test_evaluation_stage_without_cnn_model(cfg):
    cfg["cnn"]["stages"] = ["cmb_tsz", "dust"]
    cfg["evaluation"]["stage"] = "ksz"
    msg = problems_of(cfg)
    assert "config key 'evaluation.stage': expected null or one of cnn.stages (cmb_tsz, dust)" in msg
    cfg["evaluation"]["stage"] = "dust"
    assert validate_config(cfg)["evaluation"]["stage"] == "dust"


def test_baryons_exceed_matter(cfg):
    cfg["sky"]["cosmology"]["Ob0"] = 0.3
    msg = problems_of(cfg)
    assert "config key 'sky.cosmology.Ob0'" in msg
    assert "sky.cosmology.Om0 = 0.264" in msg


def test_flux_limits_reversed(cfg):
    cfg["sky"]["point_sources"]["populations"]["ir"]["s_min_mjy"] = 200.0
    msg = problems_of(cfg)
    assert "config key 'sky.point_sources.populations.ir.s_min_mjy'" in msg


def test_lmax_above_nside_limit(cfg):
    cfg["sky"]["nside"] = 1024
    msg = problems_of(cfg)
    assert "config key 'sky.cmb.lmax': expected lmax <= 3*nside - 1 = 3071" in msg
    assert "sky.dust.lmax" not in msg  # 3000 is fine at nside 1024


def test_unsupported_mass_function(cfg):
    cfg["sky"]["halos"]["mass_function"] = "press74"  # FoF masses only, not M_vir
    msg = problems_of(cfg)
    assert "config key 'sky.halos.mass_function': expected one of 'tinker08'" in msg
    assert "got 'press74'" in msg


def test_all_problems_reported_at_once(cfg):
    cfg["sky"]["nside"] = 1000
    cfg["sky"]["bands"][0]["noise_uk_arcmin"] = -1.0
    cfg["sky"]["footprint"]["ra_min"] = 20.0
    cfg["sky"]["stages"][0]["add"] = ["cmb", "cmb"]
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    err = info.value
    assert isinstance(err, ValueError)
    assert len(err.problems) == 4
    assert str(err).startswith("invalid skyhunt configuration (4 problems):")
    for key in ("sky.nside", "sky.bands[0].noise_uk_arcmin", "sky.footprint.ra_min", "sky.stages[0].add[1]"):
        assert f"config key '{key}'" in str(err)


def test_range_error_does_not_also_trigger_cross_key_rule(cfg):
    cfg["sky"]["footprint"]["ra_min"] = 400.0
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert info.value.problems == ["config key 'sky.footprint.ra_min': expected a number < 360, got 400.0"]


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="must be a mapping"):
        validate_config(["seed", 1])


def test_custom_schema_path(tmp_path, cfg):
    schema = load_schema()
    schema["properties"]["sky"]["properties"]["nside"]["enum"] = [4096]
    path = tmp_path / "schema.yaml"
    path.write_text(yaml.safe_dump(schema, allow_unicode=True), encoding="utf-8")
    msg = problems_of_with(cfg, path)
    assert "config key 'sky.nside': expected one of 4096, got 8192" in msg


def problems_of_with(config: dict, schema_path: Path) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(config, schema_path=schema_path)
    return str(info.value)


def _defaults_vs_config(schema: dict, cfg, path: str, root: dict, out: list) -> None:
    if "$ref" in schema:
        ref = schema["$ref"].split("/")[1:]
        target = root
        for part in ref:
            target = target[part]
        schema = target
    if isinstance(cfg, dict):
        for key, val in cfg.items():
            sub = schema.get("properties", {}).get(key)
            if sub is not None:
                _defaults_vs_config(sub, val, f"{path}.{key}", root, out)
    elif not isinstance(cfg, list) and "default" in schema and schema["default"] != cfg:
        out.append(f"{path}: schema default {schema['default']!r} != config.yaml {cfg!r}")


def test_schema_defaults_equal_shipped_values(shipped):
    """The schema documents config.yaml: a default that drifted from the shipped value is a bug."""
    schema = load_schema()
    mismatches: list[str] = []
    _defaults_vs_config(schema, shipped, "config", schema, mismatches)
    assert mismatches == []


def test_cutout_cross_checks(cfg):
    cfg["cutouts"]["splits"]["test_max"] = 0.3
    cfg["cutouts"]["central_arcmin"] = 9.0
    msg = problems_of(cfg)
    assert "config key 'cutouts.splits.test_max'" in msg
    assert "config key 'cutouts.central_arcmin'" in msg


# ---------------------------------------------------------------------------------------------
# values that used to pass validation and fail (or silently mislead) later


NON_FINITE_KEYS = [
    ("sky", "bands", 1, "noise_uk_arcmin"),
    ("sky", "footprint", "ra_min"),
    ("sky", "footprint", "dec_max"),
    ("mf", "core_radii_arcmin", 2),
    ("mf", "detection", "snr_min"),
    ("sky", "halos", "m_vir_min"),
    ("sky", "halos", "y_scatter_ln"),
    ("cnn", "optimizer", "lr"),
]


def _set(config, keys, value):
    node = config
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value


@pytest.mark.parametrize("text", [".nan", ".inf", "-.inf", ".NaN", "-.Inf"])
@pytest.mark.parametrize("keys", NON_FINITE_KEYS, ids=lambda k: ".".join(map(str, k)))
def test_non_finite_numbers_are_rejected(cfg, keys, text):
    """NaN passes every bound (comparisons are false) and inf some: both are rejected by type."""
    value = yaml.safe_load(f"x: {text}")["x"]
    _set(cfg, keys, value)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    path = _key_path_of(keys)
    assert info.value.problems == [f"config key {path!r}: expected a finite number, got {value!r}"]


def _key_path_of(keys) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else k) for i, k in enumerate(keys))


def test_python_nan_and_integer_keys(cfg):
    cfg["sky"]["margin_deg"] = float("nan")
    cfg["cutouts"]["npix"] = float("inf")
    cfg["sky"]["footprint"]["ra_max"] = float("nan")  # the ra_min < ra_max rule is skipped
    msg = problems_of(cfg)
    assert "config key 'sky.margin_deg': expected a finite number, got nan" in msg
    assert "config key 'cutouts.npix': expected an integer, got inf" in msg
    assert "config key 'sky.footprint.ra_max': expected a finite number, got nan" in msg
    assert "config key 'sky.footprint.ra_min'" not in msg


@pytest.mark.parametrize(
    "keys, radii, index",
    [
        (("mf", "core_radii_arcmin"), [2.0, 1.0, 1.0], 1),
        (("mf", "core_radii_arcmin"), [0.5, 1.0, 1.0], 2),
        (("mf", "arnaud", "theta500_arcmin"), [1.0, 3.0, 2.0], 2),
    ],
)
def test_template_lists_must_increase(cfg, keys, radii, index):
    _set(cfg, keys, radii)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    path = _key_path_of(keys)
    shown = [float(r) for r in radii]
    assert info.value.problems == [
        f"config key {path!r}: expected a strictly increasing list (item [{index}] = {shown[index]!r} is not "
        f"above item [{index - 1}] = {shown[index - 1]!r}), got {shown!r}"
    ]


def test_increasing_lists_pass(cfg):
    cfg["mf"]["core_radii_arcmin"] = [1.0]
    cfg["mf"]["arnaud"]["theta500_arcmin"] = [0.5, 0.75, 9]
    out = validate_config(cfg)
    assert out["mf"]["arnaud"]["theta500_arcmin"] == [0.5, 0.75, 9.0]


# ---------------------------------------------------------------------------------------------
# config files read strictly: a key given twice


@pytest.mark.parametrize("path", [CONFIG_PATH, REPO / "workflow" / "presets" / "paper.yaml"])
def test_read_config_file_reads_the_shipped_files(path):
    with open(path, encoding="utf-8") as f:
        assert read_config_file(path) == yaml.safe_load(f)


def test_duplicate_keys_are_named_with_file_and_lines(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text(
        "seed: 1\n"
        "sky:\n"
        "  footprint:\n"
        "    ra_min: 0.0\n"
        "    ra_max: 12.0\n"
        "    ra_min: 5.0\n"
        "  bands:\n"
        "    - {name: '090', name: '148'}\n"
        "seed: 2\n",
        encoding="utf-8",
    )
    assert yaml.safe_load(path.read_text())["seed"] == 2  # what PyYAML (and Snakemake) does silently
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert info.value.problems == [
        f"config key 'sky.footprint.ra_min' in {path}, line 6: expected each key once, got it a second "
        "time (first on line 4); YAML would silently keep only the last value",
        f"config key 'sky.bands[0].name' in {path}, line 8: expected each key once, got it a second "
        "time (first on line 8); YAML would silently keep only the last value",
        f"config key 'seed' in {path}, line 9: expected each key once, got it a second "
        "time (first on line 1); YAML would silently keep only the last value",
    ]


def test_quoted_and_plain_spellings_of_a_key_are_the_same_key(tmp_path):
    path = tmp_path / "dup.yaml"
    path.write_text("cutouts:\n  npix: 32\n  'npix': 16\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="config key 'cutouts.npix' in .*, line 3: .*first on line 2"):
        read_config_file(path)


def test_duplicate_key_in_tab_indented_json(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{\n\t"seed": 1,\n\t"cnn": {\n\t\t"stages": ["dust"],\n\t\t"stages": []\n\t}\n}\n')
    with pytest.raises(ConfigError) as info:
        read_config_file(path)
    assert info.value.problems[0].startswith(f"config key 'cnn.stages' in {path}, line 5: ")
    path.write_text('{\n\t"seed": 1\n}\n')
    assert read_config_file(path) == {"seed": 1}


def test_read_config_file_accepts_what_snakemake_accepts(tmp_path):
    from snakemake.common.configfile import load_configfile

    path = tmp_path / "tagged.yaml"
    path.write_text("pair: !!python/tuple [1, 2]\n")
    assert read_config_file(path) == load_configfile(str(path)) == {"pair": (1, 2)}


def test_merge_keys_may_override(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("base: &b {ra_min: 0.0, ra_max: 1.0}\nfootprint:\n  <<: *b\n  ra_max: 2.0\n")
    assert read_config_file(path)["footprint"] == {"ra_min": 0.0, "ra_max": 2.0}


def test_empty_and_invalid_files(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing\n")
    assert read_config_file(empty) is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("sky: [1, 2\n")
    with pytest.raises(ConfigError) as info:
        read_config_file(bad)
    assert info.value.problems[0].startswith(
        f"config file '{bad}', line 2: expected valid YAML, got a syntax error (expected ',' or ']'"
    )


def test_check_config_files_reports_every_file_once(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.yaml").write_text("seed: 1\nseed: 2\n")
    (tmp_path / "b.yaml").write_text("mf:\n  template: beta\n  template: arnaud\n")
    (tmp_path / "ok.yaml").write_text("seed: 1\n")
    check_config_files(["ok.yaml", CONFIG_PATH])
    with pytest.raises(ConfigError) as info:
        check_config_files(["a.yaml", tmp_path / "a.yaml", "ok.yaml", "b.yaml"])
    assert [p.split(":")[0] for p in info.value.problems] == [
        "config key 'seed' in a.yaml, line 2",
        "config key 'mf.template' in b.yaml, line 3",
    ]


# ---------------------------------------------------------------------------------------------
# --config values: Snakemake passes nested ones as strings


def _with_command_line(cfg: dict, command_line: dict) -> dict:
    """``cfg`` with ``command_line`` merged in, as Snakemake's update_config does."""
    from snakemake.utils import update_config

    update_config(cfg, copy.deepcopy(command_line))
    return cfg


def test_command_line_strings_are_read_as_yaml_scalars(cfg):
    command_line = {
        "seed": 3,
        "sky": {"nside": "1024", "cmb": {"lmax": "3000"}, "footprint": {"ra_max": "6"}},
        "mf": {"core_radii_arcmin": ["0.5", "1", "1.0e+1"], "detection": {"snr_min": "4.5"}},
        "cnn": {"progress_bar": "false", "training": {"augment": "True"}},
        "evaluation": {"stage": "null"},
        "cutouts": {"interpolation": "nearest"},
    }
    out = validate_config(_with_command_line(cfg, command_line), command_line=command_line)
    assert out["seed"] == 3
    assert out["sky"]["nside"] == 1024 and isinstance(out["sky"]["nside"], int)
    assert out["sky"]["cmb"]["lmax"] == 3000
    assert out["sky"]["footprint"]["ra_max"] == 6.0 and isinstance(out["sky"]["footprint"]["ra_max"], float)
    assert out["mf"]["core_radii_arcmin"] == [0.5, 1.0, 10.0]
    assert out["mf"]["detection"]["snr_min"] == 4.5
    assert out["cnn"]["progress_bar"] is False
    assert out["cnn"]["training"]["augment"] is True
    assert out["evaluation"]["stage"] is None
    assert out["cutouts"]["interpolation"] == "nearest"


def test_command_line_strings_that_are_not_the_type_still_fail(cfg):
    command_line = {
        "sky": {
            "nside": "1000",
            "bands": [{"name": "90", "freq_ghz": "ninety", "noise_uk_arcmin": ".nan", "ps_d3000_uk2": "1"}],
        },
        "cnn": {"progress_bar": "yes please", "stages": ["dust"], "training": {"batch_size": "2.5"}},
    }
    with pytest.raises(ConfigError) as info:
        validate_config(_with_command_line(cfg, command_line), command_line=command_line)
    assert info.value.problems == [
        "config key 'sky.nside': expected one of 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, "
        "got 1000",
        "config key 'sky.bands[0].freq_ghz': expected a number, got 'ninety' (a string)",
        "config key 'sky.bands[0].noise_uk_arcmin': expected a finite number, got nan",
        "config key 'cnn.progress_bar': expected true or false, got 'yes please' (a string)",
        "config key 'cnn.training.batch_size': expected an integer, got 2.5 (a number)",
    ]


def test_quoted_values_in_a_file_still_fail(cfg):
    """Only command-line values are converted: a quoted "1024" in a config file is a mistake."""
    cfg["sky"]["nside"] = "1024"
    cfg["cnn"]["progress_bar"] = "false"
    with pytest.raises(ConfigError) as info:
        validate_config(cfg, command_line={"seed": 3})
    assert info.value.problems == [
        "config key 'sky.nside': expected an integer, got '1024' (a string); remove the quotes to give a "
        "number",
        "config key 'cnn.progress_bar': expected true or false, got 'false' (a string); remove the quotes to "
        "give true or false",
    ]


def _dry_run(workdir: Path, *args: str):
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "snakemake", "-n", "--snakefile", str(REPO / "Snakefile")]
    cmd += ["--directory", str(workdir), "--cores", "1", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_snakemake_dry_run_with_nested_command_line_config(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG_PATH.read_text())
    proc = _dry_run(
        tmp_path, "--config", "sky={nside: 1024, cmb: {lmax: 3000}}", "seed=3", "cnn={progress_bar: false}"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "invalid configuration" not in proc.stdout + proc.stderr


def test_snakemake_dry_run_stops_on_duplicate_key_in_configfile(tmp_path):
    (tmp_path / "config.yaml").write_text(CONFIG_PATH.read_text())
    (tmp_path / "preset.yaml").write_text("cutouts:\n  npix: 32\n  size_arcmin: 8.0\n  npix: 16\n")
    proc = _dry_run(tmp_path, "--configfile", str(tmp_path / "preset.yaml"))
    assert proc.returncode == 1
    assert (
        f"config key 'cutouts.npix' in {tmp_path / 'preset.yaml'}, line 4: expected each key once, got it a "
        "second time (first on line 2)"
    ) in proc.stdout + proc.stderr


# ---------------------------------------------------------------------------------------------
# the cutout grid and its RA stripes, built from the config as the cutouts rule builds them


def test_lead_example_one_degree_footprint(cfg):
    """RA 0-1 deg: the 4.2' validation stripe lies between two columns of cutout centres."""
    cfg["sky"]["footprint"].update(ra_min=0.0, ra_max=1.0)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    (problem,) = info.value.problems
    assert problem.startswith(
        "config key 'cutouts.splits.validation_max': expected RA stripes that each hold at least one "
        "cutout, got 0.2, which leaves the validation stripe, RA 0.130 to 0.200 deg (4.2' wide), without "
        "any of the 784 cutout centres (they lie between RA 0.111 and 0.823 deg"
    )


@pytest.mark.parametrize(
    ("splits", "key", "stripe"),
    [
        ({"test_max": 0.005}, "test_max", "test stripe, RA 0.000 to 0.060 deg (3.6' wide)"),
        ({"validation_max": 0.995}, "validation_max", "train stripe, RA 11.940 to 12.000 deg (3.6' wide)"),
        ({"guard_arcmin": 30.0}, "validation_max", "validation stripe, RA 1.560 to 2.400 deg (50.4' wide)"),
    ],
)
def test_every_split_must_hold_a_cutout(cfg, splits, key, stripe):
    cfg["cutouts"]["splits"].update(splits)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    (problem,) = info.value.problems
    assert problem.startswith(f"config key 'cutouts.splits.{key}': expected RA stripes that each hold at")
    assert f"which leaves the {stripe}, without any of the 11531 cutout centres" in problem
    assert ("cutouts.splits.guard_arcmin = 30'" in problem) == ("guard_arcmin" in splits)


def test_the_interpolation_reach_at_low_nside_counts(cfg):
    """Cutouts keep the interpolation reach (14' at nside 512) from the edges: the test stripe empties."""
    cfg["sky"]["footprint"] = {"ra_min": 10.0, "ra_max": 12.0, "dec_min": -1.0, "dec_max": 1.0}
    cfg["sky"]["cmb"]["lmax"] = cfg["sky"]["dust"]["lmax"] = 1500
    validate_config(cfg)
    cfg["sky"]["nside"] = 512
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert [p.split(":")[0] for p in info.value.problems] == ["config key 'cutouts.splits.test_max'"]
    assert "test stripe, RA 10.000 to 10.260 deg (15.6' wide)" in info.value.problems[0]


def test_footprint_without_room_for_one_cutout(cfg):
    cfg["sky"]["footprint"].update(dec_min=0.0, dec_max=0.2)
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    assert info.value.problems == [
        "config key 'sky.footprint': expected a box that holds at least one cutout (8' cutouts, "
        "cutouts.size_arcmin, kept 1.00' inside every edge: the larger of cutouts.edge_margin_arcmin and "
        "the map interpolation's reach at sky.nside = 8192), got RA 0.0 to 12.0, Dec 0.0 to 0.2 deg"
    ]


def test_grid_check_is_skipped_when_its_keys_are_already_wrong(cfg):
    cfg["sky"]["footprint"].update(ra_min=0.0, ra_max=1.0)
    cfg["cutouts"]["stride_arcmin"] = -6.0
    assert [p.split(":")[0] for p in _problems_list(cfg)] == ["config key 'cutouts.stride_arcmin'"]
    cfg["cutouts"]["stride_arcmin"] = 6.0
    cfg["cutouts"]["splits"]["test_max"] = 0.5  # above validation_max: the ordering rule reports it
    assert [p.split(":")[0] for p in _problems_list(cfg)] == ["config key 'cutouts.splits.test_max'"]
    assert "the test stripe to end before the validation stripe" in _problems_list(cfg)[0]


def _problems_list(config: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        validate_config(config)
    return info.value.problems


def test_huge_grids_are_not_built(cfg, monkeypatch):
    """A typo such as a 0.06' stride (1e8 centres) must not cost gigabytes on every Snakemake call."""
    import skyhunt.config

    cfg["cutouts"]["stride_arcmin"] = 0.06
    cfg["cutouts"]["central_arcmin"] = 0.06
    monkeypatch.setattr(skyhunt.config, "cutout_layout", None)  # would raise TypeError if called
    validate_config(cfg)


def test_a_band_has_at_most_one_beam_and_a_readable_beam_file(cfg, tmp_path):
    good = tmp_path / "beam.txt"
    good.write_text("0 1.0\n1000 0.5\n5000 0.0\n")
    cfg["sky"]["bands"][0]["beam_file"] = str(good)
    assert validate_config(cfg)["sky"]["bands"][0]["beam_file"] == str(good)
    cfg["sky"]["bands"][0]["beam_fwhm_arcmin"] = 1.4
    assert "config key 'sky.bands[0].beam_file': expected at most one beam per band" in problems_of(cfg)
    cfg["sky"]["bands"][0]["beam_fwhm_arcmin"] = 0.0
    cfg["sky"]["bands"][0]["beam_file"] = str(tmp_path / "missing.txt")
    msg = problems_of(cfg)
    assert "config key 'sky.bands[0].beam_file': expected a beam table" in msg and "missing.txt" in msg
