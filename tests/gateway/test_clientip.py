"""The client's address behind trusted proxies, and the in-process windows."""

import pytest

from gateway.limits.clientip import ClientAddress, parse_networks
from gateway.limits.ratelimit import Policy, decide
from gateway.limits.windows import LocalWindows

XFF = b"x-forwarded-for"


def test_without_trusted_proxies_the_peer_is_the_client() -> None:
    finder = ClientAddress(())
    assert finder.of("127.0.0.1", [(XFF, b"198.18.0.1")]) == "127.0.0.1"


def test_the_last_untrusted_hop_is_the_client() -> None:
    finder = ClientAddress(parse_networks(["127.0.0.1", "198.19.0.0/16"]))
    # client wrote a fake first hop; the proxy chain appended the real ones.
    headers = [(XFF, b"198.18.9.9, 198.18.0.5"), (XFF, b"198.19.0.2")]
    assert finder.of("127.0.0.1", headers) == "198.18.0.5"
    assert finder.of("198.18.0.1", headers) == "198.18.0.1"  # untrusted peer: XFF ignored
    assert finder.of("127.0.0.1", []) == "127.0.0.1"
    assert finder.of("127.0.0.1", [(XFF, b"not-an-ip, 198.19.0.3")]) == "198.19.0.3"
    assert finder.of(None, headers) is None


def test_a_bad_trusted_proxy_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        parse_networks(["10.0.0.0/33x"])


def test_local_windows_count_reset_and_stay_bounded() -> None:
    windows = LocalWindows(max_keys=100)
    assert windows.hit("a", 10, now=0.0) == (1, 10_000.0)
    assert windows.hit("a", 10, now=4.0) == (2, 6_000.0)
    assert windows.hit("a", 10, now=10.0) == (1, 10_000.0)
    for n in range(500):
        windows.hit(f"k{n}", 10, now=11.0)
    assert len(windows) == 100


def test_policy_parsing_and_decisions() -> None:
    policy = Policy.parse("default", "3/60")
    assert policy.header == b'"default";q=3;w=60'
    assert decide(policy, 3, 1500).headers() == [
        (b"ratelimit-policy", b'"default";q=3;w=60'),
        (b"ratelimit", b'"default";r=0;t=2'),
    ]
    refused = decide(policy, 4, 100)
    assert not refused.allowed
    assert (b"retry-after", b"1") in refused.headers()
    with pytest.raises(ValueError, match="positive"):
        Policy.parse("x", "0/60")
