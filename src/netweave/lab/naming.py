"""Names of what a lab creates: short, unique per lab, valid Linux interface names.

A lab is identified by its directory; every namespace, veth and bridge it makes starts
with a prefix derived from that directory's path, so two labs of the same topology in
two directories (or two test runs) never collide.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Final

IFNAME_MAX: Final = 15
PREFIX: Final = "nl"
MAX_ITEMS: Final = 99_999
"""Most switches and most links per lab: their names then still fit in 15 characters."""
_IFNAME = re.compile(rf"^[^/:\s]{{1,{IFNAME_MAX}}}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def default_base_dir() -> Path:
    """Where labs live: ``$NETWEAVE_RUN_DIR`` or ``./run``."""
    return Path(os.environ.get("NETWEAVE_RUN_DIR") or "run")


def lab_dir(base_dir: Path, topology_name: str) -> Path:
    """The run directory of the lab of `topology_name` under `base_dir`."""
    return base_dir / "lab" / safe_name(topology_name)


def lab_prefix(directory: Path) -> str:
    """``nl`` and 6 hex digits of the lab directory's absolute path."""
    digest = hashlib.sha256(str(directory.resolve()).encode()).hexdigest()
    return f"{PREFIX}{digest[:6]}"


def safe_name(name: str) -> str:
    """`name` with every character outside ``[A-Za-z0-9_.-]`` turned into ``_``."""
    return _UNSAFE.sub("_", name)


def netns_name(prefix: str, host: str) -> str:
    return f"{prefix}-{safe_name(host)}"


def bridge_name(prefix: str, index: int) -> str:
    """The bridge of the `index`-th switch (also its tap on a netdev datapath)."""
    return f"{prefix}s{index}"


def veth_name(prefix: str, link_index: int, side: str) -> str:
    """The root-namespace end `side` (``a`` or ``b``) of the `link_index`-th link."""
    return f"{prefix}l{link_index}{side}"


def is_ifname(name: str) -> bool:
    """True when Linux accepts `name` for an interface (at most 15 characters, no / : or
    white space, not ``.`` or ``..``)."""
    return bool(_IFNAME.match(name)) and name not in {".", ".."}
