"""The controller as one object: driver plugins, device sessions, discovery, onboarding,
connectivity services (with the answers to their gateways' ARP requests and pings)
and (optionally) default forwarding, started and stopped together.

Services and forwarding do not conflict: service flows (`SERVICE_PRIORITY`) outrank
forwarding flows and match their own edge ports and VLANs only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from netweave.assurance import TimeSeriesStore
from netweave.bus import EventBus
from netweave.controller.device_manager import DeviceManager
from netweave.controller.discovery import Discovery
from netweave.controller.forwarding import OWNER as FORWARDING_OWNER
from netweave.controller.forwarding import Forwarding
from netweave.controller.gateway import Gateway
from netweave.controller.monitoring import StatsCollector
from netweave.controller.onboarding import Onboarding
from netweave.controller.openflow_rules import OpenFlowControlRules
from netweave.controller.probes import LatencyProbes
from netweave.controller.service_kpis import ServiceThroughput
from netweave.controller.templates import OnboardingTemplate
from netweave.drivers import DriverPlugin
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.policy import AlarmService, PolicyEngine
from netweave.services import ServiceReconciler
from netweave.store import Store

DISCOVERY_OWNER = "discovery"


@dataclass(frozen=True)
class ControllerSettings:
    openflow_host: str = "127.0.0.1"
    openflow_port: int = 6653
    forwarding: bool = False
    """Shortest-path forwarding for every discovered host (off: services only)."""
    services: bool = True
    """Provision connectivity services (the service reconciler)."""
    onboarding: bool = True
    """Create switches that connect without being in the inventory."""
    discovery_interval_s: float = 0.5
    discovery_timeout_s: float = 2.0
    statistics_interval_s: float = 1.0
    """How often port and service counters are collected (when a time-series store is
    given)."""
    templates: tuple[OnboardingTemplate, ...] = ()
    """Initial configuration of switches that connect (the first matching one applies)."""
    probe_interval_s: float = 1.0
    """How often each p2p service's latency is probed (with a time-series store)."""
    alarm_interval_s: float = 1.0
    """How often alarm rules are evaluated (when a time-series store and a bus are given)."""


class Controller:
    """Owns the running parts; `start()`/`stop()` them in order."""

    def __init__(
        self,
        store: Store,
        settings: ControllerSettings | None = None,
        plugins: Mapping[str, DriverPlugin] | None = None,
        tsdb: TimeSeriesStore | None = None,
        bus: EventBus | None = None,
    ) -> None:
        """`tsdb`, when given, receives the port counters of every device and the traffic
        counters of every service; with a `bus`
        too, alarm rules are evaluated on it and policies act on alarms and events."""
        self.settings = settings or ControllerSettings()
        s = self.settings
        self.plugins: dict[str, DriverPlugin] = (
            dict(plugins)
            if plugins is not None
            else {"openflow": OpenFlowPlugin(s.openflow_host, s.openflow_port)}
        )
        self.manager = DeviceManager(store, self.plugins)
        self.discovery = Discovery(
            store,
            self.manager,
            punt_rule=OpenFlowControlRules(DISCOVERY_OWNER).lldp,
            interval=s.discovery_interval_s,
            timeout=s.discovery_timeout_s,
        )
        self.forwarding = (
            Forwarding(store, self.manager, self.discovery, OpenFlowControlRules(FORWARDING_OWNER))
            if s.forwarding
            else None
        )
        self.services = ServiceReconciler(store) if s.services else None
        self.gateway = Gateway(store, self.manager) if s.services else None
        self.statistics = (
            StatsCollector(store, self.manager, tsdb, interval=s.statistics_interval_s)
            if tsdb is not None
            else None
        )
        self.service_throughput = (
            ServiceThroughput(store, self.manager, tsdb, interval=s.statistics_interval_s)
            if tsdb is not None and s.services
            else None
        )
        self.probes = (
            LatencyProbes(store, self.manager, tsdb, interval=s.probe_interval_s)
            if tsdb is not None and s.services
            else None
        )
        self.policies = PolicyEngine(store, bus) if bus is not None and tsdb is not None else None
        self.alarms = (
            AlarmService(store, tsdb, bus, interval=s.alarm_interval_s)
            if tsdb is not None and bus is not None
            else None
        )
        openflow = self.plugins.get("openflow")
        self.onboarding = (
            Onboarding(store, openflow, s.templates)
            if s.onboarding and isinstance(openflow, OpenFlowPlugin)
            else None
        )

    async def start(self) -> None:
        if self.onboarding is not None:
            self.onboarding.start()
        await self.manager.start()
        await self.discovery.start()
        if self.forwarding is not None:
            await self.forwarding.start()
        if self.services is not None:
            await self.services.start()
        if self.gateway is not None:
            self.gateway.start()
        if self.statistics is not None:
            await self.statistics.start()
        if self.service_throughput is not None:
            await self.service_throughput.start()
        if self.probes is not None:
            await self.probes.start()
        if self.policies is not None:
            await self.policies.start()
        if self.alarms is not None:
            await self.alarms.start()

    async def stop(self) -> None:
        if self.alarms is not None:
            await self.alarms.stop()
        if self.policies is not None:
            await self.policies.stop()
        if self.probes is not None:
            await self.probes.stop()
        if self.service_throughput is not None:
            await self.service_throughput.stop()
        if self.statistics is not None:
            await self.statistics.stop()
        if self.services is not None:
            await self.services.stop()
        if self.forwarding is not None:
            await self.forwarding.stop()
        await self.discovery.stop()
        await self.manager.stop()
