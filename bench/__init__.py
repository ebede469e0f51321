"""Benchmarks: each runs a baseline and netweave in the same run (`python -m bench.<name>`)."""
