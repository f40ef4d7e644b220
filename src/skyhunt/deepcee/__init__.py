"""Deep-CEE (Chan & Stott 2019) on simulated g, r, i fields: issue 18, a named target."""
