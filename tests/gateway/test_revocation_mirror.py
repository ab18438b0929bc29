"""The in-memory mirror: what it refuses, what it forgets, and what it tells the key cache."""

import pytest

from gateway.auth.revocations import RevocationMirror
from shared_schemas.revocation import RevocationEvent

pytestmark = pytest.mark.timeout(10)


def test_mirror_prunes_only_tokens_expired_past_the_grace() -> None:
    mirror = RevocationMirror(grace_seconds=30)
    mirror.load(tokens=[("old", 100.0), ("recent", 190.0)], cutoffs={}, api_keys=[])
    assert mirror.prune(now=200.0) == 1
    assert not mirror.token_revoked(jti="old", username="u", issued_at=0)
    assert mirror.token_revoked(jti="recent", username="u", issued_at=0)


def test_mirror_user_cutoff_refuses_only_earlier_tokens() -> None:
    mirror = RevocationMirror(grace_seconds=30)
    mirror.apply(RevocationEvent(kind="user", subject="ann", at=1000.5))
    assert mirror.token_revoked(jti="a", username="ann", issued_at=1000.25)
    assert not mirror.token_revoked(jti="b", username="ann", issued_at=1000.5)
    assert not mirror.token_revoked(jti="c", username="bob", issued_at=1.0)


def test_mirror_reload_never_lowers_a_cutoff() -> None:
    mirror = RevocationMirror(grace_seconds=30)
    mirror.apply(RevocationEvent(kind="user", subject="ann", at=2000.0))
    mirror.load(tokens=[], cutoffs={"ann": 1000.0}, api_keys=[])
    assert mirror.token_revoked(jti="a", username="ann", issued_at=1500.0)


def test_mirror_user_event_marks_the_user_changed_since_a_sequence() -> None:
    mirror = RevocationMirror(grace_seconds=30)
    seen = mirror.sequence()
    assert not mirror.user_changed_since("ann", seen)
    mirror.apply(RevocationEvent(kind="user", subject="ann", at=5.0))
    mirror.apply(RevocationEvent(kind="user", subject="ann", at=1.0))  # not later, still a change
    assert mirror.user_changed_since("ann", seen)
    assert not mirror.user_changed_since("bob", seen)
    assert not mirror.user_changed_since("ann", mirror.sequence())
