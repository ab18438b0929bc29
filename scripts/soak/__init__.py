"""`make soak` (`python -m scripts.soak`): the open-loop load, its client, setup and report."""
