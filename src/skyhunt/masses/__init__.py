"""Masses of the matched-filter candidates (issue 16): the Arnaud Y-M relation at a fixed filter scale."""
