"""What is up: a lab's health, read from its state file and the running system."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netweave.lab import ovs
from netweave.lab.errors import CommandError
from netweave.lab.shell import run
from netweave.lab.state import STATE_FILE, LabState, StateFile

NETNS_DIR = Path("/run/netns")
SYS_NET = Path("/sys/class/net")


@dataclass(frozen=True)
class LabStatus:
    """A lab as it is now; `problems` is empty when everything it made is in place."""

    directory: Path
    state: LabState
    pids: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def up(self) -> bool:
        return not self.problems


def netns_exists(name: str) -> bool:
    return (NETNS_DIR / name).exists()


def link_exists(ifname: str) -> bool:
    """True when the root namespace has an interface `ifname`."""
    return (SYS_NET / ifname).exists()


def inspect(directory: Path) -> LabStatus:
    """The status of the lab in `directory` (raises `LabStateError` when there is none)."""
    state = StateFile(directory).load()
    paths = ovs.OvsPaths(directory)
    problems = [] if state.complete else ["it was interrupted while coming up"]
    pids = {}
    for daemon in ovs.DAEMONS:
        if (pid := ovs.running_pid(paths, daemon)) is None:
            problems.append(f"{daemon} is not running")
        else:
            pids[daemon] = pid
    problems += [f"namespace {n} is missing" for n in state.netns if not netns_exists(n)]
    problems += [f"interface {i} is missing" for i in state.links if not link_exists(i)]
    if len(pids) == len(ovs.DAEMONS) and state.complete:
        problems += _missing_bridges(paths, state)
    return LabStatus(directory, state, pids, problems)


def find_labs(base_dir: Path) -> list[Path]:
    """The directories of the labs under `base_dir`, by name."""
    return sorted(p.parent for p in (base_dir / "lab").glob(f"*/{STATE_FILE}"))


def _missing_bridges(paths: ovs.OvsPaths, state: LabState) -> list[str]:
    try:
        bridges = set(run(ovs.vsctl(paths, "list-br")).split())
    except CommandError as exc:
        return [f"Open vSwitch does not answer: {exc.message}"]
    return [f"bridge {b} is missing" for b in state.switches.values() if b not in bridges]
