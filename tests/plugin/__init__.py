"""The pytest plugin, run on users' test files in sessions of their own."""
