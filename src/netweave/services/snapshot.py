"""What one provisioning transaction reads once: the topology, connections and port users.

The devices, ports, links, services, connections and what is derived from the topology
(the path graph, the link on each port, the switch port of each host port) come from
the store's process cache when no transaction changed them since
(`netweave.store.cache`): shared, never mutated. Reservations made through the snapshot
are written to the store and kept in the snapshot (in its own copy of the links), so
the next service of the same transaction sees them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import cached_property

from netweave.model import (
    ConfigRule,
    Connection,
    Device,
    DeviceType,
    Endpoint,
    EndpointRef,
    Link,
    Service,
)
from netweave.pathcomp import PathGraph
from netweave.services.base import owner_of
from netweave.services.vlans import VlanPool
from netweave.store import Repository


class Snapshot:
    """Lazy views of the store for one transaction (`repo`)."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._graph: PathGraph | None = None
        self._owned: dict[str, tuple[list[ConfigRule], list[Connection]]] = {}
        self._locked: set[str] = set()
        self._own_links: dict[str, Link] | None = None  # `links`, once it reserved

    @cached_property
    def devices(self) -> Mapping[str, Device]:
        return self.repo.devices.by_id()

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        return self.endpoints.get(endpoint_id)

    @cached_property
    def endpoints(self) -> Mapping[str, Endpoint]:
        return self.repo.endpoints.by_id()

    def preload(self, services: Collection[Service]) -> None:
        """Read the rules and connections of these services in two queries, for the
        `owned` calls to come (many services converged in one transaction)."""
        ids = [service.id for service in services]
        rules = self.repo.rules.list_owned(owner_of(s) for s in ids)
        connections = self.repo.connections.list_scopes(ids)
        for service_id in ids:
            self._owned[service_id] = (rules[owner_of(service_id)], connections[service_id])

    def owned(self, service_id: str) -> tuple[list[ConfigRule], list[Connection]]:
        """The rules and connections of a service as stored: preloaded ones once (a
        step writes them), else read now."""
        found = self._owned.pop(service_id, None)
        if found is not None:
            return found
        rules = self.repo.rules.list(owner=owner_of(service_id))
        return rules, self.repo.connections.list(scope=service_id)

    @cached_property
    def links(self) -> Mapping[str, Link]:
        return self.repo.links.by_id()

    @cached_property
    def link_at(self) -> Mapping[str, Link]:
        """The link on each linked endpoint, by endpoint id."""
        return self.repo.topology_derived("link_at", lambda: _link_at(self.links))

    @cached_property
    def vlans(self) -> VlanPool:
        connections = self.repo.connections.by_id().values()
        return VlanPool(c.vlan_id for c in connections if c.vlan_id is not None)

    @cached_property
    def port_users(self) -> dict[str, list[Service]]:
        """The services entering the network at each switch port (`edge_port`), by id."""
        users: dict[str, list[Service]] = {}
        edges = self.host_edges
        for service in self.repo.services.by_id().values():
            for ref in service.endpoints:
                edge = edges.get(ref.endpoint_id, ref.endpoint_id)
                users.setdefault(edge, []).append(service)
        return users

    def edge_port(self, ref: EndpointRef) -> str:
        """The switch port a service endpoint enters by: the port a host port is linked
        to, else the port itself."""
        return self.host_edges.get(ref.endpoint_id, ref.endpoint_id)

    @cached_property
    def host_edges(self) -> Mapping[str, str]:
        """The port each linked host port is linked to, by host port id."""
        return self.repo.topology_derived(
            "host_edges", lambda: _host_edges(self.devices, self.links.values())
        )

    @property
    def graph(self) -> PathGraph:
        """The path graph of the switches and the links between them (services route
        switch to switch, hosts reach theirs over their access link); rebuilt after a
        reservation changed the links."""
        if self._graph is None:
            self._graph = self.repo.topology_derived(
                "path_graph", lambda: _switch_graph(self.devices, self.links.values())
            )
        return self._graph

    def lock_devices(self, device_ids: Iterable[str]) -> None:
        """Touch these devices, so that concurrent transactions placing a service on one
        of them conflict and one is re-run (see `EntityCollection.touch`): VLANs and the
        ids derived from them stay unique per device."""
        new = set(device_ids) - self._locked
        self._locked |= new
        self.repo.devices.touch(new)

    def reserve(self, link_ids: Iterable[str], bps: int) -> None:
        """Add `bps` (negative: release) to the reservation of each link still there."""
        if bps == 0:
            return
        if self._own_links is None:
            self._own_links = dict(self.links)
        links = self._own_links
        for link_id in dict.fromkeys(link_ids):
            link = links.get(link_id)
            if link is None:
                continue
            reserved = max(link.reserved_bps + bps, 0)
            links[link_id] = self.repo.links.update(
                link.model_copy(update={"reserved_bps": reserved})
            )
            self._graph = None
        self.__dict__["links"] = links
        self.__dict__.pop("link_at", None)
        self.__dict__.pop("host_edges", None)


def _link_at(links: Mapping[str, Link]) -> dict[str, Link]:
    return {ref.endpoint_id: link for link in links.values() for ref in (link.a, link.b)}


def hop_endpoints(connections: Iterable[Connection]) -> list[str]:
    """The endpoints the hops of `connections` enter and leave by."""
    return [
        e
        for connection in connections
        for hop in connection.hops
        for e in (hop.ingress_endpoint_id, hop.egress_endpoint_id)
    ]


def _host_edges(devices: Mapping[str, Device], links: Iterable[Link]) -> dict[str, str]:
    edges: dict[str, str] = {}
    for link in links:
        for near, far in ((link.a, link.b), (link.b, link.a)):
            device = devices.get(near.device_id)
            if device is not None and device.type is DeviceType.HOST:
                edges[near.endpoint_id] = far.endpoint_id
    return edges


def _switch_graph(devices: Mapping[str, Device], links: Iterable[Link]) -> PathGraph:
    switches = {i: d for i, d in devices.items() if d.type is not DeviceType.HOST}
    between = [link for link in links if {link.a.device_id, link.b.device_id} <= switches.keys()]
    return PathGraph(switches.values(), between)
