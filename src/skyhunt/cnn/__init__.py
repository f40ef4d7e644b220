"""CNN cutout classifier (DeepSZ section 2.2): models, data, training ladder, calibration."""
