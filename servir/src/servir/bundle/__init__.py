"""Making bundles: `save_model` writes a fitted model and its manifest as the service loads them.

Needs the `bundle` extra (scikit-learn, skops, pandas): `pip install "servir[bundle]"`.
"""

EXTRA_MODULES = frozenset({"numpy", "pandas", "sklearn", "skops"})

try:
    from servir.bundle.save import save_model
except ModuleNotFoundError as exc:
    if (exc.name or "").split(".")[0] not in EXTRA_MODULES:
        raise
    # A client-only install lacks them: say how to get them, not just which import failed.
    raise ModuleNotFoundError(
        f"saving a model needs the bundle extra ({exc.name} is missing): "
        'pip install "servir[bundle]"',
        name=exc.name,
    ) from exc

__all__ = ["save_model"]
