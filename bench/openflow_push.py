"""Flow push rate: netweave's OpenFlow driver vs ``ovs-ofctl --bundle add-flows``.

Run as root: ``python -m bench.openflow_push [--quick] [--flows N]``. One private
userspace Open vSwitch (its own daemons in a temporary directory, ovs-vswitchd in its own
network namespace) takes N distinct flows twice per round: from ``ovs-ofctl -O
OpenFlow14 --bundle add-flows`` reading them from a file (the baseline), and from the
driver as one atomic bundle confirmed by a barrier. The table is emptied between pushes;
each side keeps its best round. Also printed: the struct fast path's encoding rate
against os-ken's, the reason the fast path exists.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from os_ken.ofproto import ofproto_v1_3 as ofp
from os_ken.ofproto import ofproto_v1_3_parser as parser

from netweave.drivers.openflow import FlowRule, OpenFlowPlugin, canonical_value, rule_key, wire
from netweave.drivers.openflow.rules import Match, Output, cookie_for
from netweave.model import ConfigRule, Device

DPID = "00000000000000b1"
CONTROLLER_IP, SWITCH_IP = "169.254.250.1", "169.254.250.2"


def run(*args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def switch() -> Iterator[dict[str, str]]:
    """A private OVS with bridge br0, reachable from the host at SWITCH_IP; yields its env."""
    tag = uuid.uuid4().hex[:6]
    netns, link = f"nwb{tag}", f"nwb{tag}h"
    d = Path(tempfile.mkdtemp(prefix="nwof-bench-"))
    env = {**os.environ, "OVS_RUNDIR": str(d), "OVS_DBDIR": str(d)}
    try:
        run("ip", "netns", "add", netns)
        run("ip", "link", "add", link, "type", "veth", "peer", "ctl", "netns", netns)
        run("ip", "addr", "add", f"{CONTROLLER_IP}/30", "dev", link)
        run("ip", "link", "set", link, "up")
        run("ip", "-n", netns, "addr", "add", f"{SWITCH_IP}/30", "dev", "ctl")
        run("ip", "-n", netns, "link", "set", "ctl", "up")
        run("ovsdb-tool", "create", f"{d}/conf.db", "/usr/share/openvswitch/vswitch.ovsschema")
        db = f"unix:{d}/db.sock"
        run(
            "ovsdb-server", f"{d}/conf.db", f"--remote=punix:{d}/db.sock",
            f"--pidfile={d}/ovsdb-server.pid", f"--unixctl={d}/ovsdb-server.ctl",
            "--detach", "--no-chdir", env=env,
        )  # fmt: skip
        run("ovs-vsctl", f"--db={db}", "--no-wait", "init", env=env)
        run(
            "ip", "netns", "exec", netns, "ovs-vswitchd", db, f"--pidfile={d}/ovs-vswitchd.pid",
            f"--unixctl={d}/ovs-vswitchd.ctl", f"--log-file={d}/ovs-vswitchd.log",
            "--detach", "--no-chdir", env=env,
        )  # fmt: skip
        run(
            "ovs-vsctl", f"--db={db}", "add-br", "br0", "--", "set", "bridge", "br0",
            "datapath_type=netdev", f"other-config:datapath-id={DPID}",
            "protocols=OpenFlow13,OpenFlow14", "fail-mode=secure", env=env,
        )  # fmt: skip
        env["NW_DB"] = db
        yield env
    finally:
        for daemon in ("ovs-vswitchd", "ovsdb-server"):
            pidfile = d / f"{daemon}.pid"
            if pidfile.exists():
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pidfile.read_text()), signal.SIGKILL)
        subprocess.run(["ip", "link", "del", link], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", netns], capture_output=True, check=False)
        shutil.rmtree(d, ignore_errors=True)


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


def flow_count(env: dict[str, str]) -> int:
    out = run("ovs-ofctl", "-O", "OpenFlow13", "dump-aggregate", "br0", env=env)
    return int(out.split("flow_count=")[1].split()[0])


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def ofctl_push(env: dict[str, str], path: Path) -> float:
    return timed(
        lambda: run(
            "ovs-ofctl", "-O", "OpenFlow14", "--bundle", "add-flows", "br0", str(path), env=env
        )
    )


async def netweave_push(plugin: OpenFlowPlugin, rules: list[ConfigRule]) -> float:
    driver = plugin.create(Device(id="s1", name="s1", attributes={"datapath_id": DPID}))
    await driver.connect()
    start = time.perf_counter()
    results = await driver.apply(rules)
    elapsed = time.perf_counter() - start
    failed = [r for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} rules failed, e.g. {failed[0]}")
    await driver.disconnect()
    return elapsed


def encode_rates(rules: list[FlowRule]) -> tuple[float, float]:
    """Flow-mods/s of the struct fast path and of os-ken for the same flows."""
    sample = rules[: min(len(rules), 20000)]
    fast = timed(lambda: [wire.flow_mod(r, cookie_for("k"), i) for i, r in enumerate(sample)])

    def osken() -> None:
        for i, r in enumerate(sample):
            msg = parser.OFPFlowMod(
                _Datapath(),
                cookie=cookie_for("k"),
                priority=r.priority,
                buffer_id=ofp.OFP_NO_BUFFER,
                out_port=ofp.OFPP_ANY,
                out_group=ofp.OFPG_ANY,
                match=parser.OFPMatch(**r.match.fields()),
                instructions=[
                    parser.OFPInstructionActions(
                        ofp.OFPIT_APPLY_ACTIONS, [parser.OFPActionOutput(1 + i % 4, 0)]
                    )
                ],
            )
            msg.serialize()

    return len(sample) / fast, len(sample) / timed(osken)


class _Datapath:
    ofproto = ofp
    ofproto_parser = parser


def line(name: str, value: float, unit: str, baseline: float) -> None:
    print(f"{name}: {value:,.0f} {unit} ({value / baseline:.2f}x vs baseline)")


async def main(n: int, rounds: int) -> None:
    typed = flows(n)
    rules = config_rules(typed)
    with switch() as env, tempfile.NamedTemporaryFile("w", suffix=".flows") as file:
        for i in range(n):
            file.write(f"priority=100,ip,nw_dst={address(i)},actions=output:{1 + i % 4}\n")
        file.flush()
        plugin = OpenFlowPlugin(host=CONTROLLER_IP, port=0, request_timeout=600)
        await plugin.start()
        db = env["NW_DB"]
        run(
            "ovs-vsctl",
            f"--db={db}",
            "set-controller",
            "br0",
            f"tcp:{CONTROLLER_IP}:{plugin.port}",
            env=env,
        )
        ofctl_best = ours_best = float("inf")
        try:
            for _ in range(rounds):
                ofctl_best = min(ofctl_best, ofctl_push(env, Path(file.name)))
                assert flow_count(env) == n, "ofctl did not install every flow"
                run("ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br0", env=env)
                ours_best = min(ours_best, await netweave_push(plugin, rules))
                assert flow_count(env) == n, "netweave did not install every flow"
                run("ovs-ofctl", "-O", "OpenFlow13", "del-flows", "br0", env=env)
        finally:
            await plugin.stop()
    baseline = n / ofctl_best
    print(f"# {n} distinct flows, one bundle each, best of {rounds}")
    line("ofctl_bundle_add_flows", baseline, "rules/s", baseline)
    line("netweave_openflow_apply", n / ours_best, "rules/s", baseline)
    fast, osken = encode_rates(typed)
    line("osken_flow_mod_encode", osken, "msgs/s", osken)
    line("fastpath_flow_mod_encode", fast, "msgs/s", osken)


if __name__ == "__main__":
    parser_ = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser_.add_argument("--quick", action="store_true", help="10k flows, one round")
    parser_.add_argument("--flows", type=int, help="number of flows (default 100k)")
    args = parser_.parse_args()
    count = args.flows or (10_000 if args.quick else 100_000)
    asyncio.run(main(count, 1 if args.quick else 3))
