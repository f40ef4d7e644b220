"""Report figures (DeepSZ section 3): one module per group of figures, shared style in ``style``."""
