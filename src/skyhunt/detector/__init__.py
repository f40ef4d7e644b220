"""A fully convolutional cluster and point-source detector: heat maps of object centres (CenterNet)."""
