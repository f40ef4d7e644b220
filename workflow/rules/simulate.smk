# Simulated millimetre sky (DeepSZ section 1.1): halos, SZ, point sources, CMB and dust maps
# on the footprint (sky.source: simulate). Included by the Snakefile instead of survey.smk.


rule halos:
    output:
        halos=f"{SKY}/halos.parquet",
    log:
        logfile("sky/halos.log"),
    benchmark:
        benchfile("sky/halos.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        margin_deg=config["sky"]["margin_deg"],
        cosmology=config["sky"]["cosmology"],
        halo_model=config["sky"]["halos"],
        seed=config["seed"],
    script:
        "../scripts/halos.py"


rule sources:
    input:
        halos=f"{SKY}/halos.parquet",
    output:
        sources=f"{SKY}/sources.parquet",
    log:
        logfile("sky/sources.log"),
    benchmark:
        benchfile("sky/sources.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        margin_deg=config["sky"]["margin_deg"],
        point_sources=config["sky"]["point_sources"],
        bands=band_fields("name", "freq_ghz", "ps_d3000_uk2"),
        seed=config["seed"],
    script:
        "../scripts/sources.py"


rule cmb_map:
    input:
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
    output:
        cmb=expand(f"{SKY}/components/cmb_{{band}}.fits", band=BANDS),
    log:
        logfile("sky/cmb_map.log"),
    benchmark:
        benchfile("sky/cmb_map.tsv")
    # first the maps and cutouts that the CNN ladder (the longest chain) waits for
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    # one thread on a workstation: a 2-thread job waits for two free cores while 1-thread jobs
    # keep taking the one that frees (3 min of the CNN chain's time in the default run); the
    # cluster profile sets 8 (set-threads), --set-threads cmb_map=N sets it anywhere
    threads: 1
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        bands=band_fields("name", "freq_ghz", "beam_fwhm_arcmin", "beam_file"),
        seed=config["seed"],
    script:
        "../scripts/cmb_map.py"


rule sz_maps:
    input:
        halos=f"{SKY}/halos.parquet",
    output:
        tsz=expand(f"{SKY}/components/tsz_{{band}}.fits", band=BANDS),
        ksz=expand(f"{SKY}/components/ksz_{{band}}.fits", band=BANDS),
    log:
        logfile("sky/sz_maps.log"),
    benchmark:
        benchfile("sky/sz_maps.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        bands=band_fields("name", "freq_ghz", "beam_fwhm_arcmin", "beam_file"),
        truncation_r500=config["sky"]["halos"]["truncation_r500"],
        relativistic_tsz=config["sky"]["halos"]["relativistic_tsz"],
        pressure_profile=config["sky"]["halos"]["pressure_profile"],
        tsz_scale=config["sky"]["halos"]["tsz_scale"],
    script:
        "../scripts/sz_maps.py"


rule source_maps:
    input:
        sources=f"{SKY}/sources.parquet",
    output:
        ir=expand(f"{SKY}/components/ir_{{band}}.fits", band=BANDS),
        radio=expand(f"{SKY}/components/radio_{{band}}.fits", band=BANDS),
    log:
        logfile("sky/source_maps.log"),
    benchmark:
        benchfile("sky/source_maps.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        bands=band_fields("name", "freq_ghz", "beam_fwhm_arcmin", "beam_file"),
    script:
        "../scripts/source_maps.py"


rule dust_map:
    output:
        dust=expand(f"{SKY}/components/dust_{{band}}.fits", band=BANDS),
    log:
        logfile("sky/dust_map.log"),
    benchmark:
        benchfile("sky/dust_map.tsv")
    # first the maps and cutouts that the CNN ladder (the longest chain) waits for
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    # one thread on a workstation: a 2-thread job waits for two free cores while 1-thread jobs
    # keep taking the one that frees (3 min of the CNN chain's time in the default run); the
    # cluster profile sets 8 (set-threads), --set-threads dust_map=N sets it anywhere
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        bands=band_fields("name", "freq_ghz", "beam_fwhm_arcmin", "beam_file"),
        dust_model=config["sky"]["dust"],
        seed=config["seed"],
    script:
        "../scripts/dust_map.py"
