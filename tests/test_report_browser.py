"""The Snakemake report of the end-to-end run, opened and clicked through in headless Chromium.

Snakemake 9 reports are a JavaScript (React) application that embeds every result as a data URI.
The test opens ``results/report.html`` of the shared tiny run, clicks through the menu to every
category and every result in it, displays each figure and reads each table's download link, and
records every console error and uncaught exception on the way. Screenshots of the start page and
of the last figure shown are written to the test's temporary directory.
"""

from __future__ import annotations

import base64
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from .browser import BROWSERS, Page, find_browser

pytestmark = pytest.mark.slow

#: Defines ``walkReport()`` in the page: visit every category of the menu (and every subcategory)
#: by clicking, then every result row in it. A figure is displayed with its view button and waited
#: for until decoded; a table's view button is a download link, whose file name and data are read.
WALK = r"""
const pause = () => new Promise(resolve => setTimeout(resolve, 50));
const navLink = (text) => {
    const link = [...document.querySelectorAll("nav a")].find(a => a.textContent.trim() === text);
    if (link === undefined) {
        throw new Error(`no link '${text}' in the navigation bar`);
    }
    return link;
};
const contentImages = () => [...document.querySelectorAll("#app img")].filter(img => !img.closest("nav"));

async function walkRows(category, subcategory, visited) {
    const rows = [...document.querySelectorAll("nav table tbody tr")];
    for (const row of rows) {
        const cells = [...row.querySelectorAll("td")];
        const label = cells.slice(0, -1).map(td => td.textContent).join(" / ");
        const view = cells[cells.length - 1].querySelector("a");
        if (view.hasAttribute("download")) {
            visited.push({category, subcategory, label, shown: "download",
                          name: view.getAttribute("download"), data: view.href});
            continue;
        }
        view.click();
        await pause();
        const images = contentImages();
        if (images.length !== 1) {
            throw new Error(`'${label}' shows ${images.length} images, not one`);
        }
        await images[0].decode();
        visited.push({category, subcategory, label, shown: "image",
                      name: results[app.state.resultPath].name, data: images[0].src,
                      width: images[0].naturalWidth, height: images[0].naturalHeight});
    }
}

async function walkReport() {
    const visited = [];
    for (const category of Object.keys(categories)) {
        navLink(category).click();
        await pause();
        const subcategories = Object.keys(categories[category]);
        if (subcategories.length === 1) {
            await walkRows(category, subcategories[0], visited);
        } else {
            for (const subcategory of subcategories) {
                navLink(subcategory).click();
                await pause();
                await walkRows(category, subcategory, visited);
                navLink(category).click();
                await pause();
            }
        }
        navLink("Results").click();  // the breadcrumb back to the menu
        await pause();
    }
    return {visited, embedded: Object.values(results).map(r => r.name)};
}
"""


def data_uri_bytes(uri: str) -> bytes:
    """The content of a base64 ``data:`` URI."""
    header, _, data = uri.partition(",")
    assert header.startswith("data:") and header.endswith(";base64"), header[:80]
    return base64.b64decode(data)


def assert_not_blank(path: Path) -> None:
    """A screenshot shows something: many distinct colours, not one flat background."""
    rgb = (image.imread(path)[..., :3] * 255).astype(np.uint32)
    colours = np.unique((rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]).size
    assert rgb.std() > 12 and colours > 100, f"{path} is blank ({colours} colours)"


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = find_browser()
    if binary is None:
        pytest.skip(f"no Chromium on PATH (looked for {', '.join(BROWSERS)}); .ci/run installs it with apt")
    return binary


@pytest.fixture(scope="module")
def walk(chromium, report, tmp_path_factory) -> dict:
    """Open the report, screenshot the start page, click through every result, screenshot the last figure."""
    shots = tmp_path_factory.mktemp("report_screenshots")
    with Page(chromium, shots / "profile") as page:
        page.open(report.as_uri())
        page.evaluate("new Promise(resolve => setTimeout(resolve, 500))")  # let the rule graph draw
        start = page.screenshot(shots / "start.png")
        menu = page.evaluate('[...document.querySelectorAll("nav a")].map(a => a.textContent.trim())')
        page.evaluate(WALK + "\nundefined")
        walked = page.evaluate("walkReport()")
        last_figure = [v for v in walked["visited"] if v["shown"] == "image"][-1]["name"]
        figure = page.screenshot(shots / f"figure_{Path(last_figure).stem}.png")
        errors = list(page.errors)
    return {"menu": menu, **walked, "errors": errors, "start": start, "figure": figure}


def test_report_has_no_console_errors(walk):
    assert walk["errors"] == []


def test_every_result_of_the_report_can_be_shown(walk):
    assert {"Workflow", "Statistics", "About"} <= set(walk["menu"])
    assert sorted(v["name"] for v in walk["visited"]) == sorted(walk["embedded"])


def test_every_figure_and_table_of_the_run_is_in_the_report(walk, two_runs):
    """Every figure (its PNG) and every table (in at least one format) of the run, byte for byte."""
    _, (run, _) = two_runs
    figures = {p.name: p for p in (run / "results" / "figures").glob("*.png")}
    tables = {p.name: p for p in (run / "results" / "tables").iterdir()}
    assert figures and tables
    shown = {v["name"]: v for v in walk["visited"]}
    images = {name for name, v in shown.items() if v["shown"] == "image"}
    assert images >= set(figures), f"figures missing from the report: {sorted(set(figures) - images)}"
    missing = {p.stem for p in tables.values()} - {Path(n).stem for n in shown if n in tables}
    assert not missing, f"tables missing from the report: {sorted(missing)}"
    for name, v in shown.items():
        assert data_uri_bytes(v["data"]) == {**figures, **tables}[name].read_bytes(), name
        if v["shown"] == "image":
            assert v["width"] > 100 and v["height"] > 100, f"{name} is shown {v['width']} x {v['height']}"


def test_screenshots_show_the_report(walk):
    for path in (walk["start"], walk["figure"]):
        assert_not_blank(path)
