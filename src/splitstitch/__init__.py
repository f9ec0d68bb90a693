"""splitstitch: split a video at safe points, encode the segments in parallel, stitch them exactly."""

__version__ = "0.1.0"
