"""`servir models show` as a human reads it: the runtime line names what serves the version,
the measured difference when compiled, and the reason when not; the aliases line marks the
public ones."""

import pytest

from servir.cli import output
from servir.cli.models import describe
from shared_schemas.inference import ModelMetadata, RuntimeInfo
from shared_schemas.manifest import FeatureSpec


def metadata(runtime: RuntimeInfo | None, **extra: object) -> ModelMetadata:
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
        **extra,  # type: ignore[arg-type]
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


def test_the_aliases_line_marks_public_ones() -> None:
    described = metadata(
        None,
        aliases={"production": "1", "canary": "2", "staging": "3"},
        public_aliases=["canary", "production"],
    )
    with output.out.capture() as captured:
        describe(described)
    lines = [line for line in captured.get().splitlines() if line.startswith("aliases")]
    assert lines == [
        "aliases production -> 1, canary -> 2 (public), staging -> 3; at most 1000 rows per request"
    ]
