"""The service reconciler: converges every service whose inputs changed.

It listens to store commits and marks services dirty when they themselves change, when
one of their rules changes (a device confirmed or refused it, or removed it), when a
link or port their connections use changes state or a link gets slower, when one of
their hosts is addressed anew (L3 services route by it); when a link comes up or grows
it retries failed services and protected ones running without a backup. A worker task
then converges the dirty services, all in one transaction (see `Provisioning`). At
start every service is converged once (resync after restart). The reconciler writes
desired state only; the device manager applies the rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

from netweave.model import (
    ConfigRule,
    Connection,
    Device,
    Endpoint,
    Link,
    OperStatus,
    Protection,
    Service,
    ServiceStatus,
)
from netweave.services.base import service_of
from netweave.services.provisioning import Provisioning
from netweave.store import Changes, Op, Repository, Store

log = logging.getLogger(__name__)


@dataclass
class _Dirty:
    """What changed since the last pass."""

    services: set[str] = field(default_factory=set)
    elements: set[str] = field(default_factory=set)  # ids of links and ports
    sites: set[str] = field(default_factory=set)  # hosts and ports whose addressing changed
    links_up: bool = False  # a link was added, came up or grew

    def merge(self, other: _Dirty) -> None:
        self.services |= other.services
        self.elements |= other.elements
        self.sites |= other.sites
        self.links_up |= other.links_up

    def __bool__(self) -> bool:
        return bool(self.services or self.elements or self.sites or self.links_up)


class ServiceReconciler:
    """Keeps services converged; `start()` in the controller's event loop."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._dirty = _Dirty()
        self._wake = asyncio.Event()
        self._own_write = threading.local()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._store.on_commit(self._on_commit)
        with self._store.read() as repo:
            self._mark(_Dirty(services={s.id for s in repo.services.list()}))
        self._task = asyncio.ensure_future(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._loop = None

    # -- store changes ------------------------------------------------------------------
    def _on_commit(self, changes: Changes) -> None:
        loop = self._loop
        if getattr(self._own_write, "active", False) or loop is None or loop.is_closed():
            return
        dirty = _dirt(changes)
        if not dirty:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self._mark(dirty)
        else:
            loop.call_soon_threadsafe(self._mark, dirty)

    def _mark(self, dirty: _Dirty) -> None:
        self._dirty.merge(dirty)
        self._wake.set()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """Our own writes: their commits must not mark services dirty again."""
        self._own_write.active = True
        try:
            yield
        finally:
            self._own_write.active = False

    # -- passes -------------------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            await asyncio.sleep(0)  # let the device sessions woken with us record first
            self._wake.clear()
            dirty, self._dirty = self._dirty, _Dirty()
            try:
                with self._writing():
                    self._store.run(functools.partial(_converge, dirty=dirty))
            except Exception:
                log.exception("service reconciliation failed")


def _dirt(changes: Changes) -> _Dirty:
    """The services and network elements `changes` concern (the services the
    transaction settled, and rule answers while more are awaited, are left out)."""
    dirty = _Dirty()
    for change in changes:
        entity = change.entity
        if isinstance(entity, ConfigRule):
            service_id = service_of(entity.owner)
            if service_id is not None and entity.owner not in changes.awaited:
                dirty.services.add(service_id)
        elif isinstance(entity, Service):
            if change.op is not Op.DELETED:
                dirty.services.add(entity.id)
        elif isinstance(entity, Link):
            _link_dirt(dirty, change.op, change.before, entity)
        elif isinstance(entity, Endpoint):
            _endpoint_dirt(dirty, change.op, change.before, entity)
        elif isinstance(entity, Device):
            before = change.before
            if isinstance(before, Device) and before.attributes != entity.attributes:
                dirty.sites.add(entity.id)  # an L3 service reads the host's gateway there
    dirty.services -= changes.settled
    return dirty


def _link_dirt(dirty: _Dirty, op: Op, before: object, link: Link) -> None:
    """A link gone, up or down, or slower concerns its services; one added, come up
    or grown may let a failed service through."""
    if op is Op.CREATED or not isinstance(before, Link):
        dirty.links_up |= op is Op.CREATED
        if op is Op.DELETED:
            dirty.elements.add(link.id)
        return
    if before.status is not link.status or before.latency_ms < link.latency_ms:
        dirty.elements.add(link.id)
    came_up = before.status is not OperStatus.UP and link.status is OperStatus.UP
    dirty.links_up |= came_up or link.capacity_bps > before.capacity_bps


def _endpoint_dirt(dirty: _Dirty, op: Op, before: object, port: Endpoint) -> None:
    """A port gone or renumbered concerns the services crossing it; a host port
    addressed anew, the services of its host."""
    if op is Op.DELETED:
        dirty.elements.add(port.id)
    elif isinstance(before, Endpoint):
        if before.number != port.number:
            dirty.elements.add(port.id)
        if (before.ip, before.mac) != (port.ip, port.mac):
            dirty.sites.add(port.id)


def _converge(repo: Repository, *, dirty: _Dirty) -> None:
    """One pass over the dirty services, in `repo`'s transaction."""
    service_ids = set(dirty.services)
    if dirty.sites:  # what an L3 service derives from its hosts' addressing
        service_ids |= {
            s.id
            for s in repo.services.by_id().values()
            if any({ref.device_id, ref.endpoint_id} & dirty.sites for ref in s.endpoints)
        }
    if dirty.elements:
        service_ids |= {c.service_id for c in repo.connections.list() if _uses(c, dirty.elements)}
    retry: set[str] = set()
    if dirty.links_up:  # a failed or unprotected service may have a way now
        paths = Counter(connection.service_id for connection in repo.connections.list())
        retry = {
            s.id
            for s in repo.services.list()
            if s.status is ServiceStatus.FAILED
            or (s.constraints.protection is not Protection.NONE and paths[s.id] < 2)
        }
    provisioning = Provisioning(repo)
    found = repo.services.find_many(sorted(service_ids | retry))
    steady = [service for service in found.values() if service.id not in retry]
    provisioning.converge_many(steady)
    provisioning.converge_many([s for s in found.values() if s.id in retry], recompute=True)


def _uses(connection: Connection, elements: set[str]) -> bool:
    return not elements.isdisjoint(connection.link_ids) or any(
        hop.ingress_endpoint_id in elements or hop.egress_endpoint_id in elements
        for hop in connection.hops
    )
