"""Service plumbing every Servir service shares: settings, request ids, JSON logs,
problem+json errors, the internal-token guard, Redis clients, the server launcher.

It is not a contract: the wire contracts live in `shared_schemas`, which imports none of this.
"""
