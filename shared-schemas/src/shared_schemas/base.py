"""The one base class every wire contract derives from, and how its integers read JSON."""

from pydantic import BaseModel, BeforeValidator, ConfigDict


class Contract(BaseModel):
    """Strict wire type: no coercion, no unknown fields, finite floats only."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        str_max_length=65536,
        validate_default=False,
    )


def _integral_number(value: object) -> object:
    return int(value) if isinstance(value, float) and value.is_integer() else value


# JSON Schema's `integer` holds every number with no fractional part, 3.0 as much as 3 (the
# OpenAPI documents promise that); strict mode alone refuses 3.0, and must still refuse 3.5
# and "3". Put it last in `Annotated[int, Field(...), WHOLE_NUMBER]`: before the Field, the
# Field's bounds would be missing from the JSON Schema.
WHOLE_NUMBER = BeforeValidator(_integral_number)
