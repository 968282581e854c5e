"""Client addresses: through trusted proxies only; an IPv6 /64 counts as one address."""

from __future__ import annotations

import pytest

from chatapp.services.identity import addresses


@pytest.mark.parametrize(
    ("headers", "hops", "expected"),
    [
        ({"X-Forwarded-For": "1.2.3.4"}, 0, "10.0.0.1"),  # no proxy: the header is the client's
        ({"X-Forwarded-For": "1.2.3.4, 203.0.113.7"}, 1, "203.0.113.7"),
        ({"x-forwarded-for": "1.2.3.4,203.0.113.7, 10.0.0.2"}, 2, "203.0.113.7"),
        ({"X-Forwarded-For": "203.0.113.7:5555"}, 1, "203.0.113.7"),
        ({"X-Forwarded-For": "[2001:db8::1]:443"}, 1, "2001:db8::1"),
        ({"X-Forwarded-For": "203.0.113.7"}, 2, "10.0.0.1"),  # fewer entries than proxies
        ({"X-Forwarded-For": "not-an-address"}, 1, "10.0.0.1"),
        ({}, 1, "10.0.0.1"),
    ],
)
def test_client_ip_trusts_only_the_proxies_it_is_told_of(
    headers: dict[str, str], hops: int, expected: str
) -> None:
    assert addresses.client_ip(headers, "10.0.0.1", hops) == expected


def test_an_ipv6_home_is_one_address_and_mapped_ipv4_is_ipv4() -> None:
    assert addresses.address_key("2001:db8:1:2::5") == addresses.address_key("2001:db8:1:2:ff::1")
    assert addresses.address_key("2001:db8:1:3::5") != addresses.address_key("2001:db8:1:2::5")
    assert addresses.address_key("::ffff:203.0.113.9") == addresses.address_key("203.0.113.9")
    assert addresses.address_key("203.0.113.9") != addresses.address_key("203.0.113.10")
