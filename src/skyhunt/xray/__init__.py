"""The X-ray sky (issue 18): eROSITA-like 0.5-2 keV counts of halos (beta models) and AGN."""
