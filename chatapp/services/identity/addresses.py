"""Client addresses: who a request comes from, through the proxies the operator trusts, and
the unit addresses are counted in (an IPv6 /64 is one home)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping


def address_key(address: str) -> str:
    """IPv6 users usually hold a whole /64, so it counts as one address."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:80]}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.IPv6Network((ip, 64), strict=False)}"
    return f"ip:{ip}"



def client_ip(headers: Mapping[str, str], peer: str, trusted_hops: int) -> str:
    """The client's address. Each trusted proxy appends the address it saw to X-Forwarded-For,
    so the entry `trusted_hops` from the right is the last one a client could not forge."""
    if trusted_hops <= 0:
        return peer
    forwarded = next((v for k, v in headers.items() if k.lower() == "x-forwarded-for"), "")
    entries = [e.strip() for e in forwarded.split(",") if e.strip()]
    if len(entries) < trusted_hops:
        return peer  # fewer entries than proxies: the header did not come through them all
    return _strip_port(entries[-trusted_hops]) or peer


def _strip_port(entry: str) -> str | None:
    for candidate in (entry, entry.rsplit(":", 1)[0], entry.strip("[]"),
                      entry.split("]")[0].lstrip("[")):
        try:
            return str(ipaddress.ip_address(candidate))
        except ValueError:
            continue
    return None
