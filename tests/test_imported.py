"""External skies (skyhunt.sky.imported): reading full-sky maps, unit conversion, catalogues, config."""

from __future__ import annotations

import copy

import healpy as hp
import numpy as np
import pytest
from astropy.io import fits

from skyhunt import io
from skyhunt.config import ConfigError, validate_config
from skyhunt.sky import imported
from skyhunt.sky.footprint import Footprint
from skyhunt.sky.halos import HALO_UNITS
from skyhunt.sky.sources import source_units

from .conftest import small_config
from .imported_fixtures import sehgal_halo_rows, uk_to_jy_per_sr, write_ascii, write_sehgal_maps

NSIDE = 64


@pytest.fixture
def sky():
    cfg = small_config(
        nside=NSIDE, footprint={"ra_min": 20.0, "ra_max": 40.0, "dec_min": 10.0, "dec_max": 30.0}
    )
    cfg["sky"]["source"] = "sehgal2010"
    return validate_config(cfg)["sky"]


@pytest.mark.parametrize("freq", [90.0, 148.0, 219.0, 350.0])
def test_jy_per_sr_conversion_matches_astropy(freq):
    assert imported.to_uk_cmb_factor("Jy/sr", freq) == pytest.approx(1.0 / uk_to_jy_per_sr(freq), rel=1e-9)
    assert imported.to_uk_cmb_factor("MJy/sr", freq) == pytest.approx(1e6 / uk_to_jy_per_sr(freq), rel=1e-9)
    assert imported.to_uk_cmb_factor("K_CMB", freq) == 1e6
    with pytest.raises(ValueError, match="K_RJ"):
        imported.to_uk_cmb_factor("K_RJ", freq)


def test_read_pixels_ring_nested_and_row_layouts_agree(tmp_path):
    m = np.arange(hp.nside2npix(NSIDE), dtype=np.float32) * 0.5
    pixels = Footprint(20.0, 40.0, 10.0, 30.0).pixels(NSIDE)
    hp.write_map(tmp_path / "ring.fits", m, dtype=np.float32)
    hp.write_map(tmp_path / "nest.fits", hp.reorder(m, r2n=True), nest=True, dtype=np.float32)
    col = fits.Column(name="T", format="E", array=m)
    hdu = fits.BinTableHDU.from_columns([col])
    hdu.header.update({"PIXTYPE": "HEALPIX", "ORDERING": "RING", "NSIDE": NSIDE, "INDXSCHM": "IMPLICIT"})
    hdu.writeto(tmp_path / "flat.fits")
    for name in ("ring", "nest", "flat"):
        np.testing.assert_array_equal(
            imported.read_healpix_pixels(tmp_path / f"{name}.fits", NSIDE, pixels), m[pixels]
        )


def test_read_pixels_rejects_wrong_nside_unseen_and_garbage(tmp_path):
    m = np.zeros(hp.nside2npix(NSIDE), dtype=np.float32)
    pixels = Footprint(20.0, 40.0, 10.0, 30.0).pixels(NSIDE)
    hp.write_map(tmp_path / "m.fits", m, dtype=np.float32)
    with pytest.raises(
        io.InputFileError, match=r"m\.fits has NSIDE=64, the configuration \(sky\.nside\) needs 128"
    ):
        imported.read_healpix_pixels(tmp_path / "m.fits", 128, Footprint(20.0, 40.0, 10.0, 30.0).pixels(128))
    m[pixels[5]] = hp.UNSEEN
    hp.write_map(tmp_path / "u.fits", m, dtype=np.float32)
    with pytest.raises(io.InputFileError, match=r"u\.fits has 1 missing"):
        imported.read_healpix_pixels(tmp_path / "u.fits", NSIDE, pixels)
    (tmp_path / "g.fits").write_bytes(b"not a fits file" * 100)
    with pytest.raises(io.InputFileError, match=r"g\.fits is not a readable HEALPix FITS map"):
        imported.read_healpix_pixels(tmp_path / "g.fits", NSIDE, pixels)
    with pytest.raises(io.InputFileError, match="does not exist"):
        imported.read_healpix_pixels(tmp_path / "none.fits", NSIDE, pixels)


def import_halos(sky: dict, catalogue, kind: str, halos) -> None:
    """The import_halos step with the keys its rule passes from the sky config."""
    imported.run_import_halos(
        footprint=sky["footprint"],
        margin_deg=sky["margin_deg"],
        cosmology=sky["cosmology"],
        halo_model=sky["halos"],
        kind=kind,
        catalogue=catalogue,
        halos=halos,
    )


def import_sources(sky: dict, catalogues: list, sources) -> None:
    """The import_sources step on (path, columns, population) catalogues."""
    imported.run_import_sources(
        footprint=sky["footprint"],
        margin_deg=sky["margin_deg"],
        bands=sky["bands"],
        specs=[(columns, population) for _, columns, population in catalogues],
        catalogues=[path for path, _, _ in catalogues],
        sources=sources,
    )


def test_import_map_recovers_the_temperature_field(sky, tmp_path):
    truth = write_sehgal_maps(tmp_path, NSIDE, {"090": 90.0, "148": 148.0, "219": 219.0})
    for comp, file_comp in (("tsz", "tsz"), ("cmb", "lensedcmb")):
        for band in ("090", "219"):
            out = tmp_path / f"{comp}_{band}.fits"
            src = tmp_path / f"{band}_{file_comp}_healpix.fits"
            imported.run_import_map(
                footprint=sky["footprint"],
                nside=sky["nside"],
                band=next(b for b in sky["bands"] if b["name"] == band),
                component=comp,
                unit="Jy/sr",
                field=0,
                beam_smoothing=sky["beam_smoothing"],
                threads=1,
                full_sky=src,
                component_map=out,
            )
            pixels, values, hdr = io.read_partial_map(out, nside=NSIDE)
            np.testing.assert_array_equal(pixels, Footprint.from_config(sky["footprint"]).pixels(NSIDE))
            np.testing.assert_allclose(values, truth[(comp, band)][pixels], rtol=1e-6, atol=1e-5)
            assert hdr["TUNIT2"] == "uK_CMB" and hdr["SRCUNIT"] == "Jy/sr" and hdr["COMPNT"] == comp


def test_sehgal_halos_become_the_simulated_halo_table(sky, tmp_path):
    rows = np.vstack(
        [
            sehgal_halo_rows([25.0, 30.0], [15.0, 20.0], 0.5, [3e14, 5e13], v=(0.0, 0.0, 0.0)),
            sehgal_halo_rows(30.0, 20.0, 0.3, 4e14, m500c=2.5e14, v=(300.0, -200.0, 100.0)),
            sehgal_halo_rows(80.0, 60.0, 0.4, 6e14),  # outside the padded footprint
            sehgal_halo_rows(26.0, 15.0, 0.4, 5e12),  # below sky.halos.m_vir_min
        ]
    )
    write_ascii(tmp_path / "halo_nbody.ascii", rows)
    import_halos(sky, tmp_path / "halo_nbody.ascii", "sehgal2010", tmp_path / "halos.parquet")
    halos, units = io.read_table(tmp_path / "halos.parquet")
    # every column but the mean-relation Y of the Y-M scatter, which imported halos do not have
    shape = ("profile_xc_r500", "profile_beta")  # only with sky.halos.pressure_profile: battaglia12
    assert units == {c: u for c, u in HALO_UNITS.items() if c != "y5r500_mean_arcmin2" and c not in shape}
    assert list(halos.columns) == list(units)
    assert sorted(halos["halo_id"]) == [0, 1, 2]  # row numbers in the file
    moving = halos.set_index("halo_id").loc[2]
    los = np.array(hp.ang2vec(30.0, 20.0, lonlat=True))
    assert moving["v_los"] == pytest.approx(np.dot([300.0, -200.0, 100.0], los))
    assert moving["m500c"] == 2.5e14  # taken from the catalogue, not from c(M)
    assert moving["theta500_arcmin"] > 0 and moving["y5r500_arcmin2"] > 0
    assert halos["in_footprint"].all()


def test_halo_catalogue_with_wrong_layout_is_named(sky, tmp_path):
    write_ascii(tmp_path / "halos.ascii", np.ones((4, 12)))
    with pytest.raises(io.InputFileError, match=r"halos\.ascii has 12 columns; halo_nbody\.ascii has 20"):
        import_halos(sky, tmp_path / "halos.ascii", "sehgal2010", tmp_path / "h.parquet")
    assert not (tmp_path / "h.parquet").exists()


def test_user_halo_table_gets_m500c_from_c_of_m(sky, tmp_path):
    io.write_table(
        tmp_path / "mine.parquet",
        {"ra": np.array([25.0]), "dec": np.array([15.0]), "z": np.array([0.4]), "m_vir": np.array([3e14])},
        {"ra": "deg", "dec": "deg", "z": "", "m_vir": "M_sun"},
    )
    import_halos(sky, tmp_path / "mine.parquet", "maps", tmp_path / "halos.parquet")
    halos, _ = io.read_table(tmp_path / "halos.parquet")
    assert 0.5 * 3e14 < halos["m500c"][0] < 0.8 * 3e14  # NFW M500c / M_vir for c ~ 4-5
    assert halos["v_los"][0] == 0.0
    io.write_table(tmp_path / "bad.parquet", {"ra": np.array([1.0])}, {"ra": "deg"})
    with pytest.raises(io.InputFileError, match=r"bad\.parquet lacks column\(s\) \['dec', 'z', 'm_vir'\]"):
        import_halos(sky, tmp_path / "bad.parquet", "maps", tmp_path / "h2.parquet")


def test_source_catalogues_merge_with_fluxes_and_spectral_index(sky, tmp_path):
    cols = [
        "halo_id",
        "ra",
        "dec",
        "z",
        "flux_030",
        "flux_090",
        "flux_148",
        "flux_219",
        "flux_277",
        "flux_350",
    ]
    ir = np.array(
        [
            [7, 25.0, 15.0, 1.2, 0.01, 0.3, 1.0, 3.0, 6.0, 10.0],
            [8, 85.0, 80.0, 1.0, 0.01, 0.3, 1.0, 3.0, 6.0, 10.0],  # outside
        ]
    )
    write_ascii(tmp_path / "IRBlastPop.dat", ir)
    import_sources(sky, [(tmp_path / "IRBlastPop.dat", cols, "ir")], tmp_path / "sources.parquet")
    cat, units = io.read_table(tmp_path / "sources.parquet")
    assert units == source_units(sky["bands"])
    assert len(cat) == 1 and cat["population"][0] == "ir" and cat["host_halo_id"][0] == 7
    assert cat["flux_148_mjy"][0] == pytest.approx(1.0)
    assert cat["spectral_index"][0] == pytest.approx(np.log(3.0 / 0.3) / np.log(219.0 / 90.0))

    import_sources(sky, [], tmp_path / "empty.parquet")
    empty, _ = io.read_table(tmp_path / "empty.parquet")
    assert len(empty) == 0 and list(empty.columns) == list(units)

    with pytest.raises(io.InputFileError, match=r"IRBlastPop\.dat has 10 columns; the configuration names 9"):
        import_sources(sky, [(tmp_path / "IRBlastPop.dat", cols[:-1], "ir")], tmp_path / "x.parquet")
    with pytest.raises(io.InputFileError, match=r"lack \['flux_090', 'flux_148', 'flux_219'\]"):
        import_sources(sky, [(tmp_path / "IRBlastPop.dat", ["ra", "dec"], "ir")], tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()


def _problems(cfg) -> str:
    with pytest.raises(ConfigError) as info:
        validate_config(cfg)
    return str(info.value)


def test_config_sehgal_needs_the_octant_and_its_band_labels():
    cfg = copy.deepcopy(small_config())  # footprint Dec -1..1: partly south of the octant
    cfg["sky"]["source"] = "sehgal2010"
    cfg["sky"]["bands"][1]["name"] = "150"
    msg = _problems(cfg)
    assert "config key 'sky.footprint.dec_min': expected the footprint inside the octant" in msg
    assert "got -1.0" in msg
    assert "config key 'sky.bands[1].name': expected one of the Sehgal et al. (2010) frequency labels" in msg
    cfg["sky"]["source"] = "simulate"
    validate_config(cfg)  # the same footprint and names are fine for a simulated sky


@pytest.mark.parametrize("source", ["sehgal2010", "maps"])
def test_config_y_scatter_only_for_simulated_skies(source):
    """Imported maps bring their own SZ: a Y-M scatter there would be a truth record of no map."""
    cfg = copy.deepcopy(
        small_config(footprint={"ra_min": 20.0, "ra_max": 22.0, "dec_min": 10.0, "dec_max": 12.0})
    )
    cfg["sky"]["source"] = source
    validate_config(cfg)  # the default, no scatter
    cfg["sky"]["halos"]["y_scatter_ln"] = 0.2
    assert (
        f"config key 'sky.halos.y_scatter_ln': expected 0 with sky.source = {source!r}, whose maps bring"
        in _problems(cfg)
    )
    cfg["sky"]["source"] = "simulate"
    validate_config(cfg)


def test_config_map_templates():
    cfg = copy.deepcopy(small_config())
    cfg["sky"]["source"] = "maps"
    cfg["sky"]["maps"]["path_template"] = "maps/{component}.fits"
    cfg["sky"]["sehgal2010"]["map_template"] = "{freq}_{component}.fits"
    msg = _problems(cfg)
    assert "config key 'sky.maps.path_template': expected a file name with the fields" in msg
    assert "config key 'sky.sehgal2010.map_template'" in msg
    cfg["sky"]["source"] = "unknown"
    assert "expected one of 'simulate', 'sehgal2010', 'maps'" in _problems(cfg)


@pytest.mark.parametrize("iterations", [0, 3])
def test_import_map_with_a_beam_is_the_harmonically_smoothed_map(sky, tmp_path, iterations):
    """A band-limited full-sky map through a 3 deg beam: ducc0 analysis, b_ell, ring synthesis."""
    nside, lmax_in = NSIDE, 2 * NSIDE
    cl = 1.0 / (1.0 + np.arange(lmax_in + 1)) ** 2
    alm = hp.synalm(cl, lmax=lmax_in, new=True)
    full = hp.alm2map(alm, nside, lmax=lmax_in)
    src = tmp_path / "full.fits"
    hp.write_map(src, full, dtype=np.float64)
    band = {"name": "148", "freq_ghz": 148.0, "beam_fwhm_arcmin": 180.0, "beam_file": None}
    out = tmp_path / "beamed.fits"
    imported.run_import_map(
        footprint=sky["footprint"],
        nside=nside,
        band=band,
        component="cmb",
        unit="uK_CMB",
        field=0,
        beam_smoothing={"lmax": None, "iterations": iterations},
        threads=1,
        full_sky=src,
        component_map=out,
    )
    pixels, values, _ = io.read_partial_map(out, nside=nside)
    expect = hp.alm2map(hp.almxfl(alm, hp.gauss_beam(np.radians(3.0), lmax_in)), nside, lmax=lmax_in)[pixels]
    assert np.std(expect) < 0.9 * np.std(full[pixels])  # the beam matters at these scales
    tol = 1e-2 if iterations == 0 else 1e-4
    assert np.max(np.abs(values - expect)) < tol * np.std(expect)
