"""The optical sky (issue 18): a galaxy catalogue from the halo catalogue, and GalSim cutouts."""
