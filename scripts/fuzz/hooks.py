"""Schemathesis hooks for `make fuzz` (schemathesis.toml names this file).

Four things, and nothing that hides a finding:
- The fuzzer checks the published document more strictly than it reads: every status it meets
  must be listed explicitly, not caught by the `default` problem response.
- The OAuth2 scheme is also offered as what it comes down to on the wire, a Bearer header, so
  the credential checks know where the token is (`bearer_for_oauth2`).
- The fuzzer's own identities stay usable: an admin operation aimed at one of them (delete,
  disable, new password, fewer scopes) goes to a user nobody has instead, so one generated
  request cannot turn the rest of the run into 401s. Users the fuzzer creates itself get
  every operation.
- A schema cannot say what a model bundle holds (JSON Schema's content keywords only annotate),
  so an upload the fuzzer means to be valid carries a real bundle, under a fresh model name;
  the uploads it means to be invalid keep whatever bytes it made up.
"""

import io
import json
import os
import tarfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import schemathesis
from schemathesis import Case, HookContext

PROTECTED_ENV = "SERVIR_FUZZ_PROTECTED_USERS"
BUNDLE_ENV = "SERVIR_FUZZ_BUNDLE"  # a bundle folder: manifest.json and model.skops
UPLOAD = ("POST", "/models")
USER_PATH = "/auth/users/{username}"
BEARER = "Bearer"


def protected_users() -> frozenset[str]:
    """The usernames scripts/fuzz/main.py logs in as (comma-separated in the environment)."""
    return frozenset(name for name in os.environ.get(PROTECTED_ENV, "").split(",") if name)


@schemathesis.hook
def before_load_schema(context: HookContext, raw_schema: dict[str, Any]) -> None:
    """Fuzz a stricter reading of the document (see the module docstring)."""
    explicit_statuses_only(raw_schema)
    bearer_for_oauth2(raw_schema)


def explicit_statuses_only(document: dict[str, Any]) -> None:
    """Drop each operation's `default` response: an undocumented status then fails."""
    for item in document.get("paths", {}).values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("default", None)


def bearer_for_oauth2(document: dict[str, Any]) -> None:
    """Offer, beside each OAuth2 requirement, the `Authorization: Bearer` header it comes down to.

    Schemathesis locates credentials only for `apiKey` and `http` schemes; with an `oauth2`
    one alone its `ignored_auth` check strips `X-API-Key`, keeps the token, and reports the
    success as "accepts requests without authentication". RFC 6750 puts an OAuth2 access token
    in `Authorization: Bearer`, which an `http`/`bearer` scheme names. The OAuth2 scheme stays:
    its `tokenUrl` tells the checks which operation mints credentials.
    """
    schemes = document.get("components", {}).get("securitySchemes", {})
    oauth2 = {name for name, scheme in schemes.items() if scheme.get("type") == "oauth2"}
    if not oauth2:
        return
    schemes[BEARER] = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    for item in document.get("paths", {}).values():
        for operation in item.values():
            security = operation.get("security") if isinstance(operation, dict) else None
            if security and any(oauth2 & set(requirement) for requirement in security):
                security.append({BEARER: []})


@schemathesis.hook
def before_call(context: HookContext, case: Case[Any], kwargs: dict[str, Any]) -> None:
    """Spare the fuzzer's identities; upload real bundles (see the module docstring)."""
    operation = (case.method.upper(), case.operation.path)
    if operation in {("PATCH", USER_PATH), ("DELETE", USER_PATH)}:
        username = unquote(str(case.path_parameters.get("username", "")))
        if username in protected_users():
            case.path_parameters["username"] = f"{username}-not-this-one"
    elif operation == UPLOAD and _positive(case) and isinstance(case.body, dict):
        form: dict[str, Any] = case.body  # multipart fields; a file part takes bytes
        form["bundle"] = fresh_bundle(Path(os.environ[BUNDLE_ENV]))
        # Still the case the fuzzer generated, valid: schemathesis would otherwise re-check the
        # edited body, and it counts any body holding bytes as invalid. (A private method:
        # schemathesis is pinned to one version in pyproject.toml.)
        case._sync_validated_hashes()


def _positive(case: Case[Any]) -> bool:
    """Meant valid in every part (a case can be negative in its headers alone)."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return False
    return not any(info.mode.is_negative for info in meta.components.values())


def fresh_bundle(folder: Path) -> bytes:
    """The bundle in `folder` as a .tar.gz, renamed to a model nobody has uploaded."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["name"] = f"fuzz-{uuid.uuid4().hex[:12]}"
    files = {
        "manifest.json": json.dumps(manifest).encode(),
        "model.skops": (folder / "model.skops").read_bytes(),
    }
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name, data in files.items():
            member = tarfile.TarInfo(name)
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    return buffer.getvalue()
