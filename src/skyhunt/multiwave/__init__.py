"""The Kosiba task and the ensemble across wavelengths (issue 18): MF candidates classified from
their mm, X-ray and optical cutouts."""
