"""`servir models show` as a human reads it: the runtime line names what serves the version,
the measured difference when compiled, and the reason when not."""

import pytest

from servir.cli import output
from servir.cli.models import describe
from shared_schemas.inference import ModelMetadata, RuntimeInfo
from shared_schemas.manifest import FeatureSpec


def metadata(runtime: RuntimeInfo | None) -> ModelMetadata:
    return ModelMetadata(
        name="iris",
        versions=["1"],
        default_version="1",
        task="classification",
        description="Iris species",
        features=[FeatureSpec(name="sepal_length", type="float", min=4.3, max=7.9)],
        classes=["setosa", "versicolor"],
        input_schema={},
        max_rows=1000,
        runtime=runtime,
    )


def shown(runtime: RuntimeInfo | None) -> list[str]:
    with output.out.capture() as captured:
        describe(metadata(runtime))
    return [line for line in captured.get().splitlines() if line.startswith("runtime")]


@pytest.mark.parametrize(
    ("runtime", "line"),
    [
        (
            RuntimeInfo(name="onnxruntime", max_difference=1.234e-7),
            "runtime onnxruntime (max difference 1.2e-07)",
        ),
        (
            RuntimeInfo(name="sklearn", reason="conversion is not supported for SVC"),
            "runtime sklearn: conversion is not supported for SVC",
        ),
        (RuntimeInfo(name="sklearn"), "runtime sklearn"),
    ],
)
def test_the_runtime_line(runtime: RuntimeInfo, line: str) -> None:
    assert shown(runtime) == [line]


def test_an_older_service_shows_no_runtime_line() -> None:
    assert shown(None) == []
