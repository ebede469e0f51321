"""Command lines the lab runs: iproute2, tc, ethtool, ovs-vsctl and the OVS daemons."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from netweave.lab import LabError, LabOptions, PrerequisiteError, iproute, ovs, plan_lab, prereq
from netweave.lab.plan import End, HostPlan, LinkPlan
from netweave.model import TopologyDescriptor

PATHS = ovs.OvsPaths(Path("/run/nw/lab/t"))
HOST = End("h1", "eth0", "eth0", netns="nl1-h1", mac="00:00:00:00:00:01")
SWITCH = End("s1", "p1", "nl1l1b", bridge="nl1s1", ofport=7)


def test_a_veth_is_created_with_each_end_in_its_namespace() -> None:
    assert iproute.veth_line(LinkPlan("l", HOST, SWITCH)) == (
        "link add eth0 netns nl1-h1 type veth peer name nl1l1b"
    )


def test_a_switch_port_gets_its_mac_before_it_comes_up() -> None:
    with_mac = End("s1", "p1", "nl1l1b", bridge="nl1s1", ofport=1, mac="02:00:00:00:00:01")

    assert iproute.root_end_lines(with_mac) == [
        "link set dev nl1l1b address 02:00:00:00:00:01",
        "link set dev nl1l1b up",
    ]
    assert iproute.root_end_lines(SWITCH) == ["link set dev nl1l1b up"]


def test_a_host_gets_loopback_mac_address_and_route() -> None:
    host = HostPlan("h1", "nl1-h1", "eth0", "10.0.0.1/24", "10.0.0.254")

    assert iproute.host_lines(host, [HOST]) == [
        "link set dev lo up",
        "link set dev eth0 address 00:00:00:00:00:01",
        "link set dev eth0 up",
        "address add 10.0.0.1/24 dev eth0",
        "route add default via 10.0.0.254 dev eth0",
    ]
    assert iproute.ip_batch("nl1-h1") == ["ip", "-n", "nl1-h1", "-batch", "-"]


def test_rate_limits_shape_each_end_in_its_namespace() -> None:
    host_side = iproute.rate_limit(HOST, 20_000_000)
    switch_side = iproute.rate_limit(SWITCH, 1_000_000)

    assert host_side[:3] == ["tc", "-n", "nl1-h1"]
    assert host_side[host_side.index("rate") + 1] == "20000000bit"
    assert host_side[host_side.index("burst") + 1] == "25000"  # 10 ms
    assert switch_side[switch_side.index("burst") + 1] == str(iproute.TBF_MIN_BURST_BYTES)
    assert "-n" not in switch_side


def test_checksum_offload_is_turned_off_inside_the_host() -> None:
    assert iproute.checksum_offload_off("nl1-h1", "eth0") == [
        "ip", "netns", "exec", "nl1-h1", "ethtool", "-K", "eth0", "tx", "off",
    ]  # fmt: skip


def test_daemons_keep_everything_in_the_lab_directory() -> None:
    vswitchd = ovs.start_vswitchd(PATHS, "dummy")
    ovsdb = ovs.start_ovsdb(PATHS)

    assert vswitchd[:3] == ["ovs-vswitchd", "unix:/run/nw/lab/t/db.sock", "--enable-dummy"]
    assert "--enable-dummy" not in ovs.start_vswitchd(PATHS, "netdev")
    for argv, name in ((vswitchd, "ovs-vswitchd"), (ovsdb, "ovsdb-server")):
        assert f"--pidfile=/run/nw/lab/t/{name}.pid" in argv
        assert f"--unixctl=/run/nw/lab/t/{name}.ctl" in argv
        assert "--detach" in argv
    assert "--remote=punix:/run/nw/lab/t/db.sock" in ovsdb
    assert PATHS.env()["OVS_RUNDIR"] == "/run/nw/lab/t"
    assert ovs.vsctl(PATHS, "show")[:2] == ["ovs-vsctl", "--db=unix:/run/nw/lab/t/db.sock"]
    assert ovs.ofctl(PATHS, "nl1s1", "dump-flows")[3:5] == [
        "dump-flows",
        "unix:/run/nw/lab/t/nl1s1.mgmt",
    ]


def test_one_transaction_sets_up_bridges_ports_and_controllers() -> None:
    descriptor = TopologyDescriptor.model_validate(
        {
            "devices": [
                {"name": "s1", "attributes": {"datapath_id": "a1"}},
                {"name": "s2", "ports": [{"name": "x", "number": 9}]},
            ],
            "links": [{"a": {"device": "s1", "port": "p"}, "b": {"device": "s2", "port": "x"}}],
        }
    )
    plan = plan_lab(descriptor, "nl1")

    ops = ovs.build_switches(plan, datapath="dummy", fail_mode="secure", controller="tcp:h:1")

    text = " ".join(ops)
    assert "add-br nl1s1 -- set bridge nl1s1 datapath_type=dummy" in text
    assert "protocols=OpenFlow13,OpenFlow14 fail_mode=secure" in text
    assert "other_config:datapath-id=00000000000000a1" in text
    assert 'create controller target="tcp:h:1" connection_mode=out-of-band' in text
    assert "set bridge nl1s2 controller=@c1" in text
    assert "add-port nl1s2 nl1l1b -- set interface nl1l1b ofport_request=9" in text
    no_controller = ovs.build_switches(plan, datapath="netdev", fail_mode="secure", controller=None)
    assert "controller" not in " ".join(no_controller)


def test_only_a_live_daemon_of_this_lab_counts_as_running(tmp_path: Path) -> None:
    paths = ovs.OvsPaths(tmp_path)
    assert ovs.running_pid(paths, ovs.VSWITCHD) is None  # no pid file

    paths.pidfile(ovs.VSWITCHD).write_text(f"{os.getpid()}\n")
    assert ovs.running_pid(paths, ovs.VSWITCHD) is None  # alive, but not started for this lab

    paths.pidfile(ovs.VSWITCHD).write_text("999999999\n")
    assert ovs.running_pid(paths, ovs.VSWITCHD) is None


@pytest.mark.parametrize("target", ["tcp:127.0.0.1:6653", "ssl:ctl.example:6653", "unix:/x/s"])
def test_controller_targets_are_checked(target: str) -> None:
    assert LabOptions(controller=target).controller == target
    with pytest.raises(LabError, match="controller: expected tcp:HOST:PORT"):
        LabOptions(controller=target.replace(":", " "))


def test_prerequisites_name_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereq.os, "geteuid", lambda: 1000)
    with pytest.raises(PrerequisiteError, match="run it as root"):
        prereq.check_prerequisites()

    monkeypatch.setattr(prereq.os, "geteuid", lambda: 0)
    monkeypatch.setattr(prereq, "OVS_SCHEMA", Path(__file__))
    monkeypatch.setattr(prereq.shutil, "which", lambda p: None if p == "ethtool" else "/bin/x")
    with pytest.raises(PrerequisiteError, match="apt-get install ethtool`"):
        prereq.check_prerequisites()
