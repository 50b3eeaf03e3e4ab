"""The address in the trail and in axes' lockouts: REMOTE_ADDR, or behind our own proxies
the address the outermost of them saw — never what the client wrote into X-Forwarded-For."""

import pytest
from django.test import RequestFactory

from audit.client import client_address


def request(remote="10.0.0.2", forwarded=None):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_a_trusted_proxy_it_is_the_peer_and_the_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request(forwarded="203.0.113.9")) == "10.0.0.2"


def test_behind_one_proxy_it_is_the_address_that_proxy_saw(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request(forwarded="203.0.113.9")) == "203.0.113.9"


def test_a_forged_header_cannot_choose_the_address(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client wrote 1.2.3.4; our proxy appended the address it really came from.
    assert client_address(request(forwarded="1.2.3.4, 198.51.100.7")) == "198.51.100.7"


@pytest.mark.parametrize("forwarded", [None, "", "not-an-address"])
def test_a_missing_or_garbled_header_never_yields_garbage(settings, forwarded):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_address(request(forwarded=forwarded)) in ("10.0.0.2", None)


def test_axes_and_the_trail_use_the_same_address(settings):
    assert settings.AXES_CLIENT_IP_CALLABLE == "audit.client.client_address"
