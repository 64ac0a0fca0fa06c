"""The wire dialects behind ``_core.dialect``: sans-I/O, one module per dialect."""
