"""Port status → topology in the store: how long after a switch port changes state the
store holds the new endpoint state (and, going down, the link is gone).

Run as root: ``python -m bench.port_status [--quick]``. A linear lab on real Open vSwitch
is driven by an in-process controller; port 1 of s1 is toggled with ``ovs-ofctl
mod-port``. In the same run, ``bare OpenFlow peer`` (a bare OpenFlow client of the same
switch) timestamps the same PORT_STATUS messages: the baseline is the time a port change
takes to reach any OpenFlow client at all.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import struct
import tempfile
import time
from pathlib import Path

from bench.common import parser, report
from netweave.bus import InProcessBus
from netweave.controller.runtime import Controller, ControllerSettings
from netweave.drivers.openflow import OpenFlowPlugin
from netweave.inventory import Inventory, load_descriptor
from netweave.model import Endpoint, OperStatus
from netweave.model.ids import endpoint_id
from netweave.store import Change, Store
from netweave.testing import eventually, lab_under, throwaway_labs

EXAMPLE = Path(__file__).parents[1] / "examples" / "linear.yaml"


class RawClock:
    """A bare OpenFlow 1.3 peer: says hello, answers echoes, timestamps PORT_STATUS."""

    HELLO, ECHO_REQUEST, ECHO_REPLY, PORT_STATUS = 0, 2, 3, 12

    def __init__(self) -> None:
        self.stamps: list[float] = []
        self.server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        writer.write(struct.pack("!BBHI", 4, self.HELLO, 8, 1))
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                header = await reader.readexactly(8)
                version, kind, length, xid = struct.unpack("!BBHI", header)
                body = await reader.readexactly(length - 8)
                if kind == self.PORT_STATUS:
                    self.stamps.append(time.perf_counter())
                elif kind == self.ECHO_REQUEST:
                    writer.write(struct.pack("!BBHI", version, self.ECHO_REPLY, length, xid) + body)

    def close(self) -> None:
        """Stop listening and end the connections (their readers see EOF and return)."""
        if self.server is not None:
            self.server.close()
        for writer in self._writers:
            writer.close()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def measure(toggles: int) -> None:
    descriptor = load_descriptor(EXAMPLE.read_text(), str(EXAMPLE))[0]
    with tempfile.TemporaryDirectory(prefix="nwb") as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        Inventory(store, InProcessBus()).import_topology(
            descriptor.model_copy(update={"links": []})
        )
        commits: list[tuple[float, OperStatus]] = []
        watched = endpoint_id("s1", "eth1")

        def on_commit(changes: list[Change]) -> None:
            for change in changes:
                entity = change.entity
                changed = not commits or commits[-1][1] != getattr(entity, "status", None)
                if isinstance(entity, Endpoint) and entity.id == watched and changed:
                    commits.append((time.perf_counter(), entity.status))

        controller = Controller(
            store, ControllerSettings(openflow_port=0, discovery_interval_s=0.2)
        )
        plugin = controller.plugins["openflow"]
        assert isinstance(plugin, OpenFlowPlugin)
        try:
            with throwaway_labs(Path(tmp)) as build:
                async with lab_under(controller, descriptor, build) as lab:
                    await asyncio.sleep(1.0)  # let discovery settle
                    bare = RawClock()
                    bare_port = await bare.start()
                    ours = f"tcp:127.0.0.1:{plugin.port}"
                    await asyncio.to_thread(
                        lab.vsctl,
                        "set-controller",
                        lab.bridge("s1"),
                        ours,
                        f"tcp:127.0.0.1:{bare_port}",
                    )
                    await eventually(lambda: len(controller.manager.connected_devices()) == 3, 20)
                    await asyncio.sleep(1.0)
                    store.on_commit(on_commit)
                    issued: list[float] = []
                    for i in range(toggles):
                        state = "down" if i % 2 == 0 else "up"
                        issued.append(time.perf_counter())
                        await asyncio.to_thread(lab.ofctl, "s1", "mod-port", "1", state)
                        want = OperStatus.DOWN if state == "down" else OperStatus.UP
                        await eventually(
                            lambda n=i + 1, w=want: len(commits) >= n and commits[-1][1] == w
                        )
                        await asyncio.sleep(0.05)
                    await asyncio.sleep(0.3)
                    bare.close()
        finally:
            store.close()
    # A change may come as two messages (port config, then link state): the first counts.
    seen = [min(s for s in bare.stamps if s >= t) for t in issued]
    ours = [commit - t for (commit, _), t in zip(commits, issued, strict=True)]
    theirs = [s - t for s, t in zip(seen, issued, strict=True)]
    pipeline = [(c - s) * 1000 for (c, _), s in zip(commits, seen, strict=True)]
    print(f"toggles: {toggles}")
    for q, name in ((0.5, "p50"), (0.99, "p99")):
        base = report(
            f"port change -> bare OpenFlow peer {name}", percentile(theirs, q) * 1000, "ms"
        )
        report(f"port change -> netweave store {name}", percentile(ours, q) * 1000, "ms", base)
    # What netweave adds after the switch has told its controllers (negative: our store
    # was written before the other connection even read the message).
    print(
        f"added over the bare peer: p50 {statistics.median(pipeline):.2f} ms, "
        f"p99 {percentile(pipeline, 0.99):.2f} ms"
    )


def main() -> None:
    args = parser(__doc__ or "").parse_args()
    asyncio.run(measure(20 if args.quick else 200))


if __name__ == "__main__":
    main()
