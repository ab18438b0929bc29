"""Uploads a reviewer would try: traversal, links, extra members, bombs, bad bodies.

Each is refused with a 4xx naming why, and leaves nothing in the store.
"""

import gzip
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from model_service.config import Settings
from model_service.errors import ContentTooLarge
from model_service.main import create_app
from model_service.repository.store import ModelStore
from model_service.repository.uploads import refuse_declared_size
from tests.conftest import serve_in_process
from tests.model_service.test_repository import (
    ADMIN,
    bundle_archive,
    bundle_files,
    member,
    no_unloaded_flags,
    store_listing,
    targz,
    upload,
)

pytestmark = pytest.mark.anyio
__all__ = ["no_unloaded_flags"]  # the autouse fixture applies here too
SMALL_LIMIT = 64 * 1024


@pytest.fixture
def files(store: Path) -> dict[str, bytes]:
    """A valid iris version 2."""
    return bundle_files(store / "iris" / "1", "2")


@pytest.fixture
async def service(store: Path, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A replica with a small bundle limit (iris fits; breast-cancer does not and is refused)."""
    settings = Settings(models_dir=store, redis_url=redis_url, max_bundle_bytes=SMALL_LIMIT)
    async with serve_in_process(create_app(settings)) as client:
        yield client


async def refused(client: httpx.AsyncClient, store: Path, archive: bytes, status: int = 422) -> str:
    """Upload, expect `status` and an untouched store; return the detail."""
    before = store_listing(store)
    response = await upload(client, archive)
    assert response.status_code == status, response.text
    assert store_listing(store) == before
    assert not any((store / ".incoming").iterdir())
    detail: str = response.json()["detail"]
    return detail


def pax_record(key: str, value: str) -> bytes:
    """One pax record, `<length> key=value\\n`, the length counting itself."""
    body = f" {key}={value}\n"
    length = len(body) + 1
    while len(str(length)) + len(body) != length:
        length += 1
    return f"{length}{body}".encode()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../manifest.json", "points outside the bundle"),
        ("iris/../../manifest.json", "points outside the bundle"),
        ("/tmp/manifest.json", "is an absolute path"),
        ("extra.txt", "Unexpected member"),
        ("a/b/manifest.json", "nested too deep"),
    ],
)
async def test_member_names_outside_the_layout_are_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes], name: str, reason: str
) -> None:
    members = [member(n, data) for n, data in files.items()]
    archive = targz([member(name, b"{}"), *members])
    assert reason in await refused(service, store, archive)
    assert not (store.parent / "manifest.json").exists()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (tarfile.SYMTYPE, "is a symbolic link"),
        (tarfile.LNKTYPE, "is a hard link"),
        (tarfile.CHRTYPE, "is a device"),
        (tarfile.FIFOTYPE, "is a FIFO"),
    ],
)
async def test_links_and_devices_are_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes], kind: bytes, reason: str
) -> None:
    link = member("model.skops", type=kind, linkname="/etc/passwd")
    archive = targz([member("manifest.json", files["manifest.json"]), link])
    assert reason in await refused(service, store, archive)


async def test_a_member_the_manifest_does_not_name_is_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes]
) -> None:
    archive = bundle_archive({**files, "model.pkl": b"not a pickle"})
    assert "model.pkl, which manifest.json does not name" in await refused(service, store, archive)


async def test_members_in_two_folders_are_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes]
) -> None:
    manifest, model = files["manifest.json"], files["model.skops"]
    archive = targz([member("a/manifest.json", manifest), member("b/model.skops", model)])
    assert "more than one folder" in await refused(service, store, archive)


async def test_an_upload_past_the_limit_is_refused(service: httpx.AsyncClient, store: Path) -> None:
    assert "larger than" in await refused(service, store, b"x" * 3 * SMALL_LIMIT, 413)


async def test_a_small_archive_that_expands_past_the_limit_is_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes]
) -> None:
    zeros = member("model.skops", bytes(50 * SMALL_LIMIT))
    bomb = targz([member("manifest.json", files["manifest.json"]), zeros])
    assert len(bomb) < SMALL_LIMIT
    assert "add up to more than" in await refused(service, store, bomb, 413)


async def test_metadata_that_expands_past_the_limit_is_refused(
    service: httpx.AsyncClient, store: Path
) -> None:
    # Global pax headers are metadata, not files: only the bound on the stream stops them.
    record = pax_record("comment", "a" * 60_000)
    headers = [member(f"g{i}", record, type=tarfile.XGLTYPE) for i in range(40)]
    bomb = targz(headers, format=tarfile.USTAR_FORMAT)
    assert len(bomb) < SMALL_LIMIT
    assert "expands past" in await refused(service, store, bomb, 413)


async def test_an_oversized_metadata_block_is_refused(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes]
) -> None:
    members = [member(n, data) for n, data in files.items()]
    archive = targz(members, format=tarfile.PAX_FORMAT, pax_headers={"comment": "a" * 100_000})
    assert "metadata block" in await refused(service, store, archive)


@pytest.mark.parametrize(
    "archive",
    [b"not a tarball", gzip.compress(b"not a tarball" * 100), b""],
    ids=["not-gzip", "not-tar", "empty"],
)
async def test_unreadable_archives_are_refused(
    service: httpx.AsyncClient, store: Path, archive: bytes
) -> None:
    await refused(service, store, archive)


async def test_the_bundle_part_is_required(service: httpx.AsyncClient, store: Path) -> None:
    response = await service.post("/models", files={"other": ("x", b"x")}, headers=ADMIN)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "bundle"]
    assert not any((store / ".incoming").iterdir())


async def test_a_body_that_is_not_multipart_is_refused(service: httpx.AsyncClient) -> None:
    response = await service.post("/models", json={"bundle": "x"}, headers=ADMIN)
    assert response.status_code == 415


async def test_a_truncated_multipart_body_is_refused(service: httpx.AsyncClient) -> None:
    body = b'--b\r\nContent-Disposition: form-data; name="bundle"\r\n\r\nabc'
    headers = {**ADMIN, "Content-Type": "multipart/form-data; boundary=b"}
    response = await service.post("/models", content=body, headers=headers)
    assert response.status_code == 400


async def test_the_same_bundle_sent_again_is_200_with_the_body_of_the_201(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes]
) -> None:
    # A retry after the gateway's timeout: the first try was installed.
    created = await upload(service, bundle_archive(files))
    assert created.status_code == 201, created.text
    before = store_listing(store)
    again = await upload(service, bundle_archive(files, folder="iris-2"))  # same files
    assert again.status_code == 200, again.text
    assert again.json() == created.json()
    assert store_listing(store) == before
    assert not any((store / ".incoming").iterdir())


@pytest.mark.parametrize("changed", ["manifest.json", "model.skops"])
async def test_another_bundle_under_an_existing_version_is_409(
    service: httpx.AsyncClient, store: Path, files: dict[str, bytes], changed: str
) -> None:
    assert (await upload(service, bundle_archive(files))).status_code == 201
    other = dict(files)
    if changed == "manifest.json":
        other[changed] = files[changed].replace(b'"description": "', b'"description": "New. ')
    else:  # refused as another bundle before its checksum is even looked at
        other[changed] = files[changed] + b"\0"
    assert other[changed] != files[changed]
    detail = await refused(service, store, bundle_archive(other), status=409)
    assert "exists already" in detail


async def test_the_upload_documents_200_for_a_retry_and_409_for_another_bundle(
    service: httpx.AsyncClient,
) -> None:
    document = (await service.get("/openapi.json", headers=ADMIN)).json()
    answers = document["paths"]["/models"]["post"]["responses"]
    assert "sha256" in answers["200"]["description"]
    assert answers["200"]["content"]["application/json"]["schema"]
    assert "201" in answers
    assert "another bundle" in answers["409"]["description"]


def test_two_tries_of_one_upload_staged_at_once_install_once(
    store: Path, redis_url: str, files: dict[str, bytes], tmp_path: Path
) -> None:
    # The retry arrives while the first try is still being checked: both get staged.
    model_store = ModelStore(Settings(models_dir=store, redis_url=redis_url))
    staged = []
    for attempt in range(2):
        archive = tmp_path / f"try-{attempt}.tar.gz"
        archive.write_bytes(bundle_archive(files))
        staged.append(model_store.stage(archive))
    assert [model_store.install(each) for each in staged] == [True, False]
    assert (store / "iris" / "2" / "manifest.json").read_bytes() == files["manifest.json"]


@pytest.mark.parametrize("declared", ["\u00b2", "1\u00b2", "9" * 5000, "+10", "-1", " 11"])
def test_a_strange_declared_length_is_left_to_the_streaming_limit(declared: str) -> None:
    refuse_declared_size(declared, 10)  # "\u00b2".isdigit() is True, int() of it raises


def test_a_declared_length_past_the_limit_is_refused_before_reading() -> None:
    with pytest.raises(ContentTooLarge):
        refuse_declared_size("11", 10)
