"""docs/bundles.md documents every key of the manifest and of a feature, and no other."""

import re
from pathlib import Path

from pydantic import BaseModel

from shared_schemas.manifest import FeatureSpec, Manifest

DOC = Path(__file__).resolve().parents[2] / "docs" / "bundles.md"
# A table row's first cell: one or more backticked keys (`max_batch_size`, `max_wait_ms`).
ROW = re.compile(r"^\| ((?:`\w+`(?:, )?)+) \|", re.M)


def table_keys(heading: str) -> set[str]:
    """The keys of the first table after `heading`."""
    text = DOC.read_text(encoding="utf-8")
    after = text[text.index(heading) :]
    table = after[after.index("\n|") :].split("\n\n", 1)[0]
    return {key for cells in ROW.findall(table) for key in re.findall(r"`(\w+)`", cells)}


def fields(contract: type[BaseModel]) -> set[str]:
    return set(contract.model_fields)


def test_the_manifest_table_lists_every_key() -> None:
    assert table_keys("## manifest.json") == fields(Manifest)


def test_the_feature_table_lists_every_key() -> None:
    assert table_keys("A feature:") == fields(FeatureSpec)
