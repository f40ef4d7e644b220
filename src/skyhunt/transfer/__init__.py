"""Transfer of the CNN and the matched filter between skies and instruments (issue 17, after DeepShadows)."""
