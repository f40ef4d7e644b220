"""Cluster catalogues of the MF and the CNN detector, their cross-match and ensembles, and metrics."""
