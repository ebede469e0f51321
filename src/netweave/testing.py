"""Helpers for tests of netweave and of code built on it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from netweave.controller.runtime import Controller
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.lab import Lab, LabOptions
from netweave.model import DeviceType, TopologyDescriptor

LabBuilder = Callable[[TopologyDescriptor, LabOptions], Lab]
"""Builds (and brings up) the lab of a descriptor, e.g. the integration tests'
`lab_factory`."""


async def eventually(check: Callable[[], bool], within: float = 5.0, poll: float = 0.01) -> None:
    """Wait until `check()` is true, polling every `poll` s; TimeoutError after `within` s."""
    async with asyncio.timeout(within):
        while not check():  # noqa: ASYNC110 - polling an arbitrary condition is the point
            await asyncio.sleep(poll)


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
