"""The OpenFlow listener: accepts switches and keeps the live session of each datapath.

A switch that connects again (restart, new TCP connection) replaces its old session.
Watchers of a datapath hear when it comes up, goes down and what it reports; listeners
registered with `on_datapath` hear of every switch that completes its handshake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from netweave.drivers.contract import PortState, Unsubscribe
from netweave.drivers.openflow.session import Session, SessionClosedError, SwitchEvent
from netweave.drivers.openflow.wire import ProtocolError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DatapathInfo:
    """A switch that completed its handshake: its datapath id, address and ports."""

    datapath_id: str
    peer: str
    ports: list[PortState] = field(default_factory=list)


DatapathListener = Callable[[DatapathInfo], None]


class DatapathWatcher(Protocol):
    """Told about one datapath's sessions and events."""

    def session_up(self, session: Session) -> None: ...

    def session_down(self, session: Session) -> None: ...

    def switch_event(self, event: SwitchEvent) -> None: ...


@dataclass
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 6653
    handshake_timeout: float = 10.0
    echo_interval: float = 5.0
    echo_timeout: float = 15.0
    request_timeout: float = 60.0


class OpenFlowServer:
    """Accepts switch connections on `settings.host`:`settings.port` (0 picks a free port)."""

    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self._server: asyncio.Server | None = None
        self._sessions: dict[str, Session] = {}
        self._connections: dict[asyncio.Task[None], Session] = {}
        self._arrived: dict[str, asyncio.Event] = {}
        self._listeners: list[DatapathListener] = []
        self._watchers: dict[str, list[DatapathWatcher]] = {}

    @property
    def port(self) -> int:
        """The port listened on (the real one when 0 was asked for)."""
        if self._server is None:
            raise RuntimeError("the OpenFlow server is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        if self._server is None:
            self._server = await asyncio.start_server(
                self._accept, self.settings.host, self.settings.port
            )

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.close()
        for session in list(self._connections.values()):
            session.close("controller stopping")
        await asyncio.gather(*self._connections, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def session(self, datapath_id: str) -> Session | None:
        return self._sessions.get(datapath_id)

    async def wait_for(self, datapath_id: str) -> Session:
        """The live session of `datapath_id`, once it has connected."""
        while (session := self._sessions.get(datapath_id)) is None:
            await self._arrived.setdefault(datapath_id, asyncio.Event()).wait()
        return session

    def on_datapath(self, listener: DatapathListener) -> Unsubscribe:
        """Call `listener` for every switch that completes its handshake."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def watch(self, datapath_id: str, watcher: DatapathWatcher) -> Unsubscribe:
        watchers = self._watchers.setdefault(datapath_id, [])
        watchers.append(watcher)
        return lambda: watchers.remove(watcher)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        settings = self.settings
        session = Session(
            reader,
            writer,
            emit=self._forward,
            echo_interval=settings.echo_interval,
            echo_timeout=settings.echo_timeout,
            request_timeout=settings.request_timeout,
        )
        task = asyncio.current_task()
        assert task is not None
        self._connections[task] = session
        try:
            async with asyncio.timeout(settings.handshake_timeout):
                await session.open()
        except (TimeoutError, SessionClosedError, ProtocolError) as exc:
            reason = session.close_reason or f"handshake failed: {exc!r}"
            log.warning("OpenFlow connection from %s dropped: %s", session.peer, reason)
            session.close(reason)
            del self._connections[task]
            return
        try:
            self._register(session)
            await session.closed.wait()
        finally:
            session.close("controller stopping")
            self._unregister(session)
            del self._connections[task]

    def _register(self, session: Session) -> None:
        dpid = session.datapath_id
        previous = self._sessions.get(dpid)
        self._sessions[dpid] = session
        if previous is not None:
            previous.close("replaced by a new connection of the same datapath")
        log.info("switch %s connected from %s", dpid, session.peer)
        self._arrived.pop(dpid, asyncio.Event()).set()
        for watcher in list(self._watchers.get(dpid, ())):
            watcher.session_up(session)
        info = DatapathInfo(dpid, session.peer, list(session.ports.values()))
        for listener in list(self._listeners):
            try:
                listener(info)
            except Exception:
                log.exception("datapath listener %r failed on %s", listener, dpid)

    def _unregister(self, session: Session) -> None:
        dpid = session.datapath_id
        if self._sessions.get(dpid) is not session:
            return
        del self._sessions[dpid]
        log.info("switch %s disconnected: %s", dpid, session.close_reason)
        for watcher in list(self._watchers.get(dpid, ())):
            watcher.session_down(session)

    def _forward(self, session: Session, event: SwitchEvent) -> None:
        if self._sessions.get(session.datapath_id) is not session:
            return
        for watcher in list(self._watchers.get(session.datapath_id, ())):
            watcher.switch_event(event)
