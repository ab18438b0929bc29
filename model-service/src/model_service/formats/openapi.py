"""MLflow's scoring protocol in each model's OpenAPI document: the invocations operation, its
request bodies (typed by the model's own instance schema) and its answer.

Documented exactly where a JSON Schema can say it (so a fuzzer's valid bodies are served and
its invalid ones refused): `dataframe_split` with the features in the model's order (or no
`columns`), `dataframe_records`, `instances` and `inputs` as rows. Also served, described in
text: `inputs` as columns, fitted column names, other column orders, and CSV.
"""

from typing import Any

from model_service.formats.examples import typical_row
from model_service.models.registry import ModelVersion

FORMS = ("dataframe_split", "dataframe_records", "instances", "inputs")
NO_PARAMS = {"anyOf": [{"type": "object", "maxProperties": 0}, {"type": "null"}]}
DESCRIPTION = (
    "MLflow's scoring protocol, as `mlflow models serve` answers at `/invocations`: one of "
    "`dataframe_split`, `dataframe_records`, `instances` or `inputs` (rows, or columns by "
    "name), or `text/csv` with a header row. Columns may carry the names the model was "
    'fitted with. Answers `{"predictions": [...]}`.'
)


def labels_schema(model: ModelVersion) -> dict[str, Any]:
    """One prediction: one of the classes, or a number for a regressor."""
    if model.classes is None:
        return {"type": "number"}
    return {"enum": list(model.classes)}


def mlflow_request(instance: dict[str, Any], instance_ref: str, model: ModelVersion) -> Any:
    """The JSON Schema of an MLflow body for this model (`instance`: its instance schema)."""
    names = [feature.name for feature in model.manifest.features]
    columns = [instance["properties"][name] for name in names]
    listed = {"type": "array", "prefixItems": columns, "minItems": len(names)}
    listed["maxItems"] = len(names)
    rows: list[dict[str, Any]] = [{"$ref": instance_ref}, listed]
    if len(names) == 1:
        rows.append(columns[0])
    max_rows = _max_rows(model)
    bodies = {
        "dataframe_split": {
            "type": "object",
            "required": ["data"],
            "additionalProperties": False,
            "properties": {
                "columns": {"type": "array", "prefixItems": [{"const": n} for n in names]}
                | {"minItems": len(names), "maxItems": len(names)},
                "data": _rows(listed, max_rows),
                "index": {"type": "array"},
            },
        },
        "dataframe_records": _rows({"$ref": instance_ref}, max_rows),
        "instances": _rows({"anyOf": rows}, max_rows),
        "inputs": _rows({"anyOf": rows}, max_rows),
    }
    return {"anyOf": [_form(key, schema) for key, schema in bodies.items()]}


def _rows(row: dict[str, Any], max_rows: int) -> dict[str, Any]:
    return {"type": "array", "items": row, "minItems": 1, "maxItems": max_rows}


def _form(key: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "title": key,
        "required": [key],
        "additionalProperties": False,
        "properties": {key: schema, "params": NO_PARAMS},
    }


def _max_rows(model: ModelVersion) -> int:
    """The rows the model's request schema takes at most (MODEL_MAX_ROWS)."""
    schema = model.schemas.request.model_json_schema()
    return int(schema["properties"]["instances"]["maxItems"])


def mlflow_example(model: ModelVersion) -> dict[str, Any]:
    """A `dataframe_split` body of one typical row."""
    row = typical_row(model.manifest)
    return {"dataframe_split": {"columns": list(row), "data": [list(row.values())]}}


def mlflow_answer(model: ModelVersion) -> dict[str, Any]:
    """The JSON Schema of the answer."""
    return {
        "type": "object",
        "required": ["predictions"],
        "additionalProperties": False,
        "properties": {"predictions": {"type": "array", "items": labels_schema(model)}},
    }
