"""Vetting of the matched filter's candidates (issue 17; beyond DeepSZ): truth labels with a reason,
per-candidate features, a CNN on cutouts centred on the candidates (the DeepShadows architecture of
Tanoglidis et al. 2021, as reproduced by Foote) and a gradient-boosting baseline on the MF's outputs."""
