"""`.env.example` documents every setting each service reads."""

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from auth_service.config import Settings as AuthSettings
from gateway.config import Settings as GatewaySettings
from model_service.config import Settings as ModelSettings

EXAMPLE = (Path(__file__).resolve().parent.parent / ".env.example").read_text()


def env_names(settings: type[BaseSettings]) -> list[str]:
    prefix = settings.model_config.get("env_prefix", "")
    return [
        str(field.validation_alias) if field.validation_alias else f"{prefix}{name}".upper()
        for name, field in settings.model_fields.items()
    ]


@pytest.mark.parametrize("settings", [GatewaySettings, AuthSettings, ModelSettings])
def test_env_example_lists_every_setting(settings: type[BaseSettings]) -> None:
    missing = [name for name in env_names(settings) if name not in EXAMPLE]
    assert missing == []
