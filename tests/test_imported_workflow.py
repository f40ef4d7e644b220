"""sky.source: sehgal2010 end to end through Snakemake, downloading from a server on 127.0.0.1.

The server holds files in the formats of the LAMBDA release (full-sky HEALPix maps in Jy/sr,
halo_nbody.ascii, IRBlastPop.dat, radio.cat) at nside 512, and drops the first transfer of one
map half-way, so the run also exercises resume. The run goes download -> component maps ->
observed maps (with our white noise) -> cutouts.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from skyhunt import io
from skyhunt.download import manifest_line
from skyhunt.sky.footprint import Footprint

from .conftest import small_config, snakemake, write_config
from .http_server import FixtureServer
from .imported_fixtures import sehgal_halo_rows, write_ascii, write_sehgal_maps

NSIDE = 512
FOOTPRINT = {"ra_min": 10.0, "ra_max": 12.5, "dec_min": 1.0, "dec_max": 3.5}


@pytest.fixture(scope="module")
def sehgal_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("lambda")
    truth = write_sehgal_maps(root, NSIDE, {"148": 148.0})
    rng = np.random.default_rng(5)
    n = 40
    halos = sehgal_halo_rows(
        rng.uniform(9.0, 13.5, n),
        rng.uniform(0.5, 4.0, n),
        rng.uniform(0.1, 1.0, n),
        10 ** rng.uniform(13.5, 15, n),
    )
    write_ascii(root / "halo_nbody.ascii", np.vstack([halos, sehgal_halo_rows(60.0, 60.0, 0.5, 1e15)]))
    ir = np.column_stack(
        [np.arange(5), rng.uniform(10, 12, 5), rng.uniform(1, 3, 5), np.ones(5), np.ones((5, 6))]
    )
    write_ascii(root / "IRBlastPop.dat", ir)
    radio = np.column_stack(
        [np.arange(3), rng.uniform(10, 12, 3), rng.uniform(1, 3, 3), np.ones(3), np.ones((3, 7))]
    )
    write_ascii(root / "radio.cat", radio)

    work = tmp_path_factory.mktemp("sehgal_run")
    (work / "manifest.yaml").write_text(
        "files:\n" + "\n".join(manifest_line(p) for p in sorted(root.iterdir())) + "\n"
    )
    cfg = small_config(nside=NSIDE, footprint=FOOTPRINT)
    cfg["sky"]["bands"] = [b for b in cfg["sky"]["bands"] if b["name"] == "148"]
    cfg["sky"]["stages"] = [
        {"name": "cmb_tsz", "add": ["cmb", "tsz"]},
        {"name": "all", "add": ["ksz", "ir", "radio", "dust"]},
    ]
    cfg["cnn"]["stages"] = ["all"]
    with FixtureServer(root) as server:
        cfg["sky"]["source"] = "sehgal2010"
        cfg["sky"]["sehgal2010"].update(base_url=server.base_url, manifest="manifest.yaml", backoff_s=0.05)
        drop_at = (root / "148_lensedcmb_healpix.fits").stat().st_size // 2
        server.drops["148_lensedcmb_healpix.fits"] = (drop_at, 1)
        write_config(work, cfg)
        proc = snakemake(work, "sky", "cutouts")  # the survey path up to the CNN dataset
        assert proc.returncode == 0, proc.stderr[-4000:]
        requests = list(server.requests)
    return cfg, work, truth, requests, drop_at


@pytest.mark.slow
def test_sehgal_download_resumes_and_fills_resources(sehgal_run):
    _, work, _, requests, drop_at = sehgal_run
    cmb = [r for name, r in requests if name == "148_lensedcmb_healpix.fits"]
    assert cmb == [None, f"bytes={drop_at}-"]
    assert sorted(p.name for p in (work / "resources" / "sehgal2010").iterdir()) == sorted(
        {name for name, _ in requests}
    )
    assert not list((work / "resources").rglob("*.part"))


@pytest.mark.slow
def test_observed_maps_are_the_sehgal_sky_in_uk_plus_our_noise(sehgal_run):
    cfg, work, truth, _, _ = sehgal_run
    sky = work / "results" / "sky"
    pixels = Footprint(**FOOTPRINT).pixels(NSIDE)
    _, noise, _ = io.read_partial_map(sky / "components" / "noise_148.fits")
    for stage, comps in (("cmb_tsz", ["cmb", "tsz"]), ("all", ["cmb", "tsz", "ksz", "ir", "radio", "dust"])):
        pix, observed, hdr = io.read_partial_map(sky / "observed" / f"{stage}_148.fits", nside=NSIDE)
        np.testing.assert_array_equal(pix, pixels)
        expected = sum(truth[(c, "148")][pixels] for c in comps) + noise
        np.testing.assert_allclose(observed, expected, atol=2e-3)
    # the white noise is ours, at the configured 2.6 uK-arcmin (4 sigma of the rms estimate)
    sigma = 2.6 / (np.degrees(np.sqrt(4 * np.pi / (12 * NSIDE**2))) * 60.0)
    assert np.std(noise) == pytest.approx(sigma, rel=4.0 / np.sqrt(2 * noise.size))


@pytest.mark.slow
def test_halos_sources_and_cutouts_follow_the_catalogue(sehgal_run):
    cfg, work, _, _, _ = sehgal_run
    halos, _ = io.read_table(work / "results" / "sky" / "halos.parquet")
    assert len(halos) > 0 and halos["ra"].max() < 20  # the far halo (RA 60) is cut
    sources, _ = io.read_table(work / "results" / "sky" / "sources.parquet")
    assert sorted(sources["population"].value_counts().to_dict().items()) == [("ir", 5), ("radio", 3)]
    index, _ = io.read_table(work / "results" / "cutouts" / "index.parquet")
    arr = np.load(work / "results" / "cutouts" / "all.npy", mmap_mode="r")
    assert arr.shape == (len(index), 1, 32, 32) and len(index) > 50
    positive = index[index["label"] == 1]
    qualifying = halos[halos["in_footprint"] & (halos["m_vir"] >= 2e14) & (halos["z"] >= 0.25)]
    assert set(positive["halo_id"]) <= set(qualifying["halo_id"])
    assert len(positive) > 0


def test_missing_manifest_entry_stops_before_any_job(tmp_path):
    cfg = small_config(nside=NSIDE, footprint=FOOTPRINT)
    cfg["sky"]["source"] = "sehgal2010"
    cfg["sky"]["sehgal2010"]["manifest"] = "manifest.yaml"
    write_config(tmp_path, cfg)
    (tmp_path / "manifest.yaml").write_text(yaml.safe_dump({"files": {"halo_nbody.ascii": {"size": 1}}}))
    proc = snakemake(tmp_path, "-n")
    assert proc.returncode != 0
    assert "manifest.yaml has no entry for 090_lensedcmb_healpix.fits" in proc.stderr + proc.stdout
