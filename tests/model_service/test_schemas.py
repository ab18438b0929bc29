"""The typed contract generated from a manifest."""

import pytest
from pydantic import ValidationError

from model_service.models.schemas import build_schemas
from shared_schemas.manifest import Manifest

# Category values that are not usable as Enum member names: empty, Enum's own attributes,
# sunder and dunder names.
ODD = ["", "mro", "_sunder_", "__init__", "name", "value", "Gato"]


def manifest() -> Manifest:
    return Manifest.model_validate(
        {
            "name": "odd",
            "version": "1",
            "task": "classification",
            "sha256": "0" * 64,
            "features": [{"name": "kind", "type": "category", "categories": ODD}],
        }
    )


@pytest.mark.parametrize("value", ODD)
def test_every_category_value_is_accepted_as_itself(value: str) -> None:
    schemas = build_schemas(manifest(), max_rows=10)
    instance = schemas.instance.model_validate_json(f'{{"kind": "{value}"}}')
    assert schemas.to_array([instance]).tolist() == [[value]]


def test_a_value_outside_the_categories_is_refused() -> None:
    schemas = build_schemas(manifest(), max_rows=10)
    with pytest.raises(ValidationError):
        schemas.instance.model_validate_json('{"kind": "Perro"}')


def test_the_schema_lists_every_category() -> None:
    schema = build_schemas(manifest(), max_rows=10).instance.model_json_schema()
    (enum,) = schema["$defs"].values()
    assert enum["enum"] == ODD
