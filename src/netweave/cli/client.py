"""A small typed client of the REST API for the CLI; any `httpx.Client` carries it (a
FastAPI `TestClient` in tests)."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from netweave.inventory import Problem

API = "/api/v1"
M = TypeVar("M", bound=BaseModel)
_REQUEST_PARTS = ("body", "path", "query", "header")


class ApiError(Exception):
    """The server refused a request; `problems` say which field and why."""

    def __init__(self, status: int, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.status = status
        self.problems = problems

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        try:
            detail = response.json().get("detail")
        except ValueError:
            detail = response.text or response.reason_phrase
        if not isinstance(detail, list):
            return cls(response.status_code, [Problem((), str(detail))])
        return cls(response.status_code, [_problem(item) for item in detail])


def _problem(item: dict[str, Any]) -> Problem:
    loc = tuple(item.get("loc", ()))
    if loc and loc[0] in _REQUEST_PARTS:  # FastAPI's own errors say where in the request
        loc = loc[1:]
    return Problem(loc, str(item.get("msg", item)), item.get("line"))


class ServerUnreachable(Exception):
    def __init__(self, url: str) -> None:
        super().__init__(f"cannot reach {url}: is 'netweave serve' running?")


class ApiClient:
    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send a request to `/api/v1<path>`; errors raise `ApiError` or `ServerUnreachable`."""
        try:
            response = self._http.request(method, API + path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerUnreachable(str(self._http.base_url)) from exc
        if response.is_error:
            raise ApiError.from_response(response)
        return response

    def get(self, path: str, model: type[M]) -> M:
        return model.model_validate_json(self.request("GET", path).content)

    def get_list(self, path: str, model: type[M]) -> list[M]:
        items = self.request("GET", path).json()
        return [model.model_validate(item) for item in items]

    def create(self, path: str, body: BaseModel, model: type[M]) -> M:
        response = self.request("POST", path, json=body.model_dump(mode="json", exclude_unset=True))
        return model.model_validate_json(response.content)

    def delete(self, path: str) -> None:
        self.request("DELETE", path)
