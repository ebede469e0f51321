"""One level-triggered step of a service, inside one store transaction.

`Provisioning.converge(service)` compares the service with what the store holds for it
(its connection, its rules and their device-reported status) and writes the next step:

* no connection, or one over a link that is down or gone: compute a route, reserve its
  bandwidth (moving an old reservation), store the connection with the service's VLAN;
* rules, make-before-break: first the rules the new connection adds, then (once every
  rule is applied) the rules it changes, then the withdrawal of the rules it no longer
  needs;
* status: `active` once every rule is applied and nothing else is left, `updating` while
  an active service moves, `failed` (rules withdrawn, reservation released) when a device
  refused a rule or no route is left, `removing` until its rules are gone from the
  devices, then the service is deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from netweave.model import (
    ConfigRule,
    Connection,
    OperStatus,
    Protection,
    RuleAction,
    RuleStatus,
    Service,
    ServiceStatus,
    ServiceType,
)
from netweave.model.ids import make_id
from netweave.services.errors import Infeasible, ProvisionError, ResourceConflict
from netweave.services.p2p import owner_of, p2p_rules
from netweave.services.routing import route
from netweave.services.snapshot import Snapshot
from netweave.store import Repository

PRIMARY = "primary"


def connection_id(service_id: str) -> str:
    return make_id("connection", service_id, PRIMARY)


class Provisioning:
    """Service steps over one transaction (`repo`); reuse it for many services."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self.snap = Snapshot(repo)

    def converge(
        self, service: Service, *, strict: bool = False, recompute: bool = False
    ) -> Service | None:
        """Write the next step of `service`; returns it as stored (None once deleted).

        `recompute` finds a new route even if the current one works (after the service
        changed, or to retry a failed one); `strict` raises `ProvisionError` instead of
        failing the service (for the API: the transaction then rolls back).
        """
        repo = self.repo
        current = {rule.id: rule for rule in repo.rules.list(owner=owner_of(service.id))}
        connection = repo.connections.find(connection_id(service.id))
        if service.status is ServiceStatus.REMOVING:
            self._withdraw(current.values())
            if current:
                return service
            self._release(connection)
            repo.services.delete(service.id)
            return None
        if service.status is ServiceStatus.FAILED and not recompute:
            self._withdraw(current.values())
            self._release(connection)
            return service
        refused = next((r for r in current.values() if _refused(r)), None)
        if refused is not None:
            device = self.snap.devices.get(refused.device_id)
            name = device.name if device else refused.device_id
            return self._fail(service, current, connection, f"{name} refused: {refused.error}")
        moving = connection is not None and service.status is not ServiceStatus.PLANNED
        if recompute or connection is None or self._broken(connection):
            try:
                connection = self._connect(service, connection)
            except ProvisionError as exc:
                if strict:
                    raise
                return self._fail(service, current, connection, str(exc))
        elif any(map(_pending_rule, current.values())):
            return service  # a device has yet to answer; its answer wakes us again
        waiting = self._unnumbered(connection)
        if waiting:
            return _with_status(
                repo, service, _pending(moving), f"waiting for port numbers of {waiting}"
            )
        ports = {e: self._number(e) for e in _endpoints(connection)}
        desired = p2p_rules(
            owner_of(service.id), connection, ports, service.constraints.bandwidth_bps
        )
        if self._advance({rule.id: rule for rule in desired}, current):
            return _with_status(repo, service, ServiceStatus.ACTIVE, None)
        return _with_status(repo, service, _pending(moving), service.status_reason)

    def remove(self, service: Service) -> Service | None:
        """Start removing `service`: its rules are withdrawn, and it is deleted once they
        are gone from the devices (at once when it has none)."""
        removing = _with_status(self.repo, service, ServiceStatus.REMOVING, None)
        return self.converge(removing)

    # -- connection ---------------------------------------------------------------------
    def _connect(self, service: Service, old: Connection | None) -> Connection:
        if service.type is not ServiceType.P2P:
            raise Infeasible(("type",), f"{service.type} services are not supported yet (only p2p)")
        if service.constraints.protection is not Protection.NONE:
            raise Infeasible(
                ("constraints", "protection"), "protected services are not supported yet"
            )
        self._check_ports_free(service)
        if old is not None:  # the new route may use what the old one holds
            self.snap.reserve(old.link_ids, -old.reserved_bps)
        try:
            found = route(self.snap, service)
        except ProvisionError:
            if old is not None:
                self.snap.reserve(old.link_ids, old.reserved_bps)
            raise
        bandwidth = service.constraints.bandwidth_bps or 0
        vlan = old.vlan_id if old is not None and old.vlan_id else self.snap.vlans.take()
        connection = Connection(
            id=connection_id(service.id),
            name=PRIMARY,
            service_id=service.id,
            hops=found.hops,
            link_ids=found.link_ids,
            vlan_id=vlan,
            reserved_bps=bandwidth,
        )
        self.snap.reserve(connection.link_ids, bandwidth)
        if old is None:
            return self.repo.connections.add(connection)
        return self.repo.connections.update(connection)

    def _check_ports_free(self, service: Service) -> None:
        for index, ref in enumerate(service.endpoints):
            for user in self.snap.port_users.get(ref.endpoint_id, []):
                if user.id != service.id:
                    raise ResourceConflict(
                        ("endpoints", index), f"the port is used by service {user.name!r}"
                    )

    def _broken(self, connection: Connection) -> bool:
        links = self.snap.links
        return any(
            link_id not in links or links[link_id].status is OperStatus.DOWN
            for link_id in connection.link_ids
        ) or any(self.snap.endpoint(e) is None for e in _endpoints(connection))

    def _unnumbered(self, connection: Connection) -> str:
        """The ports of `connection` whose number is not known yet, for messages."""
        names = []
        for endpoint_id in _endpoints(connection):
            endpoint = self.snap.endpoint(endpoint_id)
            if endpoint is not None and endpoint.number is None:
                device = self.snap.devices[endpoint.device_id]
                names.append(f"{device.name}:{endpoint.name}")
        return ", ".join(names)

    def _number(self, endpoint_id: str) -> int:
        endpoint = self.snap.endpoint(endpoint_id)
        assert endpoint is not None and endpoint.number is not None, "checked by _unnumbered"
        return endpoint.number

    def _release(self, connection: Connection | None) -> None:
        if connection is None:
            return
        self.snap.reserve(connection.link_ids, -connection.reserved_bps)
        if connection.vlan_id is not None:
            self.snap.vlans.give_back(connection.vlan_id)
        self.repo.connections.delete(connection.id)

    def _fail(
        self,
        service: Service,
        current: Mapping[str, ConfigRule],
        connection: Connection | None,
        reason: str,
    ) -> Service:
        self._withdraw(current.values())
        self._release(connection)
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
        self._withdraw(stale)
        return not stale

    def _withdraw(self, rules: Iterable[ConfigRule]) -> None:
        """Remove rules: applied ones are marked for deletion (the device manager deletes
        the row once the device confirmed); rows never applied go at once (a device holding
        one anyway drops it as a rule nobody wants)."""
        marked, dropped = [], []
        for rule in rules:
            if rule.status is not RuleStatus.APPLIED:
                dropped.append(rule.id)
            elif rule.action is RuleAction.SET:
                marked.append(rule.model_copy(update={"action": RuleAction.DELETE}))
        self.repo.rules.delete_many(dropped)
        self.repo.rules.put_many(marked)


def _endpoints(connection: Connection) -> list[str]:
    return [e for hop in connection.hops for e in (hop.ingress_endpoint_id, hop.egress_endpoint_id)]


def _refused(rule: ConfigRule) -> bool:
    return rule.action is RuleAction.SET and rule.status is RuleStatus.FAILED


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
