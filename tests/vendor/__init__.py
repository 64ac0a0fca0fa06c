"""The vendor SDK (fxsocket 0.8.0) driving our simulator over 127.0.0.1."""
