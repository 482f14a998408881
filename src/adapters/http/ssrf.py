"""SSRF policy: which resolved addresses an outbound request may reach.

Blocked: every address that is not globally routable (loopback, private, link-local incl. the
169.254.169.254 metadata address, CGNAT, unspecified ``0.0.0.0``/``::``, reserved), multicast,
and IPv4-mapped/6to4/NAT64 forms of those. ``GHARART_FETCH_ALLOWLIST`` opens holes: ``host``
(any port), ``host:port`` (that port only) or a CIDR (any port).
"""

from __future__ import annotations

import ipaddress
import re
import socket

import attrs

__all__ = ["Allowlist", "is_blocked_ip", "literal_ip", "parse_allowlist"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}$", re.IGNORECASE)
_METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
             ipaddress.ip_address("100.100.100.200")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def literal_ip(host: str) -> IPAddress | None:
    """The address a host names literally, in any form a resolver accepts: dotted, decimal
    (``2130706433``), octal (``0177.0.0.1``), hex (``0x7f.1``), short (``127.1``) or IPv6."""
    h = host.strip("[]").rstrip(".")
    try:
        return ipaddress.ip_address(h.split("%")[0])
    except ValueError:
        pass
    if _NUMERIC_HOST.match(h):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(h))
        except OSError:
            return None
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_blocked_ip(ip: IPAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_v4(ip)
        if inner is not None and is_blocked_ip(inner):
            return True
    if ip in _METADATA:
        return True
    return bool(ip.is_multicast or ip.is_unspecified or ip.is_loopback or ip.is_link_local
                or ip.is_private or ip.is_reserved or not ip.is_global)


@attrs.frozen
class Allowlist:
    hosts: frozenset[str] = frozenset()  # any port
    host_ports: frozenset[tuple[str, int]] = frozenset()
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def allows(self, host: str, port: int, ip: IPAddress) -> bool:
        h = host.lower().strip("[]").rstrip(".")
        ip_text = str(ip)
        if h in self.hosts or ip_text in self.hosts:
            return True
        if (h, port) in self.host_ports or (ip_text, port) in self.host_ports:
            return True
        return any(ip.version == n.version and ip in n for n in self.networks)


def parse_allowlist(text: str | None) -> Allowlist:
    """Parse ``host``, ``host:port``, ``[v6]:port`` and CIDR entries, comma-separated."""
    hosts: set[str] = set()
    host_ports: set[tuple[str, int]] = set()
    nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    for raw in (text or "").split(","):
        entry = raw.strip().lower()
        if not entry:
            continue
        if "/" in entry:
            nets.append(ipaddress.ip_network(entry, strict=False))
            continue
        if entry.startswith("["):
            host, _, rest = entry[1:].partition("]")
            if rest.startswith(":") and rest[1:].isascii() and rest[1:].isdigit():
                host_ports.add((host, int(rest[1:])))
            else:
                hosts.add(host)
            continue
        if entry.count(":") == 1:
            host, port = entry.split(":")
            if not (port.isascii() and port.isdigit()):
                raise ValueError(f"bad allowlist entry: {raw!r}")
            host_ports.add((host.rstrip("."), int(port)))
            continue
        hosts.add(entry.rstrip("."))  # a hostname, an IPv4 or a bare IPv6 address
    return Allowlist(frozenset(hosts), frozenset(host_ports), tuple(nets))
