"""A Prometheus backend that is down or refuses answers 503/502 naming the backend."""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from netweave.api import create_app
from netweave.assurance import PrometheusTSDB
from netweave.bus import InProcessBus
from netweave.store import Store

QUERY = "/api/v1/query?metric=port.tx_bytes&start=0&end=60&step=10&agg=mean"


def _refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


def _bad_request(request: httpx.Request) -> httpx.Response:
    return httpx.Response(400, json={"status": "error", "error": "parse error at char 3"})


@pytest.mark.parametrize(
    ("handler", "status", "says"),
    [(_refused, 503, "unreachable"), (_bad_request, 502, "parse error")],
)
def test_backend_failures_are_answered_naming_the_backend(
    store: Store, handler: object, status: int, says: str
) -> None:
    tsdb = PrometheusTSDB("http://prometheus.invalid:9090", transport=httpx.MockTransport(handler))  # type: ignore[arg-type]
    with TestClient(create_app(store, InProcessBus(), tsdb=tsdb)) as client:
        response = client.get(QUERY)
    assert response.status_code == status
    detail = response.json()["detail"][0]
    assert detail["loc"] == ["metrics-backend"] and says in detail["msg"]
