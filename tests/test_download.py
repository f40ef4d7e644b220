"""skyhunt.download against a real HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import logging

import healpy as hp
import numpy as np
import pytest

from skyhunt.download import DownloadError, ManifestEntry, fetch, load_manifest, main

from .http_server import FixtureServer


@pytest.fixture
def served(tmp_path):
    """A small full-sky FITS map (nside 64, Jy/sr) and an ASCII catalogue behind a live server."""
    root = tmp_path / "server"
    root.mkdir()
    m = np.random.default_rng(3).normal(0.0, 400.0, hp.nside2npix(64)).astype(np.float32)
    hp.write_map(root / "148_tsz_healpix.fits", m, dtype=np.float32, column_units="Jy/sr")
    (root / "halo_nbody.ascii").write_text("\n".join(" ".join(["1.0"] * 20) for _ in range(50)) + "\n")
    with FixtureServer(root) as server:
        yield server, root


def entry_of(path, **override) -> ManifestEntry:
    data = path.read_bytes()
    values = {
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "md5": hashlib.md5(data).hexdigest(),
    }
    values.update(override)
    return ManifestEntry(**values)


class Waits(list):
    """Records the back-off waits instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def test_success_streams_verifies_and_leaves_no_part(served, tmp_path):
    server, root = served
    dest = tmp_path / "out" / "148_tsz_healpix.fits"
    fetch(server.url(dest.name), dest, entry_of(root / dest.name), sleep=Waits())
    assert dest.read_bytes() == (root / dest.name).read_bytes()
    assert not dest.with_name(dest.name + ".part").exists()
    assert hp.read_map(dest).shape == (hp.nside2npix(64),)
    assert server.requests == [(dest.name, None)]


def test_resume_after_dropped_connection_uses_range(served, tmp_path):
    server, root = served
    name = "148_tsz_healpix.fits"
    size = (root / name).stat().st_size
    server.drops[name] = (size // 3, 2)  # the first two responses break off at a third of the file
    dest = tmp_path / name
    waits = Waits()
    fetch(server.url(name), dest, entry_of(root / name), backoff_s=0.5, sleep=waits)
    assert dest.read_bytes() == (root / name).read_bytes()
    ranges = [r for n, r in server.requests]
    assert ranges[0] is None
    assert ranges[1] == f"bytes={size // 3}-"  # resumed where the connection dropped
    assert ranges[2] == f"bytes={size // 3}-"  # second drop: nothing new arrived before it
    assert len(ranges) == 3
    assert waits == [0.5, 1.0]  # exponential back-off


def test_server_ignoring_range_restarts_from_zero(served, tmp_path):
    server, root = served
    name = "148_tsz_healpix.fits"
    server.drops[name] = (1000, 1)
    server.ignore_range.add(name)
    dest = tmp_path / name
    fetch(server.url(name), dest, entry_of(root / name), sleep=Waits())
    assert dest.read_bytes() == (root / name).read_bytes()


def test_corrupt_file_is_retried_then_fails_clearly_without_output(served, tmp_path):
    server, root = served
    name = "148_tsz_healpix.fits"
    server.corrupt.add(name)
    dest = tmp_path / name
    waits = Waits()
    with pytest.raises(DownloadError) as info:
        fetch(server.url(name), dest, entry_of(root / name), retries=2, backoff_s=0.1, sleep=waits)
    msg = str(info.value)
    assert server.url(name) in msg
    assert "after 3 attempts" in msg and "sha256 mismatch" in msg
    assert server.names_requested() == [name] * 3  # retried, each time from byte 0
    assert all(r is None for _, r in server.requests)
    assert waits == [0.1, 0.2]
    assert not dest.exists()
    assert not dest.with_name(name + ".part").exists()


def test_md5_alone_also_catches_corruption(served, tmp_path):
    server, root = served
    name = "halo_nbody.ascii"
    server.corrupt.add(name)
    with pytest.raises(DownloadError, match="md5 mismatch"):
        fetch(server.url(name), tmp_path / name, entry_of(root / name, sha256=None), retries=0)


def test_wrong_manifest_size_is_an_error(served, tmp_path):
    server, root = served
    name = "halo_nbody.ascii"
    entry = entry_of(root / name, size=(root / name).stat().st_size + 7, sha256=None, md5=None)
    with pytest.raises(DownloadError, match="manifest says"):
        fetch(server.url(name), tmp_path / name, entry, retries=1, sleep=Waits())
    assert not (tmp_path / name).exists()


def test_missing_file_fails_at_once_naming_the_url(served, tmp_path):
    server, _ = served
    dest = tmp_path / "090_dust_healpix.fits"
    waits = Waits()
    with pytest.raises(DownloadError) as info:
        fetch(server.url(dest.name), dest, ManifestEntry(), retries=3, sleep=waits)
    assert "HTTP 404" in str(info.value)
    assert server.url(dest.name) in str(info.value)
    assert server.names_requested() == [dest.name]  # a permanent error is not retried
    assert waits == []
    assert not dest.exists() and not dest.with_name(dest.name + ".part").exists()


def test_unreachable_server_is_retried_then_named(tmp_path):
    with FixtureServer(tmp_path) as server:
        url = server.url("x.fits")
    # the server is shut down now: connection refused
    waits = Waits()
    with pytest.raises(DownloadError, match=r"could not download http://127\.0\.0\.1:\d+/x\.fits after 2"):
        fetch(url, tmp_path / "x.fits", retries=1, sleep=waits, timeout_s=2)
    assert waits == [2.0]


def test_unknown_checksum_downloads_and_logs_the_manifest_line(served, tmp_path, caplog):
    server, root = served
    name = "halo_nbody.ascii"
    with caplog.at_level(logging.WARNING, logger="skyhunt.download"):
        fetch(server.url(name), tmp_path / name, ManifestEntry(), sleep=Waits())
    line = f"  {name}: {{size: {entry_of(root / name).size}, sha256: {entry_of(root / name).sha256}"
    assert line in caplog.text
    assert (tmp_path / name).read_bytes() == (root / name).read_bytes()


def test_manifest_round_trip_and_errors(tmp_path, capsys):
    data = tmp_path / "a.dat"
    data.write_bytes(b"0123456789")
    main([str(data)])
    (tmp_path / "manifest.yaml").write_text(capsys.readouterr().out)
    entry = load_manifest(tmp_path / "manifest.yaml")["a.dat"]
    assert entry == entry_of(data)

    (tmp_path / "bad.yaml").write_text("files:\n  a.dat: {size: 10, sha256: xyz}\n")
    with pytest.raises(DownloadError, match=r"a\.dat\.sha256 must be 64 hex digits"):
        load_manifest(tmp_path / "bad.yaml")
    (tmp_path / "bad2.yaml").write_text("files:\n  a.dat: {bytes: 10}\n")
    with pytest.raises(DownloadError, match=r"entry 'a\.dat' has unknown keys \['bytes'\]"):
        load_manifest(tmp_path / "bad2.yaml")
    with pytest.raises(DownloadError, match="does not exist"):
        load_manifest(tmp_path / "nope.yaml")


def test_shipped_manifest_covers_the_default_sehgal_files():
    from skyhunt.config import SCHEMA_PATH

    manifest = load_manifest(SCHEMA_PATH.parents[1] / "resources" / "sehgal2010_manifest.yaml")
    for band in ("090", "148", "219"):
        for comp in ("lensedcmb", "tsz", "ksz", "ir_pts", "rad_pts", "dust"):
            assert f"{band}_{comp}_healpix.fits" in manifest
    assert {"halo_nbody.ascii", "IRBlastPop.dat", "radio.cat"} <= set(manifest)
