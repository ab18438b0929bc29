"""Service plumbing every Servir service shares (the `service` extra): settings, request ids,
JSON logs, problem+json errors, the internal-token guard, Redis clients, the server launcher.

It is not a contract; it lives beside the contracts so that the three services share one copy.
"""
