"""Monitoring routes: line-protocol ingest (InfluxDB v1 compatible), queries, series,
and the Prometheus exposition at ``/metrics``.

`router` goes under the API prefix; `root_router` holds the paths other tools expect
at the root (``/write`` for Telegraf's ``outputs.influxdb``, ``/metrics`` for a
Prometheus scrape) and, while the app runs, applies the store's retention policy every
`MAINTENANCE_EVERY_S` seconds and closes the store when the app stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel, ValidationError

from netweave.api.errors import ErrorBody, ErrorItem
from netweave.assurance import Query as SeriesQuery
from netweave.assurance import QueryResult, TimeSeriesStore, exposition
from netweave.assurance.exposition import OwnMetric
from netweave.assurance.lineproto import LineParser, Parsed, precision_ns
from netweave.assurance.params import parse_duration, parse_matcher, parse_time
from netweave.assurance.query import SeriesInfo, WriteReport

log = logging.getLogger(__name__)

MAINTENANCE_EVERY_S = 60.0
MAX_BODY_BYTES = 32 * 2**20
"""Largest write body, before and after gzip (InfluxDB's default is 25 MB)."""
DEFAULT_RANGE = "1h"


def _tsdb(request: Request) -> TimeSeriesStore:
    tsdb: TimeSeriesStore = request.app.state.tsdb
    return tsdb


TsdbDep = Annotated[TimeSeriesStore, Depends(_tsdb)]


@asynccontextmanager
async def _maintained(app: FastAPI) -> AsyncIterator[None]:
    tsdb: TimeSeriesStore = app.state.tsdb

    async def every_minute() -> None:
        while True:
            await asyncio.sleep(MAINTENANCE_EVERY_S)
            try:
                await asyncio.to_thread(tsdb.maintain)
            except Exception:
                log.exception("time-series store maintenance failed; retrying next round")

    task = asyncio.create_task(every_minute())
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await asyncio.to_thread(tsdb.close)


router = APIRouter(tags=["metrics"])
root_router = APIRouter(tags=["metrics"], lifespan=_maintained)
_parser = LineParser()


class WriteErrorBody(BaseModel):
    """InfluxDB's ``error`` string plus netweave's ``detail`` list (one item per bad line)."""

    error: str
    detail: list[ErrorItem]


WRITE_RESPONSES: dict[int | str, dict[str, Any]] = {
    204: {"description": "All lines written"},
    400: {
        "model": WriteErrorBody,
        "description": "Bad lines (the good ones of the same body are written) or a bad "
        "precision, encoding or body",
    },
    413: {"model": WriteErrorBody, "description": "Body larger than 32 MiB (or inflating to more)"},
}


class _TooLarge(ValueError):
    """The body exceeds `MAX_BODY_BYTES`."""


def _refused(message: str, items: list[ErrorItem], status: int = 400) -> JSONResponse:
    """A refusal in InfluxDB's shape (top-level ``error``, which Telegraf reads: a message
    starting with "partial write" makes it drop the batch instead of retrying)."""
    body = WriteErrorBody(error=message, detail=items).model_dump(exclude_none=True)
    return JSONResponse(body, status_code=status)


async def _write(request: Request, tsdb: TimeSeriesStore, precision: str) -> Response:
    try:
        precision_ns(precision)
    except ValueError as error:
        return _refused(str(error), [_item(["query", "precision"], str(error))])
    try:
        text = _body_text(await _body(request), request.headers.get("content-encoding", ""))
    except ValueError as error:
        status = 413 if isinstance(error, _TooLarge) else 400
        return _refused(str(error), [_item(["body"], str(error))], status)
    parsed, written = await run_in_threadpool(_parse_and_write, tsdb, text, precision)
    items = [
        ErrorItem(loc=["body", e.line], msg=e.reason, type="line_protocol", line=e.line)
        for e in parsed.errors
    ]
    if parsed.errors:
        rejected = len(parsed.errors)
        return _refused(
            f"partial write: {parsed.errors[0]} ({rejected} bad lines not written)", items
        )
    if written.dropped_too_old:
        message = f"partial write: points beyond retention policy dropped={written.dropped_too_old}"
        return _refused(message, [_item(["body"], message)])
    return Response(status_code=204)


def _parse_and_write(
    tsdb: TimeSeriesStore, text: str, precision: str
) -> tuple[Parsed, WriteReport]:
    parsed = _parser.parse(text, precision)
    return parsed, tsdb.write(parsed.batch)


async def _body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLarge(f"body: larger than {MAX_BODY_BYTES} bytes; send smaller batches")
        chunks.append(chunk)
    return b"".join(chunks)


def _body_text(data: bytes, encoding: str) -> str:
    """The body as text; `ValueError` naming the problem."""
    try:
        if encoding.lower() == "gzip":
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            data = inflater.decompress(data, MAX_BODY_BYTES + 1)
            if len(data) > MAX_BODY_BYTES:
                raise _TooLarge(f"body: inflates to more than {MAX_BODY_BYTES} bytes")
            if not inflater.eof:
                raise ValueError("body: gzip stream is incomplete")
        return data.decode("utf-8")
    except (zlib.error, UnicodeDecodeError) as error:
        raise ValueError(f"body: not {encoding or 'plain'} UTF-8 text: {error}") from None


def _item(loc: list[str | int], message: str) -> ErrorItem:
    return ErrorItem(loc=loc, msg=message, type="value_error")


_WRITE_DOC = (
    "Write InfluxDB line protocol (body; ``Content-Encoding: gzip`` accepted). "
    "``precision``: ns (default), us, ms, s, m, h or the v1 letters n, u. Lines that "
    "parse are written even when others do not (as InfluxDB does); the 400 names each "
    "bad line. Points older than the retention period are dropped (a 400 saying how "
    "many). String fields are accepted but not stored."
)


@router.post("/write", status_code=204, responses=WRITE_RESPONSES, description=_WRITE_DOC)
async def write(request: Request, tsdb: TsdbDep, precision: str = "ns") -> Response:
    return await _write(request, tsdb, precision)


@root_router.post(
    "/write",
    status_code=204,
    responses=WRITE_RESPONSES,
    description=_WRITE_DOC + " InfluxDB v1 path for Telegraf; ``db``, ``rp`` and the "
    "credentials are accepted and ignored (one database).",
)
async def influx_write(
    request: Request,
    tsdb: TsdbDep,
    precision: str = "ns",
    db: str | None = None,
    rp: str | None = None,
) -> Response:
    return await _write(request, tsdb, precision)


@root_router.post(
    "/query",
    responses={400: {"description": "Anything but CREATE DATABASE"}},
    description="InfluxDB v1 compatibility for Telegraf, which creates its database "
    "before writing: ``CREATE DATABASE`` (in ``q``, query string or form body) succeeds "
    "and does nothing (one database); other InfluxQL is refused.",
)
async def influx_query(request: Request, q: str | None = None) -> JSONResponse:
    if q is None:
        form = parse_qs((await request.body()).decode("utf-8", errors="replace"))
        q = form.get("q", [""])[0]
    if q.strip().upper().startswith("CREATE DATABASE"):
        return JSONResponse({"results": [{"statement_id": 0}]})
    message = f"q: only CREATE DATABASE is supported here, not {q[:60]!r} (see /api/v1/query)"
    return JSONResponse({"error": message}, status_code=400)


QUERY_RESPONSES: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorBody, "description": "A bad parameter: `loc` names it"},
}
_TAG_DOC = "key:value (equal) or key~regex (full match); repeatable, all must hold"
_QUERY_FIELDS = {
    "metric": "metric",
    "start_ns": "start",
    "end_ns": "end",
    "step_ns": "step",
    "aggregation": "agg",
    "match": "tag",
    "group_by": "group_by",
}


@router.get("/query", responses=QUERY_RESPONSES)
def query(
    tsdb: TsdbDep,
    metric: str,
    start: Annotated[
        str | None, Query(description="Unix seconds or RFC 3339; default end - 1h")
    ] = None,
    end: Annotated[str | None, Query(description="Unix seconds or RFC 3339; default now")] = None,
    step: Annotated[str, Query(description="Bucket width: 15s, 5m, 1h or seconds")] = "60s",
    agg: Annotated[str, Query(description="mean, max, min, sum, count, rate or pNN")] = "mean",
    tag: Annotated[list[str] | None, Query(description=_TAG_DOC)] = None,
    group_by: Annotated[
        list[str] | None,
        Query(
            description="Tag keys to merge series by (repeatable; one empty value merges "
            "all); absent: one result per series"
        ),
    ] = None,
) -> QueryResult:
    """Aggregate `metric` over [start, end) in `step` buckets."""
    problems: list[ErrorItem] = []

    def read(name: str, convert: Any, text: str) -> Any:
        try:
            return convert(text)
        except ValueError as error:
            problems.append(_item(["query", name], str(error)))
            return None

    end_ns = read("end", parse_time, end) if end is not None else time.time_ns()
    step_ns = read("step", parse_duration, step)
    start_ns = read("start", parse_time, start) if start is not None else None
    if start is None and end_ns is not None:
        start_ns = end_ns - parse_duration(DEFAULT_RANGE)
    matchers = [read("tag", parse_matcher, text) for text in tag or ()]
    if problems:
        raise _unprocessable(problems)
    try:
        request = SeriesQuery(
            metric=metric,
            start_ns=start_ns,
            end_ns=end_ns,
            step_ns=step_ns,
            aggregation=agg,
            match=matchers,
            group_by=[key for key in group_by if key] if group_by is not None else None,
        )
    except ValidationError as error:
        raise _unprocessable(_validation_items(error)) from None
    return tsdb.query(request)


def _unprocessable(items: list[ErrorItem]) -> HTTPException:
    return HTTPException(422, detail=[item.model_dump(exclude_none=True) for item in items])


def _validation_items(error: ValidationError) -> list[ErrorItem]:
    """Pydantic's problems named by this route's parameters."""
    items = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        field = str(problem["loc"][0]) if problem["loc"] else message.partition(":")[0]
        message = message.removeprefix(f"{field}: ")
        loc: list[str | int] = ["query", _QUERY_FIELDS.get(field, field)]
        items.append(_item(loc, message))
    return items


@router.get("/series", responses=QUERY_RESPONSES)
def series(
    tsdb: TsdbDep,
    metric: str | None = None,
    tag: Annotated[list[str] | None, Query(description=_TAG_DOC)] = None,
) -> list[SeriesInfo]:
    """Stored series (of `metric`, passing every `tag` matcher) with their latest sample."""
    try:
        matchers = [parse_matcher(text) for text in tag or ()]
    except ValueError as error:
        raise _unprocessable([_item(["query", "tag"], str(error))]) from None
    if matchers and metric is None:
        raise _unprocessable([_item(["query", "metric"], "tag matchers need a metric")])
    return [
        SeriesInfo(metric=key.metric, tags=key.tag_dict(), last_timestamp_ns=ts, last_value=value)
        for key, ts, value in tsdb.latest(metric, matchers)
    ]


@root_router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {exposition.CONTENT_TYPE: {}}}},
)
def metrics(tsdb: TsdbDep) -> PlainTextResponse:
    """Prometheus text format 0.0.4: every series' latest value and netweave's own metrics."""
    stats = tsdb.stats()
    own = [
        *exposition.process_metrics(),
        OwnMetric(
            "netweave_tsdb_series", "gauge", "Series in the time-series store.", stats.series
        ),
        OwnMetric(
            "netweave_tsdb_samples_written_total",
            "counter",
            "Samples written to the time-series store since start.",
            stats.samples_written,
        ),
        OwnMetric("netweave_tsdb_partitions", "gauge", "Time partitions held.", stats.partitions),
    ]
    text = exposition.render(tsdb.latest(), own)
    return PlainTextResponse(text, media_type=exposition.CONTENT_TYPE)
