"""The models a replica serves: bundles, their checks and verification, schemas, the registry,
batching and the inference threads."""
