# The sky at other wavelengths (issue 18), seeded from the same halo catalogue: a galaxy catalogue,
# and optical (GalSim) and eROSITA-like X-ray cutouts of the MF catalogue's candidates.
MULTIWAVE = f"{RESULTS}/multiwave"


rule galaxies:
    input:
        halos=f"{SKY}/halos.parquet",
    output:
        galaxies=f"{SKY}/galaxies.parquet",
    log:
        logfile("multiwave/galaxies.log"),
    benchmark:
        benchfile("multiwave/galaxies.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        cosmology=config["sky"]["cosmology"],
        halo_model=pick(config["sky"]["halos"], "m_vir_min", "concentration_model"),
        model=config["optical"]["galaxies"],
        seed=config["seed"],
    script:
        "../scripts/galaxies.py"


rule optical_cutouts:
    input:
        candidates=f"{RESULTS}/catalogues/mf.parquet",
        galaxies=f"{SKY}/galaxies.parquet",
    output:
        cutouts=f"{MULTIWAVE}/optical_cutouts.fits",
    log:
        logfile("multiwave/optical_cutouts.log"),
    benchmark:
        benchfile("multiwave/optical_cutouts.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=3000,
        runtime=10,
    params:
        optical=without(config["optical"], "galaxies"),
        seed=config["seed"],
    script:
        "../scripts/optical_cutouts.py"


rule xray_cutouts:
    input:
        candidates=f"{RESULTS}/catalogues/mf.parquet",
        halos=f"{SKY}/halos.parquet",
        sources=f"{SKY}/sources.parquet",
    output:
        cutouts=f"{MULTIWAVE}/xray_cutouts.fits",
    log:
        logfile("multiwave/xray_cutouts.log"),
    benchmark:
        benchfile("multiwave/xray_cutouts.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        xray=config["xray"],
        cosmology=config["sky"]["cosmology"],
        bands=band_fields("name", "freq_ghz"),
        seed=config["seed"],
    script:
        "../scripts/xray_cutouts.py"


rule multiwave:
    input:
        rules.galaxies.output,
        rules.optical_cutouts.output,
        rules.xray_cutouts.output,
