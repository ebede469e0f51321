"""A private Open vSwitch per lab: its own ovsdb-server and ovs-vswitchd, userspace only.

Every file, socket and log lives in the lab directory (OVS_RUNDIR/OVS_DBDIR/OVS_LOGDIR
point there as well), so labs never meet each other or the system's OVS.

The default datapath type is ``dummy``: the same userspace datapath as ``netdev``
(`dpif-netdev`, enabled with ``--enable-dummy``), but without the kernel tap device that
``netdev`` opens under the fixed name ``ovs-netdev``. Only one process on a machine can
hold that tap, so a second ``netdev`` datapath (another lab, Mininet, the system OVS)
fails; ``dummy`` labs run side by side. Ports are veths either way, read and written
through AF_PACKET sockets.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from netweave.lab.plan import LabPlan
from netweave.lab.prereq import OVS_SCHEMA
from netweave.lab.state import Datapath, FailMode

OVSDB: Final = "ovsdb-server"
VSWITCHD: Final = "ovs-vswitchd"
DAEMONS: Final = (OVSDB, VSWITCHD)
VSCTL_TIMEOUT_S: Final = 30
MAX_BACKOFF_MS: Final = 1000
INACTIVITY_PROBE_MS: Final = 5000
STOP_WAIT_S: Final = 5.0


@dataclass(frozen=True)
class OvsPaths:
    """Where one lab's Open vSwitch keeps its database, sockets, pid files and logs."""

    directory: Path

    @property
    def db(self) -> Path:
        return self.directory / "conf.db"

    @property
    def socket(self) -> Path:
        return self.directory / "db.sock"

    def pidfile(self, daemon: str) -> Path:
        return self.directory / f"{daemon}.pid"

    def control(self, daemon: str) -> Path:
        return self.directory / f"{daemon}.ctl"

    def log(self, daemon: str) -> Path:
        return self.directory / f"{daemon}.log"

    def env(self) -> dict[str, str]:
        where = str(self.directory)
        return {**os.environ, "OVS_RUNDIR": where, "OVS_DBDIR": where, "OVS_LOGDIR": where}

    def bridge_target(self, bridge: str) -> str:
        """The OpenFlow management socket of `bridge`, for ``ovs-ofctl``."""
        return f"unix:{self.directory / bridge}.mgmt"


def create_db(paths: OvsPaths) -> list[str]:
    return ["ovsdb-tool", "create", str(paths.db), str(OVS_SCHEMA)]


def start_ovsdb(paths: OvsPaths) -> list[str]:
    return [
        OVSDB,
        str(paths.db),
        f"--remote=punix:{paths.socket}",
        *_daemon_options(paths, OVSDB),
    ]


def start_vswitchd(paths: OvsPaths, datapath: Datapath) -> list[str]:
    dummy = ["--enable-dummy"] if datapath == "dummy" else []
    return [VSWITCHD, f"unix:{paths.socket}", *dummy, *_daemon_options(paths, VSWITCHD)]


def vsctl(paths: OvsPaths, *args: str) -> list[str]:
    return ["ovs-vsctl", f"--db=unix:{paths.socket}", f"--timeout={VSCTL_TIMEOUT_S}", *args]


def ofctl(paths: OvsPaths, bridge: str, *args: str) -> list[str]:
    """``ovs-ofctl`` on `bridge` over OpenFlow 1.3; `args` are the command and its operands."""
    command, *rest = args
    return ["ovs-ofctl", "-O", "OpenFlow13", command, paths.bridge_target(bridge), *rest]


def build_switches(
    plan: LabPlan, *, datapath: Datapath, fail_mode: FailMode, controller: str | None
) -> list[str]:
    """One ``ovs-vsctl`` transaction adding every bridge, port and controller of `plan`."""
    ops: list[str] = []
    for number, switch in enumerate(plan.switches):
        b = switch.bridge
        ops += ["--", "add-br", b, "--", "set", "bridge", b, f"datapath_type={datapath}"]
        ops += ["protocols=OpenFlow13,OpenFlow14", f"fail_mode={fail_mode}"]
        ops += [f"other_config:datapath-id={switch.datapath_id}"]
        ops += ["other_config:disable-in-band=true"]
        if controller is not None:
            ops += ["--", f"--id=@c{number}", "create", "controller", f'target="{controller}"']
            ops += ["connection_mode=out-of-band", f"max_backoff={MAX_BACKOFF_MS}"]
            ops += [f"inactivity_probe={INACTIVITY_PROBE_MS}"]
            ops += ["--", "set", "bridge", b, f"controller=@c{number}"]
    for link in plan.links:
        for end in link.ends:
            if end.bridge is not None:
                ops += ["--", "add-port", end.bridge, end.ifname]
                ops += ["--", "set", "interface", end.ifname, f"ofport_request={end.ofport}"]
    return ops


def running_pid(paths: OvsPaths, daemon: str) -> int | None:
    """The pid of `daemon` when it runs for this lab (its pid file names a live process
    whose command line mentions the lab directory), else None."""
    try:
        pid = int(paths.pidfile(daemon).read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return None
    if state in {"Z", "X"} or str(paths.directory) not in cmdline:
        return None
    return pid


def stop(paths: OvsPaths, daemon: str) -> None:
    """Stop `daemon` of this lab if it runs: SIGTERM, then SIGKILL after a grace time."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        pid = running_pid(paths, daemon)
        if pid is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
        deadline = time.monotonic() + STOP_WAIT_S
        while time.monotonic() < deadline:
            if running_pid(paths, daemon) is None:
                return
            time.sleep(0.02)


def _daemon_options(paths: OvsPaths, daemon: str) -> list[str]:
    return [
        f"--unixctl={paths.control(daemon)}",
        f"--pidfile={paths.pidfile(daemon)}",
        f"--log-file={paths.log(daemon)}",
        "-vconsole:off",
        "--detach",
        "--no-chdir",
    ]
