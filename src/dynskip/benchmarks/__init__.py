"""Measurements above the skipping core: the engine's cut-over calibration and its benchmark."""
