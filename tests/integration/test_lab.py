"""The lab on real Open vSwitch and namespaces: examples come up and down, packets flow,
`up` is idempotent, `down` cleans up after a crash, rate limits hold."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from netweave.lab import Lab, LabError, LabOptions, LabStateError
from netweave.lab.health import link_exists, netns_exists
from netweave.lab.ovs import VSWITCHD
from netweave.model import TopologyDescriptor

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
STANDALONE = LabOptions(controller=None, fail_mode="standalone")
NO_CONTROLLER = LabOptions(controller=None)


def ping(lab: Lab, host: str, ip: str) -> bool:
    return lab.exec(host, ["ping", "-c", "2", "-i", "0.2", "-W", "1", ip]).returncode == 0


def assert_gone(lab: Lab) -> None:
    """Nothing of `lab` remains (its veths may take a moment after their namespace)."""
    deadline = time.monotonic() + 3.0
    while True:
        left = [n for n in (h.netns for h in lab.plan.hosts) if netns_exists(n)]
        left += [i for i in lab.plan.root_ifnames if link_exists(i)]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left
    assert not lab.directory.exists()


def two_hosts(rate_limit_bps: int | None = None) -> TopologyDescriptor:
    return TopologyDescriptor.model_validate(
        {
            "name": "pair",
            "devices": [
                {"name": "s1", "type": "switch"},
                {"name": "h1", "type": "host", "ip": "10.0.0.1/24"},
                {"name": "h2", "type": "host", "ip": "10.0.0.2/24"},
            ],
            "links": [
                {"a": {"device": "h1", "port": "eth0"}, "b": {"device": "s1", "port": "p1"}},
                {
                    "a": {"device": "s1", "port": "p2"},
                    "b": {"device": "h2", "port": "eth0"},
                    "rate_limit_bps": rate_limit_bps,
                },
            ],
        }
    )


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.glob("*.yaml")))
def test_example_comes_up_as_described_and_goes_down(lab_factory: LabFactory, example: str) -> None:
    lab = lab_factory(example)
    descriptor = lab.descriptor

    assert lab.status().up
    assert sorted(lab.vsctl("list-br").split()) == sorted(s.bridge for s in lab.plan.switches)
    for spec in descriptor.devices:
        if spec.type == "switch":
            bridge = lab.bridge(spec.name)
            dpid = lab.vsctl("get", "bridge", bridge, "other_config:datapath-id")
            assert dpid.strip().strip('"') == spec.datapath_id
            target = lab.vsctl("get", "controller", bridge, "target")
            assert target.strip().strip('"') == "tcp:127.0.0.1:6653"
        else:
            assert netns_exists(lab.netns(spec.name))
    for link in lab.plan.links:
        for end in link.ends:
            if end.bridge is not None:
                ofport = lab.vsctl("get", "interface", end.ifname, "ofport")
                assert int(ofport) == end.ofport
    declared = {
        (spec.name, port.name): port.number
        for spec in descriptor.devices
        for port in spec.ports
        if port.number is not None
    }
    planned = {(e.device, e.port): e.ofport for link in lab.plan.links for e in link.ends}
    assert all(planned[key] == number for key, number in declared.items() if key in planned)

    assert lab.down()
    assert_gone(lab)


def test_packets_flow_only_through_the_switches(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", NO_CONTROLLER)
    assert not ping(lab, "h1", "10.0.0.3"), "secure switches without flows must drop"

    for switch in lab.plan.switches:
        lab.ofctl(switch.name, "add-flow", "priority=0,actions=NORMAL")

    assert ping(lab, "h1", "10.0.0.3")
    assert ping(lab, "h3", "10.0.0.2")


def test_standalone_switches_learn(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", STANDALONE)
    mac = lab.exec("h2", ["cat", "/sys/class/net/eth0/address"]).stdout.strip()

    assert ping(lab, "h1", "10.0.0.2")
    assert mac == "00:00:00:00:00:02"


def test_up_twice_changes_nothing(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", STANDALONE)
    before = lab.status()

    again = lab.up()

    assert not again.built
    after = lab.status()
    assert after.up
    assert after.pids == before.pids
    assert after.state == before.state


def test_up_with_other_options_is_refused(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", STANDALONE)
    other = Lab(lab.descriptor, NO_CONTROLLER, lab.directory.parent.parent)

    with pytest.raises(LabStateError, match="another descriptor or other options"):
        other.up()
    assert lab.status().up


def test_down_after_vswitchd_was_killed_leaves_nothing(lab_factory: LabFactory) -> None:
    lab = lab_factory("ring.yaml", STANDALONE)
    server = lab.exec("h1", ["iperf3", "-s", "-D"])  # a process that would pin the netns
    assert server.returncode == 0, server.stderr

    os.kill(lab.status().pids[VSWITCHD], signal.SIGKILL)

    assert f"{VSWITCHD} is not running" in _eventually_problems(lab)
    assert lab.down()
    assert_gone(lab)


def test_up_rebuilds_a_broken_lab(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", STANDALONE)
    os.kill(lab.status().pids[VSWITCHD], signal.SIGKILL)
    _eventually_problems(lab)

    result = lab.up()

    assert result.built
    assert f"{VSWITCHD} is not running" in result.repaired
    assert lab.status().up
    assert ping(lab, "h1", "10.0.0.3")


def test_a_lost_namespace_is_noticed_and_rebuilt(lab_factory: LabFactory) -> None:
    lab = lab_factory("linear.yaml", STANDALONE)
    netns = lab.netns("h2")
    subprocess.run(["ip", "netns", "delete", netns], check=True)

    assert f"namespace {netns} is missing" in lab.status().problems
    assert f"namespace {netns} is missing" in lab.up().repaired
    assert ping(lab, "h1", "10.0.0.2")


def test_failed_up_removes_what_it_made_and_keeps_what_it_did_not(
    lab_factory: LabFactory,
) -> None:
    lab = lab_factory("linear.yaml", STANDALONE, up=False)
    squatter = lab.plan.root_ifnames[0]
    subprocess.run(
        ["ip", "link", "add", squatter, "type", "veth", "peer", "name", f"{squatter}x"],
        check=True,
    )
    try:
        with pytest.raises(LabError, match=f"interfaces {squatter} already exist"):
            lab.up()
        assert link_exists(squatter)
        assert not any(netns_exists(h.netns) for h in lab.plan.hosts)
        assert not lab.directory.exists()
    finally:
        subprocess.run(["ip", "link", "delete", squatter], check=False)


def test_rate_limit_is_enforced(lab_factory: LabFactory) -> None:
    limit = 20_000_000
    lab = lab_factory(two_hosts(rate_limit_bps=limit), STANDALONE)
    assert lab.exec("h2", ["iperf3", "-s", "-D", "-1"]).returncode == 0
    time.sleep(0.3)

    client = lab.exec("h1", ["iperf3", "-c", "10.0.0.2", "-t", "3", "-J"], timeout=30)

    assert client.returncode == 0, client.stdout[-500:]
    received = json.loads(client.stdout)["end"]["sum_received"]["bits_per_second"]
    assert 0.5 * limit < received <= 1.1 * limit, f"{received / 1e6:.1f} Mbit/s"


def test_two_labs_of_one_descriptor_run_side_by_side(lab_factory: LabFactory) -> None:
    first = lab_factory("linear.yaml", STANDALONE)
    second = lab_factory("linear.yaml", STANDALONE)

    assert first.plan.prefix != second.plan.prefix
    assert ping(first, "h1", "10.0.0.3")
    assert ping(second, "h1", "10.0.0.3")


def _eventually_problems(lab: Lab) -> list[str]:
    deadline = time.monotonic() + 5.0
    while not (problems := lab.status().problems) and time.monotonic() < deadline:
        time.sleep(0.05)
    return problems
