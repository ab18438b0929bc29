"""`make fuzz` (`python -m scripts.fuzz`) and the schemathesis hooks it runs with."""
