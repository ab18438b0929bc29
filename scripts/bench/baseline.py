"""The naive baseline `make bench` measures Servir against: a plain FastAPI app with a Pydantic
body and `model.predict` called in the handler, on the same bundles (no batching, no typed
contract, no auth). Run as: python -m scripts.bench.baseline <models_dir> <port>.
"""

import sys
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel


class PredictBody(BaseModel):
    """What most tutorials write: rows of named floats."""

    instances: list[dict[str, float]]


def build(models_dir: Path) -> FastAPI:
    """One predict route per demo model."""
    app = FastAPI()
    models: dict[str, Any] = {}
    for folder in sorted(models_dir.glob("*/1")):
        data = (folder / "model.skops").read_bytes()
        models[folder.parent.name] = sio.loads(data, trusted=sio.get_untrusted_types(data=data))

    @app.post("/models/{name}/predict")
    async def predict(name: str, body: PredictBody) -> dict[str, Any]:
        model = models[name]
        rows = np.array([list(instance.values()) for instance in body.instances])
        return {"predictions": model.predict(rows).tolist()}

    return app


if __name__ == "__main__":
    uvicorn.run(
        build(Path(sys.argv[1])),
        host="127.0.0.1",
        port=int(sys.argv[2]),
        access_log=False,
        log_level="warning",
    )
