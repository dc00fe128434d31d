"""Configs, the run launcher, the host training loop and benchmarks."""
