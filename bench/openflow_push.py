"""Flow push rate: netweave's OpenFlow driver vs ``ovs-ofctl --bundle add-flows``.

Run as root: ``python -m bench.openflow_push [--quick] [--flows N]``. One bridge of a
private userspace Open vSwitch (a `netweave.lab` lab) takes N distinct flows twice per
round: from ``ovs-ofctl -O OpenFlow14 --bundle add-flows`` reading them from a file (the
baseline), and from the driver as one atomic bundle confirmed by a barrier. The table is
emptied between pushes; each side keeps its best round. Also printed: the struct fast
path's encoding rate against os-ken's, the reason the fast path exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as ofparser

from bench.common import Stopwatch, parser, report
from netweave.drivers.openflow import (
    FlowRule,
    OpenFlowDriver,
    OpenFlowPlugin,
    canonical_value,
    rule_key,
    wire,
)
from netweave.drivers.openflow.rules import Match, Output, cookie_for
from netweave.lab import Lab, LabOptions
from netweave.model import ConfigRule, Device, TopologyDescriptor

DPID = "00000000000000b1"
SWITCH = TopologyDescriptor.model_validate(
    {
        "name": "ofbench",
        "devices": [{"name": "s1", "type": "switch", "attributes": {"datapath_id": DPID}}],
        "links": [],
    }
)


def run(*args: str) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def switch(controller_port: int) -> Iterator[Lab]:
    """A lab of one bridge on a private userspace Open vSwitch, with our controller."""
    with tempfile.TemporaryDirectory(prefix="nwb-") as base:
        options = LabOptions(controller=f"tcp:127.0.0.1:{controller_port}")
        lab = Lab(SWITCH, options, Path(base))
        lab.up()
        try:
            yield lab
        finally:
            lab.down()


def address(i: int) -> str:
    return f"10.{i >> 16 & 0xFF}.{i >> 8 & 0xFF}.{i & 0xFF}"


def flows(n: int) -> list[FlowRule]:
    return [
        FlowRule(
            priority=100,
            match=Match(eth_type=0x0800, ipv4_dst=address(i)),
            actions=[Output(port=1 + i % 4)],
        )
        for i in range(n)
    ]


def config_rules(rules: list[FlowRule]) -> list[ConfigRule]:
    return [
        ConfigRule(
            id=f"bench-{i}",
            owner="bench",
            device_id="s1",
            key=rule_key(r),
            value=canonical_value(r),
        )
        for i, r in enumerate(rules)
    ]


def flow_count(lab: Lab) -> int:
    out = lab.ofctl("s1", "dump-aggregate")
    return int(out.split("flow_count=")[1].split()[0])


def ofctl_push(lab: Lab, path: Path) -> float:
    target = lab.paths.bridge_target(lab.bridge("s1"))
    with Stopwatch() as watch:
        run("ovs-ofctl", "-O", "OpenFlow14", "--bundle", "add-flows", target, str(path))
    return watch.seconds


def ofctl_read(lab: Lab) -> float:
    with Stopwatch() as watch:
        lab.ofctl("s1", "dump-flows")
    return watch.seconds


async def netweave_push(driver: OpenFlowDriver, rules: list[ConfigRule]) -> float:
    with Stopwatch() as watch:
        results = await driver.apply(rules)
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} rules failed, e.g. {failed[0]}")
    return watch.seconds


async def netweave_read(driver: OpenFlowDriver, rules: list[ConfigRule]) -> float:
    with Stopwatch() as watch:
        state = await driver.get_state()
    if any(state.rules.get(rule.key) != rule.value for rule in rules):
        raise RuntimeError("get_state does not report the rules as applied")
    return watch.seconds


class _Datapath:
    ofproto = ofp
    ofproto_parser = ofparser


def encode_rates(rules: list[FlowRule]) -> tuple[float, float]:
    """Flow-mods/s of the struct fast path and of os-ken for the same flows."""
    sample = rules[:20000]
    fast, osken = Stopwatch(), Stopwatch()
    with fast:
        for i, r in enumerate(sample):
            wire.flow_mod(r, cookie_for("k"), i)
    with osken:
        for i, r in enumerate(sample):
            ofparser.OFPFlowMod(
                _Datapath(),
                cookie=cookie_for("k"),
                priority=r.priority,
                buffer_id=ofp.OFP_NO_BUFFER,
                out_port=ofp.OFPP_ANY,
                out_group=ofp.OFPG_ANY,
                match=ofparser.OFPMatch(**r.match),
                instructions=[
                    ofparser.OFPInstructionActions(
                        ofp.OFPIT_APPLY_ACTIONS, [ofparser.OFPActionOutput(1 + i % 4, 0)]
                    )
                ],
            ).serialize()
    return fast.rate(len(sample)), osken.rate(len(sample))


async def main(n: int, rounds: int) -> None:
    typed = flows(n)
    rules = config_rules(typed)
    plugin = OpenFlowPlugin(port=0, request_timeout=600)
    await plugin.start()
    push = {"ofctl": float("inf"), "netweave": float("inf")}
    read = dict(push)
    try:
        with switch(plugin.port) as lab, tempfile.NamedTemporaryFile("w", suffix=".flows") as file:
            for i in range(n):
                file.write(f"priority=100,ip,nw_dst={address(i)},actions=output:{1 + i % 4}\n")
            file.flush()
            driver = plugin.create(Device(id="s1", name="s1", attributes={"datapath_id": DPID}))
            await driver.connect()
            for _ in range(rounds):
                push["ofctl"] = min(push["ofctl"], ofctl_push(lab, Path(file.name)))
                assert flow_count(lab) == n, "ofctl did not install every flow"
                read["ofctl"] = min(read["ofctl"], ofctl_read(lab))
                lab.ofctl("s1", "del-flows")
                push["netweave"] = min(push["netweave"], await netweave_push(driver, rules))
                assert flow_count(lab) == n, "netweave did not install every flow"
                read["netweave"] = min(read["netweave"], await netweave_read(driver, rules))
                lab.ofctl("s1", "del-flows")
    finally:
        await plugin.stop()
    print(f"# {n} distinct flows, one bundle each, best of {rounds} rounds")
    baseline = report("ofctl_bundle_add_flows", n / push["ofctl"], "rules/s")
    report("netweave_openflow_apply", n / push["netweave"], "rules/s", baseline)
    baseline = report("ofctl_dump_flows", n / read["ofctl"], "rules/s")
    report("netweave_get_state", n / read["netweave"], "rules/s", baseline)
    fast, osken = encode_rates(typed)
    report("osken_flow_mod_encode", osken, "msgs/s")
    report("fastpath_flow_mod_encode", fast, "msgs/s", osken)


if __name__ == "__main__":
    arguments = parser(__doc__.splitlines()[0])
    arguments.add_argument("--flows", type=int, help="flows to push (default 100k; quick 10k)")
    args = arguments.parse_args()
    count = args.flows or (10_000 if args.quick else 100_000)
    asyncio.run(main(count, 1 if args.quick else 3))
