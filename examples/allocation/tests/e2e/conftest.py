"""HTTP for the end-to-end tests: the standard library's client, as a deployed client would
call the API."""

import json
import urllib.error
import urllib.request

import pytest


def _decoded(response):
    content = response.read()
    if response.headers.get_content_type() == "application/json":
        return json.loads(content)
    return content.decode()


def _call(method, url, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, _decoded(response)
    except urllib.error.HTTPError as error:
        return error.code, _decoded(error)


@pytest.fixture
def call():
    """``call(method, url, body) -> (status, body)``: the body decoded where it is JSON."""
    return _call
