"""Which local addresses WebRTC offers as ICE host candidates.

aiortc gathers host candidates through `aioice.ice.get_host_addresses`, which offers every
interface except loopback and has no filter of its own. `restrict_host_addresses` puts
one in front of it, so `rtstyle serve --ice-address 127.0.0.1` keeps media on loopback
(the default on a loopback bind) and a LAN server can offer only its LAN address.
Remote candidates outside the same set are dropped from offers (`filter_sdp`), so the
server never sends connectivity checks anywhere else either.
"""

from __future__ import annotations

import ipaddress

import aioice.ice
import ifaddr

from rtstyle.errors import RtstyleError

_original = aioice.ice.get_host_addresses
_allowed: list[str] | None = None  # None: aioice's own choice


def machine_addresses() -> list[str]:
    """Every address of this machine's interfaces, loopback included."""
    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            found.append(ip.ip if isinstance(ip.ip, str) else ip.ip[0])
    return found


def check_addresses(addresses: list[str]) -> list[str]:
    """The `--ice-address` values, each an IP address this machine has."""
    mine = set(machine_addresses())
    for a in addresses:
        try:
            ipaddress.ip_address(a)
        except ValueError:
            raise RtstyleError(f"--ice-address {a} is not an IP address; give one such as "
                               "127.0.0.1") from None
        if a not in mine:
            raise RtstyleError(f"--ice-address {a} is not an address of this machine; it has "
                               + ", ".join(sorted(mine)))
    return addresses


def _filtered(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    if _allowed is None:
        return _original(use_ipv4, use_ipv6)
    return [a for a in _allowed
            if (use_ipv4 and ":" not in a) or (use_ipv6 and ":" in a)]


def restrict_host_addresses(addresses: list[str] | None) -> None:
    """Offer only `addresses` as host candidates from now on (None: aioice's default)."""
    global _allowed
    _allowed = list(addresses) if addresses is not None else None
    aioice.ice.get_host_addresses = _filtered


def allowed() -> list[str] | None:
    return _allowed


def filter_sdp(sdp: str) -> str:
    """Drop `a=candidate` lines whose address is not allowed (all kept when unrestricted)."""
    if _allowed is None:
        return sdp
    keep = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            parts = line.split()
            if len(parts) < 6 or parts[4] not in _allowed:
                continue
        keep.append(line)
    return "\r\n".join(keep) + "\r\n"
