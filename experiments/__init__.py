"""Experiments: the launcher (`experiments.launch`), one package per paper (`backbones`, `aime`,
`aime_v2`, `ads`, `cip`, `dlb`: each a `main.py`, `configs/`, `results/` and a `REPORT.md`), and the
speed scripts (`benchmarks`). Past problems and their fixes are in `docs/notes/`."""
