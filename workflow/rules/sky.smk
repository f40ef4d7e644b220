# The observed sky (DeepSZ section 1.2): instrument noise (and depth maps) per band, and the cumulative noise stages
# summed from the component maps, whichever rule made them (simulate.smk or survey.smk).


# The CAMB lensed TT spectrum: the simulated CMB's input and the matched filter's CMB noise
# term, whatever the sky source.
rule cmb_spectrum:
    output:
        spectrum=f"{SKY}/cmb_spectrum.ecsv",
    log:
        logfile("sky/cmb_spectrum.log"),
    benchmark:
        benchfile("sky/cmb_spectrum.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        cosmology=config["sky"]["cosmology"],
        lmax=config["sky"]["cmb"]["lmax"],
    script:
        "../scripts/cmb_spectrum.py"


# The depth (inverse-variance) map of one band's noise, read by noise_map and the matched filter
# when sky.noise.depth.model is not uniform.
rule depth_map:
    input:
        weights=depth_weights_input,
    output:
        ivar=f"{SKY}/depth/ivar_{{band}}.fits",
    log:
        logfile("sky/depth_map_{band}.log"),
    benchmark:
        benchfile("sky/depth_map_{band}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        band=band_entry("name", "freq_ghz", "noise_uk_arcmin"),
        depth=config["sky"]["noise"]["depth"],
    script:
        "../scripts/depth_map.py"


# White noise per band, with red noise (correlated between bands) and the depth map if configured.
rule noise_map:
    input:
        ivar=noise_ivar_input,
    output:
        noise=f"{SKY}/components/noise_{{band}}.fits",
    log:
        logfile("sky/noise_map_{band}.log"),
    benchmark:
        benchfile("sky/noise_map_{band}.tsv")
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=noise_map_mem_mb,
        runtime=10,
    params:
        footprint=config["sky"]["footprint"],
        nside=config["sky"]["nside"],
        band=band_entry("name", "freq_ghz", "noise_uk_arcmin", "ell_knee", "alpha_knee"),
        seed=config["seed"],
        band_names=BANDS,
        red_noise=pick(
            config["sky"]["noise"],
            "red_correlation",
            "red_correlation_groups",
            "red_ell_min",
            "red_cut_fraction",
        ),
    script:
        "../scripts/noise_map.py"


rule observed_map:
    input:
        maps=observed_map_inputs,
    output:
        observed=f"{SKY}/observed/{{stage}}_{{band}}.fits",
    log:
        logfile("sky/observed_{stage}_{band}.log"),
    benchmark:
        benchfile("sky/observed_{stage}_{band}.tsv")
    # first the maps and cutouts that the CNN ladder (the longest chain) waits for
    priority: 1
    conda:
        "../../envs/skyhunt.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        nside=config["sky"]["nside"],
        band=band_entry("name", "freq_ghz"),
        scan_filter=SCAN_FILTER,
    script:
        "../scripts/observed_map.py"


rule sky:
    input:
        expand(f"{SKY}/observed/{{stage}}_{{band}}.fits", stage=STAGES, band=BANDS),
        f"{SKY}/halos.parquet",
        f"{SKY}/sources.parquet",
