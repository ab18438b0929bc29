"""Making bundles: `save_model` writes a fitted model and its manifest as the service loads them.

Needs the `bundle` extra (scikit-learn, skops, pandas): `pip install "servir[bundle]"`.
"""

from servir.bundle.save import save_model

__all__ = ["save_model"]
