"""Validate the workflow configuration against its JSON schema.

The schema, ``workflow/schemas/config.schema.yaml``, documents every key of
``config.yaml`` (type, unit, allowed range and default). :func:`validate_config`
fills in the defaults of omitted optional keys, checks the result against the
schema and against the rules a schema cannot express (``ra_min < ra_max``,
unique band names, a cutout in every RA stripe, ...), and reports *every*
problem at once in a single :class:`ConfigError`, each naming the offending key
by its dotted path, e.g.::

    config key 'sky.bands[1].noise_uk_arcmin': expected a number >= 0, got -2.6

:func:`check_config_files` re-reads the config files strictly, as Snakemake
silently keeps only the last value of a key given twice. Typical use in the
Snakefile::

    from skyhunt.config import check_config_files, validate_config
    check_config_files(workflow.configfiles)
    config = validate_config(config, command_line=workflow.config_settings.config)
"""

from __future__ import annotations

import copy
import difflib
import itertools
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from skyhunt.cutouts.grid import edge_margin_arcmin
from skyhunt.cutouts.layout import SPLITS, cutout_layout, stripes
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.stages import COMPONENTS

#: The schema shipped with the workflow: ``<repo>/workflow/schemas/config.schema.yaml``.
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"

# Scientific notation without a sign in the exponent ("1.0e13"): YAML 1.2 reads it as a
# float, but PyYAML (YAML 1.1, used by Snakemake) reads it as a string.
_SCI_NOTATION = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)[eE][-+]?\d+\s*$")
_NUMERIC_STRING = re.compile(r"^\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*$")

_TYPE_NAMES = {
    "number": "a number",
    "integer": "an integer",
    "string": "a string",
    "boolean": "true or false",
    "object": "a mapping of keys to values",
    "array": "a list",
    "null": "nothing (null)",
}


class ConfigError(ValueError):
    """The workflow configuration is invalid.

    The message lists every problem found, one per line, each naming the
    offending config key.

    Parameters
    ----------
    problems : str or list of str
        One message per problem, e.g.
        ``"config key 'sky.nside': expected one of 32, 64, ..., got 1000"``.
    details : list of str, optional
        The same messages with explanatory hints (shown in the error text);
        default: ``problems``.

    Attributes
    ----------
    problems : list of str
        The individual problems (without the explanatory key descriptions).
    """

    def __init__(self, problems: str | list[str], details: list[str] | None = None):
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        lines = details if details is not None else self.problems
        n = len(self.problems)
        header = f"invalid skyhunt configuration ({n} problem{'s' if n != 1 else ''}):"
        super().__init__("\n".join([header, *(f"  - {line}" for line in lines)]))


def load_schema(path: str | Path | None = None) -> dict:
    """Read the configuration JSON schema (written in YAML).

    Parameters
    ----------
    path : str or Path, optional
        Schema file. Default: :data:`SCHEMA_PATH`, the schema shipped in
        ``workflow/schemas/config.schema.yaml``, located relative to this module.

    Returns
    -------
    dict
        The schema, checked to be a valid JSON schema of its declared draft
        (draft 2020-12 when it declares none).

    Raises
    ------
    FileNotFoundError
        If the schema file does not exist.
    jsonschema.exceptions.SchemaError
        If the file is not a valid JSON schema.
    """
    path = Path(path) if path is not None else SCHEMA_PATH
    if not path.is_file():
        raise FileNotFoundError(f"config schema {path} not found")
    with open(path, encoding="utf-8") as f:
        # libyaml's loader where PyYAML has it: 6 times faster on the schema, read at every start
        schema = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(schema, dict):
        raise jsonschema.exceptions.SchemaError(f"config schema {path} is not a mapping")
    _validator_class(schema).check_schema(schema)
    return schema


def read_config_file(path: str | Path) -> Any:
    """Read a YAML (or JSON) config file as Snakemake does, but refuse keys given twice.

    PyYAML, and so Snakemake, keeps only the last value of a key that occurs
    twice in one mapping; the first is silently lost.

    Parameters
    ----------
    path : str or Path
        The config file (e.g. ``config.yaml`` or a ``--configfile``).

    Returns
    -------
    object
        The file's content (a mapping for a config file; None if empty).

    Raises
    ------
    ConfigError
        If a key occurs twice in one mapping (each such key named by its
        dotted path, with the file and both lines), or if the file is not
        valid YAML.
    """
    text = Path(path).read_text(encoding="utf-8")
    try:
        json.loads(text)
    except ValueError:
        pass
    else:  # JSON may be indented with tabs, which YAML forbids; its strings hold no raw tabs
        text = text.expandtabs()
    loader = yaml.FullLoader(text)  # Snakemake's (through yte)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problems = list(_duplicate_keys(loader, node, "", str(path), set()))
        if problems:
            raise ConfigError(problems)
        return loader.construct_document(node)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f", line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise ConfigError(
            [f"config file {str(path)!r}{where}: expected valid YAML, got a syntax error ({problem})"]
        ) from err
    finally:
        loader.dispose()


def check_config_files(paths: Iterable[str | Path]) -> None:
    """Read every config file strictly (:func:`read_config_file`); report all problems at once.

    Parameters
    ----------
    paths : iterable of str or Path
        The config files Snakemake loaded (``workflow.configfiles``: the
        ``--configfile`` files and the Snakefile's ``configfile:``); a file
        listed twice (e.g. relative and absolute) is read once.

    Raises
    ------
    ConfigError
        Listing the problems of every file, e.g. each key given twice.
    """
    unique: dict[Path, str | Path] = {}
    for path in paths:
        unique.setdefault(Path(path).absolute(), path)
    problems: list[str] = []
    for path in unique.values():
        try:
            read_config_file(path)
        except ConfigError as err:
            problems.extend(err.problems)
    if problems:
        raise ConfigError(problems)


def _duplicate_keys(loader: yaml.FullLoader, node: yaml.Node, path: str, file: str, seen: set[int]):
    """Yield one message per key that occurs twice in a mapping of the node tree."""
    if id(node) in seen:  # an alias of a node already walked
        return
    seen.add(id(node))
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(loader, item, f"{path}[{i}]", file, seen)
    elif isinstance(node, yaml.MappingNode):
        first_line: dict[Any, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node)
            child = _join(path, str(key))
            line = key_node.start_mark.line + 1
            if key in first_line:
                yield (
                    f"config key {child!r} in {file}, line {line}: expected each key once, got it a second "
                    f"time (first on line {first_line[key]}); YAML would silently keep only the last value"
                )
            else:
                first_line[key] = line
            yield from _duplicate_keys(loader, value_node, child, file, seen)


def validate_config(
    config: Mapping, schema_path: str | Path | None = None, command_line: Mapping | None = None
) -> dict:
    """Check a workflow configuration and fill in the defaults of omitted keys.

    Parameters
    ----------
    config : mapping
        The configuration as loaded from ``config.yaml`` (e.g. Snakemake's
        ``config``). It is not modified.
    schema_path : str or Path, optional
        JSON schema to validate against; default :data:`SCHEMA_PATH`.
    command_line : mapping, optional
        The ``--config`` values given on Snakemake's command line
        (``workflow.config_settings.config``), already merged into ``config``.
        Snakemake passes nested values (``--config 'sky={nside: 1024}'``) as
        strings; where the schema expects a number, an integer, true/false or
        null, such a string is read as a YAML scalar (``'1024'`` -> 1024,
        ``'false'`` -> False). Values from config files are not converted: a
        quoted ``"1024"`` in a file is an error.

    Returns
    -------
    dict
        A new, completed configuration: omitted optional keys (also inside
        nested mappings and list items) carry their schema defaults, numbers
        that PyYAML read as strings in scientific notation (``1.0e13``) are
        floats, other numbers of ``number`` keys are floats and integral
        floats of ``integer`` keys are ints.

    Raises
    ------
    ConfigError
        If the configuration violates the schema or a cross-key rule. The
        message lists every problem, each as ``config key '<dotted.path>': ...``,
        e.g. ``config key 'sky.bands[1].freq_ghz': expected a number > 0, got -90.0``.
    """
    if not isinstance(config, Mapping):
        raise ConfigError([f"the configuration must be a mapping of keys to values, got {_show(config)}"])
    schema = load_schema(schema_path)
    completed = _complete(_from_command_line(_plain(config), command_line, schema, schema), schema, schema)

    validator = _validator_class(schema)(schema)
    problems: list[str] = []
    details: list[str] = []
    bad_paths: set[str] = set()
    for error in validator.iter_errors(completed):
        for problem, key_schema, path in _describe_error(error):
            if problem in problems:
                continue
            problems.append(problem)
            details.append(_with_hint(problem, key_schema))
            bad_paths.add(path)
    for problem in _semantic_problems(completed, bad_paths):
        problems.append(problem)
        details.append(problem)
    if problems:
        raise ConfigError(problems, details)
    return completed


# --------------------------------------------------------------------------------------------
# defaults and number normalisation


def _validator_class(schema: dict):
    """The schema's validator, with finite numbers only and the skyhunt keyword ``increasing``.

    A ``number`` is an int or a finite float: NaN and infinity (YAML ``.nan``,
    ``.inf``) pass every bound (comparisons with NaN are false), so they are
    rejected as a type. ``increasing: true`` on an array requires its items to
    increase strictly.
    """
    base = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    checker = base.TYPE_CHECKER.redefine("number", lambda _, value: _is_finite_number(value))
    return jsonschema.validators.extend(
        base, validators={"increasing": _check_increasing}, type_checker=checker
    )


def _first_not_increasing(items: list) -> int | None:
    """Index of the first numeric item not above the one before it, or None."""
    for i in range(1, len(items)):
        low, high = items[i - 1], items[i]
        if _is_finite_number(low) and _is_finite_number(high) and not low < high:
            return i
    return None


def _check_increasing(validator, increasing, instance, schema):
    if increasing and isinstance(instance, list) and _first_not_increasing(instance) is not None:
        yield jsonschema.ValidationError("the items do not increase strictly")


def _plain(value: Any) -> Any:
    """Deep copy with plain dicts and lists (Snakemake may hand over OrderedDicts)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return copy.deepcopy(value)


def _resolve(schema: dict, root: dict) -> dict:
    """Follow a local ``$ref`` (``#/...``) to the schema it points to."""
    seen = 0
    while isinstance(schema, dict) and "$ref" in schema and seen < 32:
        ref = schema["$ref"]
        if not ref.startswith("#"):
            return schema
        target: Any = root
        for part in filter(None, ref[1:].split("/")):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        schema = target
        seen += 1
    return schema


def _types(schema: dict) -> set[str]:
    t = schema.get("type", ())
    return {t} if isinstance(t, str) else set(t)


def _from_command_line(instance: Any, given: Any, schema: dict, root: dict) -> Any:
    """Read the strings of ``--config`` values (``given``) as YAML scalars where the schema wants one.

    Only values of ``instance`` still equal to the command-line value are
    converted; the result replaces them in place of a plain copy.
    """
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return instance
    if isinstance(given, Mapping) and isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key, value in given.items():
            if key in instance and key in properties:
                instance[key] = _from_command_line(instance[key], value, properties[key], root)
        return instance
    if isinstance(given, list) and instance == given and isinstance(schema.get("items"), dict):
        return [_from_command_line(item, item, schema["items"], root) for item in instance]
    if isinstance(given, str) and instance == given:
        return _yaml_scalar(given, _types(schema))
    return instance


def _yaml_scalar(text: str, types: set[str]) -> Any:
    """``text`` read as a YAML scalar if that gives one of the non-string ``types``, else ``text``."""
    if not types & {"number", "integer", "boolean", "null"}:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if (
        (_is_number(value) and types & {"number", "integer"})
        or (isinstance(value, bool) and "boolean" in types)
        or (value is None and "null" in types)
    ):
        return value
    return text


def _complete(instance: Any, schema: dict, root: dict) -> Any:
    """Fill defaults and normalise numbers in place of a plain copy; return the result."""
    schema = _resolve(schema, root)
    if not isinstance(schema, dict):
        return instance
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        for key, sub in properties.items():
            sub = _resolve(sub, root)
            if key not in instance and isinstance(sub, dict) and "default" in sub:
                instance[key] = copy.deepcopy(sub["default"])
        for key in instance:
            if key in properties:
                instance[key] = _complete(instance[key], properties[key], root)
        return instance
    if isinstance(instance, list):
        items = schema.get("items")
        if isinstance(items, dict):
            return [_complete(item, items, root) for item in instance]
        return instance
    types = _types(schema)
    if "number" in types and "integer" not in types:
        if isinstance(instance, str) and _SCI_NOTATION.match(instance):
            return float(instance)
        if isinstance(instance, int) and not isinstance(instance, bool):
            return float(instance)
    if "integer" in types and isinstance(instance, float) and instance.is_integer():
        return int(instance)
    return instance


# --------------------------------------------------------------------------------------------
# error messages


def _key_path(parts: Iterable) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _show(value: Any, limit: int = 80) -> str:
    if value is None:
        return "nothing (null)"
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _is_non_finite(value: Any) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def _show_typed(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a boolean)"
    kind = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a mapping"}
    text = f"{_show(value)} ({kind.get(type(value), type(value).__name__)})"
    if isinstance(value, str) and _NUMERIC_STRING.match(value):
        text += "; remove the quotes to give a number"
    elif isinstance(value, str) and value.strip().lower() in ("true", "false"):
        text += "; remove the quotes to give true or false"
    return text


def _first_sentence(text: str) -> str:
    text = " ".join(text.split())
    match = re.search(r"(?<=[a-z0-9)])\.\s+(?=[A-Z])", text)
    return text[: match.start() + 1] if match else text


def _with_hint(problem: str, key_schema: dict | None) -> str:
    if isinstance(key_schema, dict) and key_schema.get("description"):
        return f"{problem}\n      ({_first_sentence(key_schema['description'])})"
    return problem


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _describe_error(error: jsonschema.ValidationError) -> list[tuple[str, dict | None, str]]:
    """Turn one jsonschema error into ``(message, schema of the key, dotted path)`` triples."""
    path = _key_path(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}
    where = f"config key {path!r}" if path else "the configuration"

    if kind == "required":
        missing = [k for k in value if isinstance(instance, dict) and k not in instance]
        sub = schema.get("properties", {})
        return [
            (
                f"config key {_join(path, k)!r} is missing; it is required (no default)",
                sub.get(k),
                _join(path, k),
            )
            for k in missing
        ]
    if kind == "additionalProperties":
        known = sorted(schema.get("properties", {}))
        extras = [k for k in instance if k not in schema.get("properties", {})]
        return [
            (
                f"config key {_join(path, str(k))!r} is not a known key "
                f"(known: {', '.join(known)}){_suggest(k, known)}",
                None,
                _join(path, str(k)),
            )
            for k in extras
        ]
    if kind == "type":
        types = [value] if isinstance(value, str) else list(value)
        if _is_non_finite(instance):
            names = {**_TYPE_NAMES, "number": "a finite number"}
            expected = " or ".join(names.get(t, t) for t in types)
            return [(f"{where}: expected {expected}, got {instance!r}", schema, path)]
        expected = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
        return [(f"{where}: expected {expected}, got {_show_typed(instance)}", schema, path)]
    if kind == "enum":
        if isinstance(instance, str) and not any(isinstance(c, str) for c in value):
            return []  # a string for a number: the type error says it
        choices = ", ".join(_show(c) for c in value)
        hint = _suggest(instance, value) if isinstance(instance, str) else ""
        return [(f"{where}: expected one of {choices}, got {_show(instance)}{hint}", schema, path)]
    bounds = {
        "minimum": ">=",
        "exclusiveMinimum": ">",
        "maximum": "<=",
        "exclusiveMaximum": "<",
    }
    if kind in bounds:
        if _is_non_finite(instance):
            return []  # the type error says it: NaN and infinity are not numbers here
        return [(f"{where}: expected a number {bounds[kind]} {value}, got {_show(instance)}", schema, path)]
    if kind == "pattern":
        return [
            (
                f"{where}: expected a string matching {value} (letters, digits, underscores), "
                f"got {_show(instance)}",
                schema,
                path,
            )
        ]
    if kind == "minItems":
        return [
            (f"{where}: expected a list of at least {value} item(s), got {_show(instance)}", schema, path)
        ]
    if kind == "increasing":
        i = _first_not_increasing(instance)
        return [
            (
                f"{where}: expected a strictly increasing list (item [{i}] = {instance[i]!r} is not "
                f"above item [{i - 1}] = {instance[i - 1]!r}), got {_show(instance)}",
                schema,
                path,
            )
        ]
    if kind == "maxItems":
        return [(f"{where}: expected a list of at most {value} item(s), got {_show(instance)}", schema, path)]
    return [(f"{where}: {error.message}", schema, path)]


# --------------------------------------------------------------------------------------------
# rules the schema cannot express


def _get(config: Any, *keys: str | int) -> Any:
    node = config
    for key in keys:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return None
        elif not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value)


def _semantic_problems(config: dict, bad_paths: set[str]) -> list[str]:
    """Cross-key rules; a rule is skipped when one of its keys already failed the schema."""
    problems: list[str] = []

    def ordered(low_path: tuple, high_path: tuple, rule: str, strict: bool = True) -> None:
        low, high = _get(config, *low_path), _get(config, *high_path)
        low_key, high_key = _key_path(low_path), _key_path(high_path)
        if not (_is_number(low) and _is_number(high)) or {low_key, high_key} & bad_paths:
            return
        if (low >= high) if strict else (low > high):
            op = "<" if strict else "<="
            problems.append(
                f"config key {low_key!r}: expected {rule} ({low_key.rsplit('.', 1)[-1]} {op} "
                f"{high_key} = {high!r}), got {low!r}"
            )

    fp = ("sky", "footprint")
    ordered((*fp, "ra_min"), (*fp, "ra_max"), "the footprint's lower RA edge below its upper edge")
    ordered((*fp, "dec_min"), (*fp, "dec_max"), "the footprint's lower Dec edge below its upper edge")
    ordered(("sky", "cosmology", "Ob0"), ("sky", "cosmology", "Om0"), "baryons to be a part of the matter")
    for pop in ("radio", "ir"):
        base = ("sky", "point_sources", "populations", pop)
        ordered((*base, "s_min_mjy"), (*base, "s_max_mjy"), "the lowest flux below the highest")
    sel = ("selection", "grid")
    ordered((*sel, "m500c_min"), (*sel, "m500c_max"), "the grid's lowest M500c below its highest")
    ordered(
        ("selection", "batches"),
        ("selection", "study_batches"),
        "the study to hold the default batches",
        strict=False,
    )
    ordered(
        ("deepcee", "clusters", "z_min"),
        ("deepcee", "clusters", "z_max"),
        "the lowest cluster z below the highest",
    )
    z_edges = _get(config, *sel, "z_edges")
    z_ref = _get(config, "selection", "mass_limit", "z")
    if (
        isinstance(z_edges, list)
        and z_edges
        and _is_number(z_ref)
        and not {"selection.grid.z_edges", "selection.mass_limit.z"} & bad_paths
        and not z_edges[0] <= z_ref < z_edges[-1]
    ):
        problems.append(
            f"config key 'selection.mass_limit.z': expected a redshift inside selection.grid.z_edges "
            f"[{z_edges[0]!r}, {z_edges[-1]!r}), got {z_ref!r}"
        )
    ordered(
        ("sky", "halos", "m_vir_min"),
        ("sky", "point_sources", "halo_hosted_radio", "m_vir_min"),
        "the halo light cone to reach down to the mass of radio-hosting halos",
        strict=False,
    )

    ordered(
        ("cutouts", "splits", "test_max"),
        ("cutouts", "splits", "validation_max"),
        "the test stripe to end before the validation stripe",
    )
    ordered(
        ("cutouts", "central_arcmin"),
        ("cutouts", "size_arcmin"),
        "the central square to fit in the cutout",
        strict=False,
    )

    nside = _get(config, "sky", "nside")
    if isinstance(nside, int) and "sky.nside" not in bad_paths:
        for section in ("cmb", "dust", "beam_smoothing"):
            lmax = _get(config, "sky", section, "lmax")
            key = f"sky.{section}.lmax"
            if isinstance(lmax, int) and key not in bad_paths and lmax > 3 * nside - 1:
                problems.append(
                    f"config key {key!r}: expected lmax <= 3*nside - 1 = {3 * nside - 1} "
                    f"(sky.nside = {nside}), got {lmax}"
                )

    bands = _get(config, "sky", "bands")
    for i, band in enumerate(bands if isinstance(bands, list) else []):
        fwhm, beam_file = _get(band, "beam_fwhm_arcmin"), _get(band, "beam_file")
        if beam_file is not None and _is_number(fwhm) and fwhm > 0:
            problems.append(
                f"config key 'sky.bands[{i}].beam_file': expected at most one beam per band, a Gaussian "
                f"(beam_fwhm_arcmin > 0) or a beam_file, got both (beam_fwhm_arcmin = {fwhm!r})"
            )
        elif isinstance(beam_file, str) and f"sky.bands[{i}].beam_file" not in bad_paths:
            from skyhunt.io import InputFileError  # here: only a beam file needs them (and astropy)
            from skyhunt.sky.beam import read_beam_file

            try:
                read_beam_file(beam_file)
            except InputFileError as err:
                problems.append(f"config key 'sky.bands[{i}].beam_file': expected a beam table, got {err}")

    for list_key, what in (("bands", "band"), ("stages", "stage")):
        items = _get(config, "sky", list_key)
        seen: dict[str, int] = {}
        for i, item in enumerate(items if isinstance(items, list) else []):
            name = _get(item, "name")
            if not isinstance(name, str):
                continue
            if name in seen:
                problems.append(
                    f"config key 'sky.{list_key}[{i}].name': expected a {what} name not used by "
                    f"another {what} ({what} names must be unique; sky.{list_key}[{seen[name]}] "
                    f"is already called {name!r}), got {name!r}"
                )
            else:
                seen[name] = i

    stages = _get(config, "sky", "stages")
    if isinstance(stages, list):
        added: dict[str, str] = {}
        for i, stage in enumerate(stages):
            adds = _get(stage, "add")
            for j, comp in enumerate(adds if isinstance(adds, list) else []):
                if comp not in COMPONENTS:
                    continue
                if comp in added:
                    problems.append(
                        f"config key 'sky.stages[{i}].add[{j}]': expected each component to be added "
                        f"once only, got {comp!r}, which {added[comp]} already adds"
                    )
                else:
                    added[comp] = f"sky.stages[{i}]"
        first = _get(stages, 0, "add")
        if isinstance(first, list) and "cmb" not in first and "sky.stages[0].add" not in bad_paths:
            problems.append(
                "config key 'sky.stages[0].add': expected the first stage to add cmb (every stage "
                f"is built on the primary CMB), got {_show(first)}"
            )

    stage_names = [_get(s, "name") for s in stages] if isinstance(stages, list) else []
    cnn_stages = _get(config, "cnn", "stages")
    for i, name in enumerate(cnn_stages if isinstance(cnn_stages, list) else []):
        if stage_names and name not in stage_names:
            problems.append(
                f"config key 'cnn.stages[{i}]': expected the name of a noise stage in sky.stages "
                f"({', '.join(map(str, stage_names))}), got {name!r}"
            )
    eval_stage = _get(config, "evaluation", "stage")
    if eval_stage is not None and isinstance(cnn_stages, list) and eval_stage not in cnn_stages:
        problems.append(
            "config key 'evaluation.stage': expected null or one of cnn.stages "
            f"({', '.join(map(str, cnn_stages))}), since the ensembles need that stage's CNN scores, "
            f"got {eval_stage!r}"
        )
    treatment = _get(config, "mf", "point_sources", "treatment")
    mf_noise = _get(config, "mf", "noise")
    if treatment == "detect" and mf_noise == "model" and "mf.noise" not in bad_paths:
        problems.append(
            "config key 'mf.noise': expected maps with mf.point_sources.treatment detect (the "
            "sources left below the detection limit are not known without the catalogue, so their "
            "noise is measured in the maps), got 'model'"
        )
    tr, opt = ("cnn", "training"), ("cnn", "optimizer")
    ordered((*tr, "ratio_start"), (*tr, "ratio_stop"), "the ladder to run upwards", strict=False)
    ordered((*opt, "warmup_batches"), (*opt, "drop_after_batches"), "the drop after warm-up", strict=False)
    every = _get(config, *tr, "eval_every_batches")
    for key in ("patience_batches", "max_batches_per_ratio"):
        value = _get(config, *tr, key)
        if _is_number(every) and _is_number(value) and value % every:
            problems.append(
                f"config key 'cnn.training.{key}': expected a multiple of "
                f"cnn.training.eval_every_batches = {every} (validation, checkpoints and stopping "
                f"happen every that many batches), got {value}"
            )
    problems.extend(_detector_problems(config))
    problems.extend(_kosiba_problems(config))
    problems.extend(_sky_source_problems(config, bad_paths))
    problems.extend(_noise_problems(config, bad_paths))
    problems.extend(_fold_problems(config, bad_paths))
    problems.extend(_layout_problems(config, bad_paths))
    return problems


#: The keys of the K-fold stripes (:func:`skyhunt.cutouts.layout.stripes`) and of their runs.
FOLD_KEYS = ("cutouts.splits", "kfold", "results_dir")


def _fold_problems(config: dict, bad_paths: set[str]) -> list[str]:
    """Rules of the K-fold stripes: K = 1 or >= 3, fold < K, and a fold run's other keys.

    With K > 1, fold 0's stripes must be ``test_max`` = 1/K and ``validation_max`` = 2/K,
    ``kfold.folds`` must be K, and ``results_dir`` fold k's ``kfold.results_dir``, so that
    each fold's run has its own directory and the ``kfold`` target reads it.
    """
    if any(_within(p, key) for p in bad_paths for key in FOLD_KEYS):
        return []
    splits, kfold = config["cutouts"]["splits"], config["kfold"]
    folds, fold = splits["folds"], splits["fold"]
    if folds == 2:
        return [
            "config key 'cutouts.splits.folds': expected 1 (DeepSZ's fixed stripes) or at least 3 "
            "(fold k tests stripe k and validates on stripe k+1, so 2 folds leave no training "
            "stripe), got 2"
        ]
    if fold >= folds:
        return [
            f"config key 'cutouts.splits.fold': expected a fold below cutouts.splits.folds = {folds} "
            f"(0 to {folds - 1}), got {fold}"
        ]
    if folds == 1:
        return []
    problems = []
    for key, n in (("test_max", 1), ("validation_max", 2)):
        if not math.isclose(splits[key], n / folds, rel_tol=0.0, abs_tol=1e-6):
            problems.append(
                f"config key 'cutouts.splits.{key}': expected {n}/folds = {n / folds:.6g} "
                f"(within 1e-6) with cutouts.splits.folds = {folds} (fold 0's stripes; every fold's "
                f"test and validation stripes are 1/folds of the RA range), got {splits[key]!r}"
            )
    if kfold["folds"] != folds:
        problems.append(
            f"config key 'kfold.folds': expected cutouts.splits.folds = {folds} (the folds of this "
            f"fold run, which the kfold target reads), got {kfold['folds']}"
        )
    own = kfold["results_dir"].format(fold=fold)
    if os.path.normpath(config["results_dir"]) != os.path.normpath(own):
        problems.append(
            f"config key 'results_dir': expected {own!r}, kfold.results_dir with {{fold}} = "
            f"cutouts.splits.fold = {fold} (each fold's run in its own directory, where the kfold "
            f"target reads it), got {config['results_dir']!r}"
        )
    return problems


def _detector_problems(config: dict) -> list[str]:
    """Rules of config detector: its class bands name bands of sky.bands, and its training steps
    (and those of masses.cnn) are whole evaluation periods."""
    problems: list[str] = []
    names = [_get(b, "name") for b in _get(config, "sky", "bands") or []]
    for key in ("radio_band", "dusty_band"):
        band = _get(config, "detector", key)
        if isinstance(band, str) and names and band not in names:
            problems.append(
                f"config key 'detector.{key}': expected the name of a band in sky.bands "
                f"({', '.join(map(str, names))}), got {band!r}"
            )
    for section in (("detector", "training"), ("masses", "cnn"), ("vetting", "cnn"), ("kosiba", "cnn")):
        every = _get(config, *section, "eval_every_steps")
        steps = _get(config, *section, "steps")
        if _is_number(every) and _is_number(steps) and steps % every:
            key = ".".join(section)
            problems.append(
                f"config key '{key}.steps': expected a multiple of {key}.eval_every_steps = {every} "
                f"(validation and checkpoints happen every that many steps), got {steps}"
            )
    return problems


def _kosiba_problems(config: dict) -> list[str]:
    """Rules of config kosiba: its grid side divides every instrument's cutout side, and halves
    at each of its CNN's pools."""
    npix, filters = _get(config, "kosiba", "npix"), _get(config, "kosiba", "cnn", "filters")
    if not isinstance(npix, int) or npix <= 0:
        return []
    problems = []
    for key in (("cutouts", "npix"), ("xray", "npix"), ("optical", "npix")):
        side = _get(config, *key)
        if isinstance(side, int) and side % npix:
            problems.append(
                f"config key 'kosiba.npix': expected a divisor of {'.'.join(key)} = {side} (its cutouts "
                f"are summed or averaged over square blocks onto the common grid), got {npix}"
            )
    if isinstance(filters, list) and npix % 2 ** len(filters):
        problems.append(
            f"config key 'kosiba.npix': expected a multiple of 2^{len(filters)} (the CNN's "
            f"{len(filters)} 2x2 pools, kosiba.cnn.filters), got {npix}"
        )
    return problems


def _noise_problems(config: dict, bad_paths: set[str]) -> list[str]:
    """Rules of sky.noise: red noise regularised at the tiles' scale; for depth maps, the file
    model's path template and white levels > 0 to scale."""
    problems: list[str] = []
    ell_min = _get(config, "sky", "noise", "red_ell_min")
    tiles = _get(config, "mf", "tiles") or {}
    side = [tiles.get("core_deg"), tiles.get("overlap_deg")]
    red = any(
        _is_number(_get(b, "ell_knee")) and _get(b, "ell_knee") > 0
        for b in _get(config, "sky", "bands") or []
    )
    keys = {"sky.noise.red_ell_min", "mf.tiles.core_deg", "mf.tiles.overlap_deg"}
    if red and _is_number(ell_min) and all(map(_is_number, side)) and not keys & bad_paths:
        ell_tile = 360.0 / (side[0] + 2.0 * side[1])
        if ell_min < ell_tile:
            problems.append(
                f"config key 'sky.noise.red_ell_min': expected >= 360 deg / (mf.tiles.core_deg + 2 "
                f"mf.tiles.overlap_deg) = {ell_tile:.4g} with red noise (sky.bands[].ell_knee): red power "
                f"on scales larger than a matched-filter tile leaks into it through its apodization, "
                f"outside the noise model, got {ell_min!r}"
            )
    groups = _get(config, "sky", "noise", "red_correlation_groups")
    names = [_get(b, "name") for b in _get(config, "sky", "bands") or []]
    if isinstance(groups, list) and "sky.noise.red_correlation_groups" not in bad_paths:
        listed = [n for g in groups if isinstance(g, list) for n in g]
        unknown = sorted({n for n in listed if n not in names})
        twice = sorted({n for n in listed if listed.count(n) > 1})
        if unknown or twice:
            problems.append(
                "config key 'sky.noise.red_correlation_groups': expected groups of the band names "
                f"{names}, each band in at most one group, got {groups!r}"
                + (f" (not bands: {unknown})" if unknown else "")
                + (f" (more than once: {twice})" if twice else "")
            )
    model = _get(config, "sky", "noise", "depth", "model")
    if model in (None, "uniform") or "sky.noise.depth.model" in bad_paths:
        return problems
    key = "sky.noise.depth.path_template"
    template = _get(config, "sky", "noise", "depth", "path_template")
    if model == "file" and key not in bad_paths:
        fields = set(re.findall(r"{([^{}]*)}", template)) if isinstance(template, str) else None
        if fields != {"band"}:
            problems.append(
                f"config key {key!r}: expected a file name with the field {{band}} and no others "
                f"(sky.noise.depth.model = 'file'), got {template!r}"
            )
    for i, band in enumerate(_get(config, "sky", "bands") or []):
        level = _get(band, "noise_uk_arcmin")
        key = f"sky.bands[{i}].noise_uk_arcmin"
        if _is_number(level) and level <= 0 and key not in bad_paths:
            problems.append(
                f"config key {key!r}: expected > 0 with sky.noise.depth.model = {model!r} (a depth "
                f"map scales the white noise; a noiseless band has no finite inverse variance), got {level!r}"
            )
    return problems


#: Grids of more cutout centres than this (the full sky at the default 6' stride has 4e6) are not
#: built to check the stripes: that would take seconds and gigabytes on every Snakemake call.
LAYOUT_MAX_CENTRES = 10_000_000

#: The keys the cutout grid and its RA stripes depend on (:func:`skyhunt.cutouts.layout.cutout_layout`).
LAYOUT_KEYS = (
    "sky.nside",
    "sky.footprint",
    "cutouts.size_arcmin",
    "cutouts.npix",
    "cutouts.stride_arcmin",
    "cutouts.edge_margin_arcmin",
    "cutouts.splits",
)


def _layout_problems(config: dict, bad_paths: set[str]) -> list[str]:
    """The footprint must hold cutouts, and each split's RA stripes (test, validation, train) at least one.

    Builds the grid the cutouts rule will cut, with its code, so that a
    stripe narrower than the grid spacing fails here and not in the CNN jobs.
    """
    if any(_within(p, key) or _within(key, p) for p in bad_paths for key in LAYOUT_KEYS):
        return []
    fp, splits = config["sky"]["footprint"], config["cutouts"]["splits"]
    if not (
        fp["ra_min"] < fp["ra_max"]
        and fp["dec_min"] < fp["dec_max"]
        and splits["test_max"] < splits["validation_max"]
        and splits["folds"] != 2
        and splits["fold"] < splits["folds"]
    ):
        return []  # reported by the ordering and fold rules
    cc = config["cutouts"]
    if Footprint.from_config(fp).area_deg2 * 3600.0 / cc["stride_arcmin"] ** 2 > LAYOUT_MAX_CENTRES:
        return []
    nside = config["sky"]["nside"]
    try:
        layout = cutout_layout(fp, nside, cc)
    except ValueError:  # make_grid: not one cutout fits
        return [
            f"config key 'sky.footprint': expected a box that holds at least one cutout "
            f"({cc['size_arcmin']:g}' cutouts, cutouts.size_arcmin, kept {edge_margin_arcmin(cc, nside):.2f}'"
            f" inside every edge: the larger of cutouts.edge_margin_arcmin and the map interpolation's "
            f"reach at sky.nside = {config['sky']['nside']}), got RA {fp['ra_min']!r} to {fp['ra_max']!r}, "
            f"Dec {fp['dec_min']!r} to {fp['dec_max']!r} deg"
        ]
    ra = layout.grid.ra
    span = fp["ra_max"] - fp["ra_min"]
    fractions, names = stripes(splits)
    edges = [fp["ra_min"], *(fp["ra_min"] + f * span for f in fractions), fp["ra_max"]]
    guard = splits["guard_arcmin"]
    guarded = (
        f", and those within cutouts.splits.guard_arcmin = {guard:g}' of a stripe edge are in none"
        if guard
        else ""
    )
    problems = []
    for name in SPLITS:
        if (layout.split == name).any():
            continue
        key = "folds" if splits["folds"] > 1 else "test_max" if name == "test" else "validation_max"
        pieces, j = [], 0
        for split, run in itertools.groupby(names):  # adjacent stripes of one split are one piece
            n = len(list(run))
            if split == name:
                pieces.append((edges[j], edges[j + n]))
            j += n
        where = " and ".join(
            f"RA {lo:.3f} to {hi:.3f} deg ({60.0 * (hi - lo):.1f}' wide)" for lo, hi in pieces
        )
        fold = f" of fold {splits['fold']}" if splits["folds"] > 1 else ""
        stripe = "stripe" if len(pieces) == 1 else "stripes"
        problems.append(
            f"config key 'cutouts.splits.{key}': expected RA stripes that each hold at least one cutout, "
            f"got {splits[key]!r}, which leaves the {name} {stripe}{fold}, {where}, without any of the "
            f"{ra.size} cutout centres (they lie "
            f"between RA {ra.min():.3f} and {ra.max():.3f} deg, cutouts.stride_arcmin = "
            f"{cc['stride_arcmin']:g}' apart on the sky{guarded}; see also sky.footprint, "
            "cutouts.size_arcmin and cutouts.edge_margin_arcmin)"
        )
    return problems


def _within(path: str, key: str) -> bool:
    """Whether dotted ``path`` is ``key`` or lies inside it."""
    return path == key or path.startswith((f"{key}.", f"{key}["))


#: Frequency labels of the Sehgal et al. (2010) maps on LAMBDA (GHz, zero-padded).
SEHGAL_BANDS = ("030", "090", "148", "219", "277", "350")


def _sky_source_problems(config: dict, bad_paths: set[str]) -> list[str]:
    """Rules for sky.source sehgal2010 (octant, band labels) and maps (path template), and the
    keys of simulated skies only."""
    problems: list[str] = []
    source = _get(config, "sky", "source")
    scatter = _get(config, "sky", "halos", "y_scatter_ln")
    path = "sky.halos.y_scatter_ln"
    if source in ("sehgal2010", "maps") and _is_number(scatter) and scatter != 0 and path not in bad_paths:
        problems.append(
            f"config key {path!r}: expected 0 with sky.source = {source!r}, whose maps bring their "
            f"own SZ signal (the scatter applies to simulated halos only), got {scatter!r}"
        )
    relativistic = _get(config, "sky", "halos", "relativistic_tsz")
    if source in ("sehgal2010", "maps") and relativistic is True:
        problems.append(
            f"config key 'sky.halos.relativistic_tsz': expected false with sky.source = {source!r}, "
            "whose maps bring their own SZ signal (simulated halos only), got True"
        )
    profile = _get(config, "sky", "halos", "pressure_profile")
    if profile == "battaglia12":
        if source in ("sehgal2010", "maps"):
            problems.append(
                f"config key 'sky.halos.pressure_profile': expected arnaud10 with sky.source = {source!r}, "
                "whose maps bring their own SZ signal (simulated halos only), got 'battaglia12'"
            )
        beamed = [
            b.get("name")
            for b in _get(config, "sky", "bands") or []
            if isinstance(b, dict) and (b.get("beam_fwhm_arcmin") or b.get("beam_file"))
        ]
        if beamed:
            problems.append(
                "config key 'sky.halos.pressure_profile': battaglia12 is painted without beams, but "
                f"bands {beamed} have one (set their beam_fwhm_arcmin to 0 and beam_file to null, "
                "or use arnaud10)"
            )
    scale = _get(config, "sky", "halos", "tsz_scale")
    if source in ("sehgal2010", "maps") and _is_number(scale) and scale != 1.0:
        problems.append(
            f"config key 'sky.halos.tsz_scale': expected 1 with sky.source = {source!r}, whose maps "
            f"bring their own SZ signal (simulated halos only), got {scale!r}"
        )
    if source == "sehgal2010":
        fp = _get(config, "sky", "footprint") or {}
        octant = {"ra_min": 0.0, "ra_max": 90.0, "dec_min": 0.0, "dec_max": 90.0}
        for key, edge in octant.items():
            value = fp.get(key)
            path = f"sky.footprint.{key}"
            if not _is_number(value) or path in bad_paths:
                continue
            if (value < edge) if key.endswith("min") else (value > edge):
                problems.append(
                    f"config key {path!r}: expected the footprint inside the octant 0 <= RA <= 90, "
                    f"0 <= Dec <= 90 deg, where the Sehgal et al. (2010) halos and sources are unique "
                    f"(sky.source = 'sehgal2010'), got {value!r}"
                )
        for i, band in enumerate(_get(config, "sky", "bands") or []):
            name = _get(band, "name")
            if isinstance(name, str) and name not in SEHGAL_BANDS:
                problems.append(
                    f"config key 'sky.bands[{i}].name': expected one of the Sehgal et al. (2010) "
                    f"frequency labels {', '.join(SEHGAL_BANDS)} (sky.source = 'sehgal2010'), got {name!r}"
                )
    templates = [("sky.maps.path_template", _get(config, "sky", "maps", "path_template"), source == "maps")]
    templates.append(("sky.sehgal2010.map_template", _get(config, "sky", "sehgal2010", "map_template"), True))
    for key, template, required in templates:
        if not isinstance(template, str) or key in bad_paths:
            continue
        fields = set(re.findall(r"{([^{}]*)}", template))
        if fields - {"component", "band"} or (required and fields != {"component", "band"}):
            problems.append(
                f"config key {key!r}: expected a file name with the fields {{component}} and {{band}} "
                f"and no others, got {template!r}"
            )
    return problems
