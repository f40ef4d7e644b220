"""Footprint geometry and partial-map FITS files."""

import healpy as hp
import numpy as np
import pytest

from skyhunt import io
from skyhunt.sky.footprint import Footprint


@pytest.mark.parametrize(
    "box", [(10.0, 60.0, -20.0, 30.0), (0.0, 12.0, 0.0, 10.0), (300.0, 360.0, 60.0, 90.0)]
)
def test_pixels_match_brute_force(box):
    nside = 256
    fp = Footprint(*box)
    ra, dec = hp.pix2ang(nside, np.arange(hp.nside2npix(nside)), lonlat=True)
    np.testing.assert_array_equal(fp.pixels(nside), np.flatnonzero(fp.contains(ra, dec)))


def test_area_matches_pixel_count():
    fp = Footprint(0.0, 12.0, 0.0, 10.0)
    nside = 8192  # pixels straddling the edge make a difference ~ perimeter x pixel size
    area_pix = fp.pixels(nside).size * hp.nside2pixarea(nside, degrees=True)
    assert fp.area_deg2 == pytest.approx(area_pix, rel=1e-3)


def test_uniform_sampling_on_sphere():
    fp = Footprint(0.0, 20.0, 0.0, 60.0)
    ra, dec = fp.sample_uniform(200_000, np.random.default_rng(1))
    assert fp.contains(ra, dec).all()
    # uniform on the sphere: sin(dec) is uniform
    frac_low = np.mean(dec < 30.0)
    expected = np.sin(np.radians(30.0)) / np.sin(np.radians(60.0))
    assert frac_low == pytest.approx(expected, abs=4 * np.sqrt(expected * (1 - expected) / ra.size))


def test_bad_footprint_rejected():
    with pytest.raises(ValueError, match="ra_min < ra_max"):
        Footprint(10.0, 5.0, 0.0, 1.0)


def test_partial_map_round_trip_and_healpy(tmp_path):
    nside = 64
    pix = Footprint(0.0, 40.0, 0.0, 30.0).pixels(nside)
    vals = np.random.default_rng(0).normal(size=pix.size).astype(np.float32)
    path = tmp_path / "m.fits"
    io.write_partial_map(path, pix, vals, nside, header={"BAND": "148"})
    p2, v2, hdr = io.read_partial_map(path, nside=nside)
    np.testing.assert_array_equal(p2, pix)
    np.testing.assert_array_equal(v2, vals)
    assert hdr["ORDERING"] == "RING" and hdr["NSIDE"] == nside and hdr["TUNIT2"] == "uK_CMB"
    full = hp.read_map(path, partial=True)
    np.testing.assert_array_equal(full[pix], vals)
    assert np.sum(full != hp.UNSEEN) == pix.size


def test_missing_and_corrupt_maps_name_the_file(tmp_path):
    with pytest.raises(io.InputFileError, match="nope.fits does not exist"):
        io.read_partial_map(tmp_path / "nope.fits")
    nside = 32
    pix = np.arange(100)
    path = tmp_path / "m.fits"
    io.write_partial_map(path, pix, np.ones(100), nside)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    with pytest.raises(io.InputFileError, match="m.fits"):
        io.read_partial_map(path)
    io.write_partial_map(path, pix, np.ones(100), nside)
    with pytest.raises(io.InputFileError, match="NSIDE=32, expected 64"):
        io.read_partial_map(path, nside=64)
    bad = bytearray(path.read_bytes())
    bad[-100] ^= 0xFF  # flip a data byte: the FITS checksum catches it
    path.write_bytes(bytes(bad))
    with pytest.raises(io.InputFileError, match="m.fits"):
        io.read_partial_map(path)


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError):
        with io.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("crash mid-write")
    assert list(tmp_path.iterdir()) == []
