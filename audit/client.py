"""The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_COUNT proxies the address the
outermost trusted proxy saw, read from the right of X-Forwarded-For.

Only the right end of the header can be trusted: each proxy appends the address it received
the request from, and anything to the left of our own proxies came from the client, who can
write whatever they like there. django-axes uses the same function (AXES_CLIENT_IP_CALLABLE),
so behind the compose TLS proxy one client cannot lock another out.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str | None:
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    address = request.META.get("REMOTE_ADDR") or None
    if proxies > 0:
        forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    return _valid(address)


def _valid(address: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address(address)) if address else None
    except ValueError:
        return None
