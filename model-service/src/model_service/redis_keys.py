"""Every Redis key and channel the model-service uses (prefix `model:`)."""

# Pub/sub: RepositoryEvent JSON, one per load, unload, upload or delete, for every replica.
REPOSITORY_CHANNEL = "model:repository"
# Set of `name/version` an admin unloaded: a replica that rescans the shared store skips them,
# so an unload outlives a replica's restart or a missed event.
UNLOADED = "model:unloaded"
# Hash of every model's aliases: field `<name>@<alias>`, value the version it points at. The
# `production` alias is the version a model's unversioned routes serve.
ALIASES = "model:aliases"
ALIASES_PUBLIC = "model:aliases:public"  # the same fields as ALIASES, for the public ones
# Hash of traffic splits: field the model's name, value its TrafficSplit JSON.
TRAFFIC = "model:traffic"


def text(value: bytes | str) -> str:
    """A Redis reply as text (the shared client returns bytes)."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value
