"""`teardown`: a lab taken down from its state file alone (daemons, namespaces, veths)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path

from netweave.lab import iproute, ovs
from netweave.lab.errors import CommandError, LabError
from netweave.lab.health import link_exists, netns_exists
from netweave.lab.shell import run, run_lines
from netweave.lab.state import StateFile


def teardown(directory: Path) -> bool:
    """Remove everything the lab in `directory` made; False when there is no lab there.

    Works when the daemons died or the lab was only half built; processes still running
    in the lab's namespaces (e.g. an iperf3 server) are killed so the namespaces go.
    """
    state_file = StateFile(directory)
    if not state_file.exists():
        return False
    state = state_file.load()
    paths = ovs.OvsPaths(directory)
    for daemon in reversed(ovs.DAEMONS):
        ovs.stop(paths, daemon)
    namespaces = [n for n in state.netns if netns_exists(n)]
    for netns in namespaces:
        _kill_processes_in(netns)
    _delete(namespaces, iproute.netns_delete_line, netns_exists)
    _delete([i for i in state.links if link_exists(i)], iproute.link_delete_line, link_exists)
    shutil.rmtree(directory)
    return True


def _kill_processes_in(netns: str) -> None:
    for pid in run(iproute.netns_pids(netns)).split():
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid), signal.SIGKILL)


def _delete(
    names: list[str], delete_line: Callable[[str], str], exists: Callable[[str], bool]
) -> None:
    """Delete `names` in one ``ip`` batch; an error only counts when one remains (a veth
    goes by itself, a little later, when its peer's namespace is deleted)."""
    try:
        run_lines(iproute.ip_batch(force=True), [delete_line(n) for n in names])
    except CommandError as exc:
        if left := [n for n in names if exists(n)]:
            raise LabError(f"could not remove {', '.join(left)}: {exc.message}") from exc
