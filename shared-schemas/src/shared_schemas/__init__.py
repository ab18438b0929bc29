"""Servir's wire contracts. Every type that crosses a service boundary lives here."""

from shared_schemas.base import Contract
from shared_schemas.problems import PROBLEM_MEDIA_TYPE, FieldError, OAuthError, Problem, V2Problem

__all__ = ["PROBLEM_MEDIA_TYPE", "Contract", "FieldError", "OAuthError", "Problem", "V2Problem"]
