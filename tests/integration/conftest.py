"""Fixtures for tests on real Open vSwitch and network namespaces.

- Every test in this directory is marked ``integration`` and is skipped (with the
  reason) when not run as root or when a program the lab needs is missing.
- `lab_factory` builds a lab from a descriptor, an example name (``"linear.yaml"``) or
  a path, in a private run dir, and takes it down after the test, even on failure.
- After the session nothing the labs made may remain: no namespace or interface with a
  lab's prefix, no daemon of a lab's directory, no lab directory (asserted).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from netweave.inventory import load_descriptor
from netweave.lab import Lab, LabOptions
from netweave.lab.prereq import missing_packages
from netweave.model import TopologyDescriptor

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples"
SETTLE_S = 3.0  # a deleted namespace's veths go asynchronously

LabSource = TopologyDescriptor | str | Path
LabFactory = Callable[..., Lab]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = _why_not_runnable()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _why_not_runnable() -> str | None:
    if os.geteuid() != 0:
        return "needs root (namespaces, veths, Open vSwitch)"
    if missing := missing_packages():
        return f"needs the apt packages {', '.join(missing)}"
    return None


def load_source(source: LabSource) -> TopologyDescriptor:
    """A descriptor given as an object, an example's file name, or a path."""
    if isinstance(source, TopologyDescriptor):
        return source
    path = Path(source)
    if not path.exists() and (EXAMPLES / path).exists():
        path = EXAMPLES / path
    descriptor, _ = load_descriptor(path.read_text(), str(path))
    return descriptor


class _Made:
    """What the session's labs were: their name prefixes and directories."""

    def __init__(self) -> None:
        self.prefixes: set[str] = set()
        self.directories: set[Path] = set()

    def leftovers(self) -> list[str]:
        namespaces, interfaces = _names("/run/netns"), _names("/sys/class/net")
        found = [
            f"{kind} {name}"
            for kind, names in (("namespace", namespaces), ("interface", interfaces))
            for name in sorted(names)
            if any(name.startswith(prefix) for prefix in self.prefixes)
        ]
        found += [f"directory {d}" for d in sorted(self.directories) if d.exists()]
        for pid in filter(str.isdigit, _names("/proc")):
            try:
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            text = cmdline.decode(errors="replace")
            if any(str(d) in text for d in self.directories):
                found.append(f"process {pid}: {text.strip()}")
        return found


def _names(directory: str) -> set[str]:
    path = Path(directory)
    return {p.name for p in path.iterdir()} if path.exists() else set()


@pytest.fixture(scope="session")
def _made() -> _Made:
    return _Made()


@pytest.fixture(scope="session")
def lab_run_dir() -> Iterator[Path]:
    """A short-pathed scratch run dir for the session's labs (unix sockets live there)."""
    directory = Path(tempfile.mkdtemp(prefix="nl-"))
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session", autouse=True)
def _nothing_left_behind(_made: _Made, lab_run_dir: Path) -> Iterator[None]:
    yield
    deadline = time.monotonic() + SETTLE_S
    while (left := _made.leftovers()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not left, f"the integration tests left behind: {left}"


@pytest.fixture
def lab_factory(_made: _Made, lab_run_dir: Path) -> Iterator[LabFactory]:
    """``lab_factory(source, options=None, *, up=True) -> Lab``: a lab of `source` (see
    `load_source`) in its own run dir, built unless ``up=False``; down after the test."""
    labs: list[Lab] = []

    def make(source: LabSource, options: LabOptions | None = None, *, up: bool = True) -> Lab:
        base = Path(tempfile.mkdtemp(prefix="t", dir=lab_run_dir))
        lab = Lab(load_source(source), options, base)
        _made.prefixes.add(lab.plan.prefix)
        _made.directories.add(lab.directory)
        labs.append(lab)
        if up:
            lab.up()
        return lab

    yield make
    errors = []
    for lab in labs:
        try:
            lab.down()
        except Exception as exc:
            errors.append(f"{lab.name}: {exc}")
    assert not errors, f"taking the labs down failed: {errors}"
