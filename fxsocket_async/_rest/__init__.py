"""The REST wing: the transport seam, pacing, retries, and the resources users call."""
