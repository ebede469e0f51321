"""The built front-end (``web/``, built by ``scripts/setup.sh`` into ``static/`` here),
served at ``/``; when it is missing, ``/`` says how to build it."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
BUILD_HINT = (
    "the web UI is not built: run ./scripts/setup.sh, or `npm ci && npm run build` in web/ "
    "(needs Node.js 20 and npm)"
)


def ui_built(directory: Path = STATIC_DIR) -> bool:
    return (directory / "index.html").is_file()


def mount_ui(app: FastAPI, directory: Path = STATIC_DIR) -> None:
    """Serve the UI at ``/``. Mount it after every other route: it answers the rest."""
    if ui_built(directory):
        app.mount("/", StaticFiles(directory=directory, html=True), name="ui")
        return
    log.warning("%s; the REST API works without it", BUILD_HINT)

    @app.get("/", include_in_schema=False, status_code=503)
    def ui_missing() -> HTMLResponse:
        page = f"<!doctype html><title>netweave</title><p>{BUILD_HINT}.</p><p><a href=/docs>API</a>"
        return HTMLResponse(page, status_code=503)
