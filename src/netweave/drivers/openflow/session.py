"""One OpenFlow 1.3 switch connection: handshake, replies by xid, keepalive, events.

A `Session` reads every message the switch sends on one task, answers its echo
requests, sends its own when the switch has been quiet for `echo_interval` and closes
the connection when it stays quiet past `echo_timeout`. Anything that is not OpenFlow
1.3 closes the connection (`ProtocolError`, logged); the server is not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final

from netweave.drivers.contract import PortState
from netweave.drivers.openflow import codec, readback, wire
from netweave.drivers.openflow.wire import Header, ProtocolError
from netweave.model import OperStatus

log = logging.getLogger(__name__)

_FEATURES_REPLY: Final = 6
_PACKET_IN: Final = 10
_PORT_STATUS: Final = 12
_MULTIPART_REPLY: Final = 19
_MULTIPART_HEADER: Final = struct.Struct("!HH4x")
_MULTIPART_REPLY_MORE: Final = 1
_MULTIPART_REPLY_SIZE: Final = 16  # header and multipart header, before the entries
_PORT_STATUS_SIZE: Final = 80
_BARRIER_REPLY: Final = 21
_OFPPR_DELETE: Final = 1
_REPLY_TYPES: Final = {_FEATURES_REPLY, _BARRIER_REPLY}


class SwitchError(Exception):
    """The switch answered a request with an OpenFlow error; the message is its name."""


class SessionClosedError(ConnectionError):
    """The connection to the switch is gone."""


@dataclass(frozen=True)
class PortChanged:
    port: PortState


@dataclass(frozen=True)
class PacketReceived:
    in_port: int
    data: bytes
    reason: str


SwitchEvent = PortChanged | PacketReceived
EventSink = Callable[["Session", SwitchEvent], None]
Splitter = Callable[[bytes], list[bytes]]


class Session:
    """One switch connection over asyncio streams."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        emit: EventSink,
        echo_interval: float,
        echo_timeout: float,
        request_timeout: float,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._emit = emit
        self._echo_interval = echo_interval
        self._echo_timeout = echo_timeout
        self._request_timeout = request_timeout
        self._loop = asyncio.get_running_loop()
        self._last_seen = self._loop.time()
        self._xid = 0
        self._bundle_id = 0
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._parts: dict[int, tuple[Splitter, list[bytes]]] = {}
        self._error_sinks: list[tuple[range, dict[int, str]]] = []
        self._hello: asyncio.Future[None] = self._loop.create_future()
        self._tasks: list[asyncio.Task[None]] = []
        self.closed = asyncio.Event()
        self.close_reason = ""
        self.datapath_id = ""
        self.ports: dict[int, PortState] = {}
        peer = writer.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)

    # --- life cycle -----------------------------------------------------------------------

    async def open(self) -> None:
        """Hello, features and port description; `SessionClosedError` if the switch fails."""
        self._tasks = [
            asyncio.create_task(self._read_loop(), name=f"openflow-read {self.peer}"),
            asyncio.create_task(self._keepalive(), name=f"openflow-echo {self.peer}"),
        ]
        self.send(wire.hello(self.next_xid()))
        await self._hello
        features = await self.request(codec.encode(codec.features_request(), self.next_xid()))
        self.datapath_id = f"{features.datapath_id:016x}"
        for entry in await self.multipart(codec.port_desc_request(), readback.port_entries):
            number = readback.port_number(entry)
            if readback.is_physical(number):
                self.ports[number] = readback.port_state(entry)

    def close(self, reason: str) -> None:
        """Drop the connection and fail whatever waits on it; idempotent."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        failure = SessionClosedError(f"switch {self.datapath_id or self.peer}: {reason}")
        for future in (*self._pending.values(), self._hello):
            if not future.done():
                future.set_exception(failure)
                future.exception()  # retrieved here: nobody may be waiting any more
        self._pending.clear()
        for task in self._tasks:
            if task is not asyncio.current_task():
                task.cancel()
        self._writer.close()

    # --- sending ------------------------------------------------------------------------------

    def next_xid(self) -> int:
        return self.reserve_xids(1).start

    def reserve_xids(self, count: int) -> range:
        """`count` consecutive fresh xids (never 0)."""
        if self._xid + count > wire.MAX_XID:
            self._xid = 0
        start = self._xid + 1
        self._xid += count
        return range(start, start + count)

    def next_bundle_id(self) -> int:
        self._bundle_id = self._bundle_id % 0xFFFFFFFF + 1
        return self._bundle_id

    def send(self, data: bytes) -> None:
        if self.closed.is_set():
            raise SessionClosedError(f"switch {self.datapath_id or self.peer}: {self.close_reason}")
        self._writer.write(data)

    async def drain(self) -> None:
        try:
            await self._writer.drain()
        except ConnectionError as exc:
            self.close(f"write failed: {exc}")
            raise SessionClosedError(str(exc)) from exc

    async def request(self, data: bytes) -> Any:
        """Send the message `data` and return the decoded reply to its xid.

        Raises `SwitchError` when the switch answers with an error, `TimeoutError` when
        it does not answer within the request timeout, `SessionClosedError` when gone.
        """
        xid = int.from_bytes(data[4:8], "big")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._pending[xid] = future
        try:
            self.send(data)
            async with asyncio.timeout(self._request_timeout):
                return await future
        finally:
            self._pending.pop(xid, None)

    async def multipart(self, msg: Any, split: Splitter) -> list[bytes]:
        """The raw entries of the multipart reply to `msg`, over as many messages as the
        switch sends; `split` (from `readback`) cuts a message body into entries."""
        xid = self.next_xid()
        entries: list[bytes] = []
        self._parts[xid] = (split, entries)
        try:
            await self.request(codec.encode(msg, xid))
            return entries
        finally:
            self._parts.pop(xid, None)

    async def barrier(self) -> None:
        await self.request(wire.simple(wire.OFPT_BARRIER_REQUEST, self.next_xid()))

    @contextlib.contextmanager
    def collect_errors(self, xids: range) -> Iterator[dict[int, str]]:
        """Errors the switch sends for messages in `xids` (sent without awaiting replies)."""
        sink: dict[int, str] = {}
        entry = (xids, sink)
        self._error_sinks.append(entry)
        try:
            yield sink
        finally:
            self._error_sinks.remove(entry)

    # --- receiving ----------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        reason = "connection closed by the switch"
        try:
            while True:
                raw = await self._reader.readexactly(wire.HEADER.size)
                header = wire.parse_header(raw)
                raw += await self._reader.readexactly(header.length - wire.HEADER.size)
                self._last_seen = self._loop.time()
                self._dispatch(header, raw)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        except ProtocolError as exc:
            reason = f"protocol error: {exc}"
            log.warning("closing OpenFlow connection from %s: %s", self.peer, reason)
        except Exception as exc:  # a message we decoded but could not use: same remedy
            reason = f"unusable message: {exc!r}"
            log.exception("closing OpenFlow connection from %s", self.peer)
        finally:
            self.close(reason)

    def _dispatch(self, header: Header, raw: bytes) -> None:
        kind = header.type
        if not self._hello.done():
            self._on_hello(header, raw)
        elif kind == wire.OFPT_ECHO_REQUEST:
            self.send(wire.simple(wire.OFPT_ECHO_REPLY, header.xid, raw[wire.HEADER.size :]))
        elif kind == wire.OFPT_ERROR:
            self._on_error(header, codec.decode(header, raw))
        elif kind == wire.OFPT_EXPERIMENTER:
            reply = wire.bundle_reply(raw[wire.HEADER.size :])
            if reply is not None:
                self._resolve(header.xid, reply)
        elif kind in _REPLY_TYPES:
            self._resolve(header.xid, codec.decode(header, raw))
        elif kind == _MULTIPART_REPLY:
            self._on_multipart(header, raw)
        elif kind == _PORT_STATUS:
            self._on_port_status(raw)
        elif kind == _PACKET_IN:
            msg = codec.decode(header, raw)
            reason = codec.packet_in_reason(msg.reason)
            self._emit(self, PacketReceived(msg.match["in_port"], bytes(msg.data), reason))

    def _on_hello(self, header: Header, raw: bytes) -> None:
        if header.type != wire.OFPT_HELLO:
            raise ProtocolError(f"expected a hello first, got message type {header.type}")
        if not wire.peer_supports_13(header.version, raw[wire.HEADER.size :]):
            self.send(wire.hello_failed(header.xid))
            raise ProtocolError(f"switch does not offer OpenFlow 1.3 (hello {header.version:#x})")
        self._hello.set_result(None)

    def _resolve(self, xid: int, result: Any) -> None:
        future = self._pending.get(xid)
        if future is not None and not future.done():
            future.set_result(result)

    def _on_error(self, header: Header, msg: Any) -> None:
        reason = codec.describe_error(msg)
        future = self._pending.get(header.xid)
        if future is not None and not future.done():
            future.set_exception(SwitchError(reason))
            return
        for xids, sink in self._error_sinks:
            if header.xid in xids:
                sink[header.xid] = reason
                return
        log.warning("switch %s: error %s for message xid %d", self.datapath_id, reason, header.xid)

    def _on_multipart(self, header: Header, raw: bytes) -> None:
        waiting = self._parts.get(header.xid)
        if waiting is None:
            return
        if header.length < _MULTIPART_REPLY_SIZE:
            raise ProtocolError(f"multipart reply of {header.length} bytes")
        split, entries = waiting
        _, flags = _MULTIPART_HEADER.unpack_from(raw, wire.HEADER.size)
        entries.extend(split(raw[_MULTIPART_REPLY_SIZE:]))
        if not flags & _MULTIPART_REPLY_MORE:
            self._resolve(header.xid, entries)

    def _on_port_status(self, raw: bytes) -> None:
        if len(raw) < _PORT_STATUS_SIZE:
            raise ProtocolError(f"port status of {len(raw)} bytes")
        number = readback.port_number(raw[16:])
        if not readback.is_physical(number):
            return
        port = readback.port_state(raw[16:])
        if raw[8] == _OFPPR_DELETE:
            self.ports.pop(number, None)
            port = port.model_copy(update={"status": OperStatus.DOWN})
        else:
            self.ports[number] = port
        self._emit(self, PortChanged(port))

    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self._echo_interval / 2)
            quiet = self._loop.time() - self._last_seen
            if quiet >= self._echo_timeout:
                self.close(f"silent for {quiet:.1f}s (echo timeout {self._echo_timeout}s)")
                return
            if quiet >= self._echo_interval:
                self.send(wire.simple(wire.OFPT_ECHO_REQUEST, self.next_xid()))
