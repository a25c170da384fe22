"""Where webhooks may be sent: public addresses, and the networks the operator names.

A manager chooses a subscription's URL, but the request leaves from inside the warehouse's
network. Unchecked, a URL could reach the database host, an admin page on the LAN or a cloud
metadata service (169.254.169.254) and read its answer's status in the delivery log. So a target
is refused when its host is, or resolves to, an address that is not globally routable, unless
that address lies in DOCKSIDE["WEBHOOK_ALLOWED_NETWORKS"].

A subscription is checked when it is saved (literal addresses and `localhost`: a name that does
not resolve yet may resolve later) and every attempt is checked again after resolving, because
DNS can change between the two.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}


class TargetRefused(ValueError):
    """The URL points at an address webhooks may not reach."""


def _allowed_networks() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [
        ipaddress.ip_network(cidr, strict=False)
        for cidr in settings.DOCKSIDE.get("WEBHOOK_ALLOWED_NETWORKS", [])
    ]


def _refuse_unless_allowed(host: str, address: Address) -> None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address.is_global and not address.is_multicast:
        return
    if any(address in network for network in _allowed_networks()):
        return
    named = host if host == str(address) else f"{host} ({address})"
    raise TargetRefused(
        f"{named} is a private or reserved address; webhooks go to public addresses "
        "unless its network is listed in DOCKSIDE_WEBHOOK_ALLOWED_NETWORKS."
    )


def check_subscribed_target(url: str) -> None:
    """Refuse a URL whose host is a literal non-public address or `localhost`."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        _refuse_unless_allowed(host, ipaddress.ip_address("127.0.0.1"))
        return
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked on every attempt, once resolved
    _refuse_unless_allowed(host, address)


def check_resolved_target(url: str) -> None:
    """Refuse a URL any of whose host's addresses is not public (or allowed)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 443)
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise TargetRefused(f"{host} does not resolve ({error}).") from error
    for *_, socket_address in found:
        # IPv6 link-local answers carry a zone ("fe80::1%eth0").
        _refuse_unless_allowed(host, ipaddress.ip_address(socket_address[0].split("%")[0]))
