"""Building a planned lab, step by step, recording each thing before making it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from netweave.lab import iproute, ovs
from netweave.lab.errors import CommandError, LabError
from netweave.lab.health import link_exists, netns_exists
from netweave.lab.plan import End, LabPlan
from netweave.lab.shell import run, run_lines
from netweave.lab.state import LabState, StateFile

StepCallback = Callable[[str], None]
STEPS = (
    "start Open vSwitch",
    "create host namespaces",
    "create links",
    "configure hosts",
    "create switches",
    "limit link rates",
)
"""The steps of `up`, named for progress output, in order."""


@dataclass
class Builder:
    plan: LabPlan
    state: LabState
    state_file: StateFile

    @property
    def paths(self) -> ovs.OvsPaths:
        return ovs.OvsPaths(self.state_file.directory)

    def build(self, on_step: StepCallback) -> None:
        """Run the `STEPS`, calling `on_step` with the name of each as it starts."""
        actions = (
            self.start_ovs,
            self.create_namespaces,
            self.create_links,
            self.configure_hosts,
            self.create_switches,
            self.limit_rates,
        )
        for name, action in zip(STEPS, actions, strict=True):
            on_step(name)
            action()
        self.state.complete = True
        self.state_file.save(self.state)

    def start_ovs(self) -> None:
        paths, env = self.paths, self.paths.env()
        self.state_file.record(self.state, daemon=ovs.OVSDB)
        run(ovs.create_db(paths), env=env)
        run(ovs.start_ovsdb(paths), env=env)
        run(ovs.vsctl(paths, "--no-wait", "init"), env=env)
        self.state_file.record(self.state, daemon=ovs.VSWITCHD)
        run(ovs.start_vswitchd(paths, self.state.datapath), env=env)

    def create_namespaces(self) -> None:
        namespaces = [host.netns for host in self.plan.hosts]
        _refuse_existing("namespaces", [n for n in namespaces if netns_exists(n)])
        self.state_file.record(self.state, netns=namespaces)
        run_lines(iproute.ip_batch(), [iproute.netns_add_line(n) for n in namespaces])

    def create_links(self) -> None:
        ifnames = self.plan.root_ifnames
        _refuse_existing("interfaces", [i for i in ifnames if link_exists(i)])
        self.state_file.record(self.state, links=self.plan.veth_handles)
        lines = [iproute.veth_line(link) for link in self.plan.links]
        lines += [line for end in self._root_ends() for line in iproute.root_end_lines(end)]
        run_lines(iproute.ip_batch(), lines)

    def configure_hosts(self) -> None:
        for host in self.plan.hosts:
            ends = [end for end in self._ends() if end.netns == host.netns]
            run_lines(iproute.ip_batch(host.netns), iproute.host_lines(host, ends))
            for end in ends:
                run(iproute.checksum_offload_off(host.netns, end.ifname))

    def create_switches(self) -> None:
        if not self.plan.switches:
            return
        if self.state.datapath == "netdev":  # each bridge gets a kernel tap of its name
            taps = [s.bridge for s in self.plan.switches]
            _refuse_existing("interfaces", [t for t in taps if link_exists(t)])
            self.state_file.record(self.state, links=taps)
        ops = ovs.build_switches(
            self.plan,
            datapath=self.state.datapath,
            fail_mode=self.state.fail_mode,
            controller=self.state.controller,
        )
        try:
            run(ovs.vsctl(self.paths, *ops), env=self.paths.env())
        except CommandError as exc:
            if self.state.datapath != "netdev":
                raise
            raise LabError(
                f"{exc}; is another userspace Open vSwitch on this machine holding the netdev "
                "datapath (its tap 'ovs-netdev')? The dummy datapath does not need it"
            ) from exc

    def limit_rates(self) -> None:
        for link in self.plan.links:
            if link.rate_limit_bps is not None:
                for end in link.ends:
                    run(iproute.rate_limit(end, link.rate_limit_bps))

    def _ends(self) -> list[End]:
        return [end for link in self.plan.links for end in link.ends]

    def _root_ends(self) -> list[End]:
        return [end for end in self._ends() if end.netns is None]


def _refuse_existing(kind: str, names: list[str]) -> None:
    """Never adopt what the lab did not make: `down` would delete it."""
    if names:
        raise LabError(
            f"{kind} {', '.join(names)} already exist, left by a lab whose state file was "
            "lost: delete them (`ip netns delete` / `ip link delete`) and retry"
        )
