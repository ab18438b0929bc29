"""Servir for data scientists: save a model as a bundle, push it, predict with it."""
