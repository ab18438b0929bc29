"""`make bench` (`python -m scripts.bench`), its naive baseline, and two micro-benchmarks of
the gateway's clients (`python -m scripts.bench.h1client`, `python -m scripts.bench.redis_script`).
"""
