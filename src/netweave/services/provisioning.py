"""One level-triggered step of a service, inside one store transaction.

`Provisioning.converge(service)` compares the service with what the store holds for it
(its connections, its rules and their device-reported status) and writes the next step:

* no connection, or one over a link that is down or gone: compute a route (a protected
  service: a primary and a disjoint backup; if no backup is left, the primary alone,
  said in `status_reason`; a multipoint service: its branches), reserve its bandwidth
  (moving an old reservation), store the connections with the service's VLAN;
* rules, make-before-break: first the rules the new connection adds, then (once every
  rule is applied) the rules it changes, then the withdrawal of the rules it no longer
  needs;
* fewer than two endpoints: nothing to route; rules withdrawn, reservation released,
  `planned` until it has two;
* status: `active` once every rule is applied and nothing else is left, `updating` while
  an active service moves, `failed` (rules withdrawn, reservation released) when a device
  refused a rule or no route is left, `removing` until its rules are gone from the
  devices, then the service is deleted.

What connections hold on links (`held`) follows from what is stored of them, so a
release gives back exactly what was reserved: a p2p connection holds its `reserved_bps`
on each of its links; a multipoint service's branches all store the per-site bandwidth
as theirs and hold together the hose amounts of their tree (`routing.hose`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from netweave.drivers import BATCH_ABORTED
from netweave.model import (
    ConfigRule,
    Connection,
    ConnectionRole,
    OperStatus,
    Protection,
    RuleAction,
    RuleStatus,
    Service,
    ServiceStatus,
    ServiceType,
)
from netweave.model.ids import make_id
from netweave.services.base import owner_of
from netweave.services.errors import Infeasible, ProvisionError, ResourceConflict
from netweave.services.l2vpn import l2vpn_rules
from netweave.services.l3 import gateway_mac, l3vpn_rules, sites
from netweave.services.p2p import p2p_rules
from netweave.services.routing import PROTECTION, Route, branches, hose, route
from netweave.services.snapshot import Snapshot, hop_endpoints
from netweave.store import Repository

PRIMARY, BACKUP = ConnectionRole.PRIMARY.value, ConnectionRole.BACKUP.value
BRANCH = "branch-"  # the name of a multipoint service's connection, before its number
WAITING_FOR_ENDPOINTS = "waiting for at least two endpoints"
MULTIPOINT = (ServiceType.L2VPN, ServiceType.L3VPN)


def connection_id(service_id: str, name: str = PRIMARY) -> str:
    """The id of the service's connection `name` (primary, backup, branch-001, ...)."""
    return make_id("connection", service_id, name)


class Provisioning:
    """Service steps over one transaction (`repo`); reuse it for many services."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.snap = Snapshot(repo)

    def converge_many(
        self, services: Collection[Service], *, strict: bool = False, recompute: bool = False
    ) -> None:
        """`converge` each of `services` (in order), their stored state read in bulk."""
        self.snap.preload(services)
        for service in services:
            self.converge(service, strict=strict, recompute=recompute)

    def converge(
        self, service: Service, *, strict: bool = False, recompute: bool = False
    ) -> Service | None:
        """Write the next step of `service`; returns it as stored (None once deleted).

        `recompute` finds a new route even if the current one works (after the service
        changed, or to retry a failed one); `strict` raises `ProvisionError` instead of
        failing the service (for the API: the transaction then rolls back).

        The step leaves the service stable or waiting for something that will be
        committed later (a device's answer, a port number), so the transaction settles
        it (`Repository.settle`): its own writes need no reconciler pass.
        """
        self.repo.settle(service.id)
        repo = self.repo
        rules, stored = self.snap.owned(service.id)
        current = {rule.id: rule for rule in rules}
        connections = sorted(stored, key=_in_order)
        if service.status is ServiceStatus.REMOVING:
            if self._withdraw(current.values()):
                return service  # until the devices confirm the removal
            self._release(connections)
            repo.services.delete(service.id)
            return None
        if len(service.endpoints) < 2:
            self._withdraw(current.values())
            self._release(connections)
            return _with_status(repo, service, ServiceStatus.PLANNED, WAITING_FOR_ENDPOINTS)
        if service.status is ServiceStatus.FAILED and not recompute:
            self._withdraw(current.values())
            self._release(connections)
            return service
        refused = _first_refused(current.values())
        if refused is not None:
            device = self.snap.devices.get(refused.device_id)
            name = device.name if device else refused.device_id
            return self._fail(service, current, connections, f"{name} refused: {refused.error}")
        moving = bool(connections) and service.status is not ServiceStatus.PLANNED
        if recompute or not connections or self._broken(service, connections):
            try:
                connections = self._connect(service, connections, strict=strict)
            except ProvisionError as exc:
                if strict:
                    raise
                return self._fail(service, current, connections, str(exc))
        elif any(map(_pending_rule, current.values())):
            return service  # a device has yet to answer; its answer wakes us again
        waiting = self._unnumbered(connections)
        if waiting:
            return _with_status(
                repo, service, _pending(moving), f"waiting for port numbers of {waiting}"
            )
        ports = {e: self._number(e) for e in hop_endpoints(connections)}
        try:
            desired = self._desired(service, connections, ports)
        except ProvisionError as exc:
            if strict:
                raise
            return self._fail(service, current, connections, str(exc))
        note = _unprotected(service, connections)
        if self._advance({rule.id: rule for rule in desired}, current):
            return _with_status(repo, service, ServiceStatus.ACTIVE, note)
        return _with_status(repo, service, _pending(moving), note)

    def remove(self, service: Service) -> Service | None:
        """Start removing `service`: its rules are withdrawn, and it is deleted once they
        are gone from the devices (at once when it has none)."""
        removing = _with_status(self.repo, service, ServiceStatus.REMOVING, None)
        return self.converge(removing)

    def _desired(
        self, service: Service, connections: list[Connection], ports: Mapping[str, int]
    ) -> Iterable[ConfigRule]:
        owner = owner_of(service.id)
        bandwidth = service.constraints.bandwidth_bps
        if service.type is ServiceType.L2VPN:
            return l2vpn_rules(owner, connections, ports, bandwidth)
        if service.type is ServiceType.L3VPN:
            hosts = sites(self.snap, service)
            mac = gateway_mac(service.id)
            return l3vpn_rules(owner, connections, ports, hosts, mac, bandwidth)
        return p2p_rules(owner, connections, ports, bandwidth)

    # -- connection ---------------------------------------------------------------------
    def _connect(
        self, service: Service, old: list[Connection], *, strict: bool
    ) -> list[Connection]:
        """Route `service` anew (its old connections' reservations made available to it)
        and store its connections: p2p, a primary and (protected) a backup, each with a
        VLAN; l2vpn and l3vpn, a branch per endpoint after the first, sharing one VLAN."""
        self._claim_ports(service)
        self._reserve(old, -1)  # the new route may use what the old one holds
        try:
            routes = self._routes(service, strict=strict)
        except ProvisionError:
            self._reserve(old, 1)
            raise
        self.snap.lock_devices(hop.device_id for found in routes for hop in found.hops)
        bandwidth = service.constraints.bandwidth_bps or 0
        vlans = {connection.name: connection.vlan_id for connection in old}
        if service.type in MULTIPOINT:
            names = [f"{BRANCH}{index:03d}" for index in range(1, len(routes) + 1)]
            shared = next(iter(vlans.values()), None) or self.snap.vlans.take()
            vlans = dict.fromkeys(names, shared)
        else:
            names = [PRIMARY, BACKUP][: len(routes)]
        connections = [
            Connection(
                id=connection_id(service.id, name),
                name=name,
                service_id=service.id,
                role=BACKUP if name == BACKUP else PRIMARY,
                hops=found.hops,
                link_ids=found.link_ids,
                vlan_id=vlans.get(name) or self.snap.vlans.take(),
                reserved_bps=bandwidth,
            )
            for name, found in zip(names, routes, strict=True)
        ]
        self._reserve(connections, 1)
        stored = {connection.id for connection in old}
        for connection in connections:
            if connection.id in stored:
                self.repo.connections.update(connection)
            else:
                self.repo.connections.add(connection)
        kept = {connection.id for connection in connections}
        self._drop([connection for connection in old if connection.id not in kept], connections)
        return connections

    def _routes(self, service: Service, *, strict: bool) -> list[Route]:
        """The service's routes; a protected service left without a disjoint backup keeps
        running on its primary alone (unless `strict`: then it is refused)."""
        if service.type in MULTIPOINT:
            found = branches(self.snap, service)
            if service.type is ServiceType.L3VPN:
                sites(self.snap, service)  # refused now rather than failed later
            return found
        try:
            return route(self.snap, service)
        except Infeasible as exc:
            if strict or exc.loc != PROTECTION:
                raise
        alone = service.constraints.model_copy(update={"protection": Protection.NONE})
        return route(self.snap, service.model_copy(update={"constraints": alone}))

    def _claim_ports(self, service: Service) -> None:
        """Refuse ports another service uses, then count them as `service`'s for the
        services still to come in this transaction."""
        users = self.snap.port_users
        edges = [self.snap.edge_port(ref) for ref in service.endpoints]
        for index, (ref, edge) in enumerate(zip(service.endpoints, edges, strict=True)):
            for user in users.get(edge, []):
                if user.id != service.id:
                    port = "the port" if edge == ref.endpoint_id else "the switch port it reaches"
                    raise ResourceConflict(
                        ("endpoints", index), f"{port} is used by service {user.name!r}"
                    )
        for edge in edges:
            claimed = users.setdefault(edge, [])
            if all(user.id != service.id for user in claimed):
                claimed.append(service)

    def _broken(self, service: Service, connections: list[Connection]) -> bool:
        """Whether a connection lost a link or a port, or (p2p) a link on it got so slow
        that it no longer meets the service's latency limit."""
        links = self.snap.links
        if any(
            link_id not in links or links[link_id].status is OperStatus.DOWN
            for connection in connections
            for link_id in connection.link_ids
        ) or any(self.snap.endpoint(e) is None for e in hop_endpoints(connections)):
            return True
        limit = service.constraints.max_latency_ms
        return (
            limit is not None
            and service.type not in MULTIPOINT
            and any(
                sum(links[link_id].latency_ms for link_id in connection.link_ids) > limit
                for connection in connections
            )
        )

    def _unnumbered(self, connections: list[Connection]) -> str:
        """The ports of `connections` whose number is not known yet, for messages."""
        names = []
        for endpoint_id in hop_endpoints(connections):
            endpoint = self.snap.endpoint(endpoint_id)
            if endpoint is not None and endpoint.number is None:
                device = self.snap.devices[endpoint.device_id]
                names.append(f"{device.name}:{endpoint.name}")
        return ", ".join(names)

    def _number(self, endpoint_id: str) -> int:
        endpoint = self.snap.endpoint(endpoint_id)
        assert endpoint is not None and endpoint.number is not None, "checked by _unnumbered"
        return endpoint.number

    def _reserve(self, connections: list[Connection], sign: int) -> None:
        """Reserve (`sign` 1) or release (-1) what `connections` hold on their links."""
        for link_id, bps in held(connections).items():
            self.snap.reserve([link_id], sign * bps)

    def _release(self, connections: list[Connection]) -> None:
        self._reserve(connections, -1)
        self._drop(connections)

    def _drop(self, connections: list[Connection], kept: Iterable[Connection] = ()) -> None:
        """Delete `connections` (their reservations already released), giving back the
        VLANs that none of the `kept` ones uses."""
        in_use = {connection.vlan_id for connection in kept}
        for connection in connections:
            if connection.vlan_id is not None and connection.vlan_id not in in_use:
                self.snap.vlans.give_back(connection.vlan_id)
            self.repo.connections.delete(connection.id)

    def _fail(
        self,
        service: Service,
        current: Mapping[str, ConfigRule],
        connections: list[Connection],
        reason: str,
    ) -> Service:
        self._withdraw(current.values())
        self._release(connections)
        return _with_status(self.repo, service, ServiceStatus.FAILED, reason)

    # -- rules --------------------------------------------------------------------------
    def _advance(self, desired: dict[str, ConfigRule], current: dict[str, ConfigRule]) -> bool:
        """Write the next make-before-break phase; True when the rules are all in place."""
        new = [rule for rule_id, rule in desired.items() if rule_id not in current]
        revived = [
            rule
            for rule_id, rule in desired.items()
            if rule_id in current and current[rule_id].action is RuleAction.DELETE
        ]
        if new or revived:
            self.repo.rules.add_many(new)
            self.repo.rules.put_many(revived)
            return False
        changed = {i: r for i, r in desired.items() if current[i].value != r.value}
        if changed:
            if all(_applied(current[i]) for i in desired if i not in changed):
                self.repo.rules.put_many(list(changed.values()))
            return False
        if not all(_applied(current[rule_id]) for rule_id in desired):
            return False
        stale = [rule for rule_id, rule in current.items() if rule_id not in desired]
        return not self._withdraw(stale)  # rows never applied go at once: nothing to wait for

    def _withdraw(self, rules: Iterable[ConfigRule]) -> int:
        """Remove rules: applied ones are marked for deletion (the device manager deletes
        the row once the device confirmed); rows never applied go at once (a device holding
        one anyway drops it as a rule nobody wants). Returns how many are left to go."""
        marked, dropped, left = [], [], 0
        for rule in rules:
            if rule.status is not RuleStatus.APPLIED:
                dropped.append(rule.id)
                continue
            left += 1
            if rule.action is RuleAction.SET:
                marked.append(rule.model_copy(update={"action": RuleAction.DELETE}))
        self.repo.rules.delete_many(dropped)
        self.repo.rules.put_many(marked)
        return left


def held(connections: list[Connection]) -> dict[str, int]:
    """The bandwidth a service's `connections` hold on each link (see the module doc)."""
    if any(connection.name.startswith(BRANCH) for connection in connections):
        links = [connection.link_ids for connection in connections]
        return hose(links, connections[0].reserved_bps)
    amounts: dict[str, int] = {}
    for connection in connections:
        for link_id in dict.fromkeys(connection.link_ids):
            amounts[link_id] = amounts.get(link_id, 0) + connection.reserved_bps
    return amounts


def _unprotected(service: Service, connections: list[Connection]) -> str | None:
    """Why a protected service runs without a backup, if it does."""
    if service.constraints.protection is Protection.NONE or len(connections) > 1:
        return None
    return "running without a backup path: none is disjoint from the primary now"


def _in_order(connection: Connection) -> tuple[bool, str]:
    """Primary first, then backup; branches by number."""
    return connection.role is not ConnectionRole.PRIMARY, connection.name


def _first_refused(rules: Iterable[ConfigRule]) -> ConfigRule | None:
    """A rule a device refused, one with the device's own reason before one that only
    went down with its batch."""
    refused = [r for r in rules if r.action is RuleAction.SET and r.status is RuleStatus.FAILED]
    return min(refused, key=lambda r: (r.error or "").startswith(BATCH_ABORTED), default=None)


def _pending_rule(rule: ConfigRule) -> bool:
    return rule.status is RuleStatus.PENDING


def _applied(rule: ConfigRule) -> bool:
    return rule.action is RuleAction.SET and rule.status is RuleStatus.APPLIED


def _pending(moving: bool) -> ServiceStatus:
    return ServiceStatus.UPDATING if moving else ServiceStatus.PLANNED


def _with_status(
    repo: Repository, service: Service, status: ServiceStatus, reason: str | None
) -> Service:
    if service.status is status and service.status_reason == reason:
        return service
    return repo.services.update(
        service.model_copy(update={"status": status, "status_reason": reason})
    )
