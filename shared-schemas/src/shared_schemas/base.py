"""The one base class every wire contract derives from."""

from pydantic import BaseModel, ConfigDict


class Contract(BaseModel):
    """Strict wire type: no coercion, no unknown fields, finite floats only."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        allow_inf_nan=False,
        str_max_length=65536,
        validate_default=False,
    )
