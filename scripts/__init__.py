"""Servir's developer tools: `make bench`, `make fuzz` and `make soak`, each a package run with
`python -m scripts.<name>` from the repository root; `run.py` (`make run`) and the shell helpers.
"""
