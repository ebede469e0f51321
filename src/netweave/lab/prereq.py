"""What a lab needs from the machine, checked up front with a clear remedy."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Final

from netweave.lab.errors import PrerequisiteError

OVS_SCHEMA: Final = Path("/usr/share/openvswitch/vswitch.ovsschema")
PROGRAMS: Final = {
    "ip": "iproute2",
    "tc": "iproute2",
    "ethtool": "ethtool",
    "ovsdb-tool": "openvswitch-switch",
    "ovsdb-server": "openvswitch-switch",
    "ovs-vswitchd": "openvswitch-switch",
    "ovs-vsctl": "openvswitch-switch",
}


def missing_packages() -> list[str]:
    """The apt packages whose programs (or the OVS schema) are not found, sorted."""
    missing = {package for program, package in PROGRAMS.items() if shutil.which(program) is None}
    if not OVS_SCHEMA.exists():
        missing.add("openvswitch-switch")
    return sorted(missing)


def check_prerequisites() -> None:
    """Raise `PrerequisiteError` unless running as root with every program installed."""
    if os.geteuid() != 0:
        raise PrerequisiteError(
            "the lab creates namespaces, veths and switches: run it as root (e.g. with sudo)"
        )
    if missing := missing_packages():
        raise PrerequisiteError(
            f"missing programs: install them with `apt-get install {' '.join(missing)}`"
        )
