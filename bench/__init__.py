"""Benchmarks: ``python -m bench`` runs the whole suite (see ``bench/run.py``)."""
