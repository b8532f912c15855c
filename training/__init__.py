"""AI4I 2020 training pipeline: run as a package, `python3 -m training.train` (see models/README.md)."""
