"""Thresholds, ensembles and test metrics of the CNN and the matched filter (DeepSZ section 3)."""
