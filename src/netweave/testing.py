"""Helpers for tests of netweave and of code built on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from netweave.controller import Backoff, DeviceManager
from netweave.controller.runtime import Controller
from netweave.drivers.emulated import EmulatedNetwork, EmulatedPlugin
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.lab import Lab, LabOptions
from netweave.model import DeviceType, TopologyDescriptor
from netweave.services import ServiceReconciler
from netweave.store import Store

LabBuilder = Callable[[TopologyDescriptor, LabOptions], Lab]
"""Builds (and brings up) the lab of a descriptor, e.g. the integration tests'
`lab_factory`."""


async def eventually(check: Callable[[], bool], within: float = 5.0, poll: float = 0.01) -> None:
    """Wait until `check()` is true, polling every `poll` s; TimeoutError after `within` s."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polling an arbitrary condition is the point
            await asyncio.sleep(poll)


@dataclass(frozen=True)
class EmulatedServices:
    """An emulated network with the controller parts that provision services over it."""

    network: EmulatedNetwork
    manager: DeviceManager
    reconciler: ServiceReconciler


@asynccontextmanager
async def emulated_services(
    store: Store, descriptor: TopologyDescriptor
) -> AsyncIterator[EmulatedServices]:
    """Emulate `descriptor` (already in `store`, or to be put there by the caller) and run a
    device manager (quick retries) and a service reconciler over it until every device
    with the emulated driver is connected; both are stopped at the end."""
    network = EmulatedNetwork.from_descriptor(descriptor)
    manager = DeviceManager(store, {"emulated": EmulatedPlugin(network)}, backoff=Backoff(0.01))
    reconciler = ServiceReconciler(store)
    emulated = sum("emulated" in device.drivers for device in descriptor.devices)
    await manager.start()
    await reconciler.start()
    try:
        await eventually(lambda: len(manager.connected_devices()) == emulated)
        yield EmulatedServices(network, manager, reconciler)
    finally:
        await reconciler.stop()
        await manager.stop()


@asynccontextmanager
async def lab_under(
    controller: Controller,
    descriptor: TopologyDescriptor,
    build: LabBuilder,
    *,
    within: float = 20.0,
) -> AsyncIterator[Lab]:
    """Start `controller` (its OpenFlow listener on the port its settings name, 0 for any
    free one), build the lab of `descriptor` with its switches pointed at it, wait until
    every switch is connected, and yield the lab; the controller is stopped at the end
    (a test that replaces it stops the replacement itself). Taking the lab down is the
    builder's business."""
    await controller.start()
    try:
        plugin = controller.plugins["openflow"]
        assert isinstance(plugin, OpenFlowPlugin), "the controller has no OpenFlow plugin"
        options = LabOptions(controller=f"tcp:127.0.0.1:{plugin.port}")
        lab = await asyncio.to_thread(build, descriptor, options)
        switches = sum(d.type != DeviceType.HOST for d in descriptor.devices)
        await eventually(lambda: len(controller.manager.connected_devices()) >= switches, within)
        yield lab
    finally:
        await controller.stop()


@contextmanager
def throwaway_labs(base_dir: Path) -> Iterator[LabBuilder]:
    """A `LabBuilder` whose labs live under `base_dir` and are taken down on exit, also
    when the block fails (for benchmarks and scripts; tests use `lab_factory`)."""
    built: list[Lab] = []

    def build(descriptor: TopologyDescriptor, options: LabOptions) -> Lab:
        lab = Lab(descriptor, options, base_dir)
        built.append(lab)
        lab.up()
        return lab

    try:
        yield build
    finally:
        for lab in built:
            lab.down()
