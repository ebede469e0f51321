"""Webhook notifications: a JSON POST with a bounded timeout; any failure (network,
timeout, non-2xx answer) raises `WebhookError`."""

from __future__ import annotations

from typing import Any

import httpx


class WebhookError(Exception):
    """The webhook could not be delivered."""


async def post_json(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], timeout_s: float
) -> int:
    """POST `body` to `url`; the answer's status code."""
    try:
        response = await client.post(url, json=body, timeout=timeout_s)
    except httpx.HTTPError as error:
        raise WebhookError(f"{url}: {type(error).__name__}: {error}") from error
    if not response.is_success:
        raise WebhookError(f"{url}: answered {response.status_code}")
    return response.status_code
