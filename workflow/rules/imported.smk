# An external sky (sky.source: sehgal2010 or maps): full-sky HEALPix maps cut to the footprint and
# converted to µK_CMB, and the halo and source catalogues, written as the same files simulate.smk
# writes. Included by the Snakefile instead of simulate.smk.


wildcard_constraints:
    component="|".join(COMPONENTS),


rule download_sehgal2010:
    output:
        dest=f"{SEHGAL}/{{file}}",
    log:
        logfile("download/{file}.log"),
    benchmark:
        benchfile("download/{file}.tsv")
    wildcard_constraints:
        file="|".join(re.escape(f) for f in SEHGAL_MANIFEST) or "(?!)",
    localrule: True  # compute nodes of most clusters have no internet access
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=500,
        runtime=240,
        download=1,
    params:
        url=download_url,
        entry=download_entry,
        retries=SEHGAL_CFG["retries"],
        backoff_s=SEHGAL_CFG["backoff_s"],
        timeout_s=SEHGAL_CFG["timeout_s"],
    script:
        "../scripts/download_sehgal2010.py"


rule import_map:
    input:
        full_sky=import_map_input,
    output:
        component_map=f"{SKY}/components/{{component}}_{{band}}.fits",
    log:
        logfile("sky/import_{component}_{band}.log"),
    benchmark:
        benchfile("sky/import_{component}_{band}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    threads: 2
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        band=band_entry("name", "freq_ghz", "beam_fwhm_arcmin", "beam_file"),
        beam_smoothing=config["sky"]["beam_smoothing"],
        unit=(
            SEHGAL_CFG["map_unit"]
            if SKY_SOURCE == "sehgal2010"
            else config["sky"]["maps"]["unit"]
        ),
        field=0 if SKY_SOURCE == "sehgal2010" else config["sky"]["maps"]["field"],
    script:
        "../scripts/import_map.py"


rule import_halos:
    input:
        catalogue=import_halos_input,
    output:
        halos=f"{SKY}/halos.parquet",
    log:
        logfile("sky/import_halos.log"),
    benchmark:
        benchfile("sky/import_halos.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        footprint=config["sky"]["footprint"],
        margin_deg=config["sky"]["margin_deg"],
        cosmology=config["sky"]["cosmology"],
        halo_model=pick(
            config["sky"]["halos"],
            "m_vir_min",
            "concentration_model",
            "truncation_r500",
        ),
        kind=SKY_SOURCE,
    script:
        "../scripts/import_halos.py"


rule import_sources:
    input:
        catalogues=import_sources_input,
    output:
        sources=f"{SKY}/sources.parquet",
    log:
        logfile("sky/import_sources.log"),
    benchmark:
        benchfile("sky/import_sources.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        footprint=config["sky"]["footprint"],
        margin_deg=config["sky"]["margin_deg"],
        bands=band_fields("name", "freq_ghz"),
        specs=source_catalogue_specs(),
    script:
        "../scripts/import_sources.py"
