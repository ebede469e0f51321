"""`Lab`: a topology descriptor built on real Open vSwitch bridges and network namespaces."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final

from netweave.lab import iproute, naming, ovs
from netweave.lab.build import Builder, StepCallback
from netweave.lab.cleanup import teardown
from netweave.lab.errors import LabError, LabStateError
from netweave.lab.health import LabStatus, inspect
from netweave.lab.plan import LabPlan, plan_lab
from netweave.lab.prereq import check_prerequisites
from netweave.lab.shell import run
from netweave.lab.state import Datapath, FailMode, LabState, StateFile
from netweave.model import TopologyDescriptor

DEFAULT_CONTROLLER: Final = "tcp:127.0.0.1:6653"
_CONTROLLER = re.compile(r"^(tcp|ssl):.+:\d{1,5}$|^unix:.+$")


@dataclass(frozen=True)
class LabOptions:
    """How to build: the controller target (None: none), datapath type and fail mode."""

    controller: str | None = DEFAULT_CONTROLLER
    datapath: Datapath = "dummy"
    fail_mode: FailMode = "secure"

    def __post_init__(self) -> None:
        if self.controller is not None and not _CONTROLLER.match(self.controller):
            raise LabError(
                f"controller: expected tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH, "
                f"got {self.controller!r}"
            )


@dataclass(frozen=True)
class UpResult:
    """`built` is False when the lab was already up; `repaired` lists what was wrong with
    a broken lab that was taken down and built again."""

    built: bool
    seconds: float
    repaired: list[str] = field(default_factory=list)


def _quiet(_: str) -> None:
    """A progress callback that reports nothing."""


class Lab:
    """The lab of one descriptor in ``<base_dir>/lab/<name>/`` (base: `default_base_dir`)."""

    def __init__(
        self,
        descriptor: TopologyDescriptor,
        options: LabOptions | None = None,
        base_dir: Path | None = None,
    ) -> None:
        self.descriptor = descriptor
        self.options = options or LabOptions()
        base = base_dir if base_dir is not None else naming.default_base_dir()
        self.directory = naming.lab_dir(base, descriptor.name).resolve()
        self.plan: LabPlan = plan_lab(descriptor, naming.lab_prefix(self.directory))
        self.state_file = StateFile(self.directory)
        self.paths = ovs.OvsPaths(self.directory)

    @property
    def name(self) -> str:
        return self.descriptor.name

    @property
    def digest(self) -> str:
        """Identifies what is built: the descriptor and the options."""
        data: dict[str, Any] = {
            "descriptor": self.descriptor.model_dump(mode="json"),
            "options": asdict(self.options),
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()

    def up(self, on_step: StepCallback = _quiet) -> UpResult:
        """Build the lab; a no-op when it is already up, a rebuild when it is broken.

        Raises `LabStateError` when the directory holds this lab built from another
        descriptor or with other options. On any failure, what was made is removed.
        """
        check_prerequisites()
        started = time.monotonic()
        repaired: list[str] = []
        if self.state_file.exists():
            current = self.state_file.load()
            if current.digest != self.digest:
                raise LabStateError(
                    f"lab {self.name!r} in {self.directory} is up with another descriptor "
                    "or other options: take it down first (`netweave lab down`)"
                )
            repaired = inspect(self.directory).problems
            if not repaired:
                return UpResult(built=False, seconds=time.monotonic() - started)
            teardown(self.directory)
        state = LabState(
            name=self.name,
            prefix=self.plan.prefix,
            digest=self.digest,
            datapath=self.options.datapath,
            controller=self.options.controller,
            fail_mode=self.options.fail_mode,
            hosts={h.name: h.netns for h in self.plan.hosts},
            switches={s.name: s.bridge for s in self.plan.switches},
        )
        self.state_file.save(state)
        try:
            Builder(self.plan, state, self.state_file).build(on_step)
        except BaseException as exc:
            try:
                teardown(self.directory)
            except LabError as cleanup:
                exc.add_note(f"removing the half-built lab failed too: {cleanup}")
            raise
        return UpResult(built=True, seconds=time.monotonic() - started, repaired=repaired)

    def down(self) -> bool:
        """Remove everything the lab made; False when it was not up."""
        check_prerequisites()
        return teardown(self.directory)

    def status(self) -> LabStatus:
        return inspect(self.directory)

    def netns(self, host: str) -> str:
        """The namespace of `host`."""
        for plan in self.plan.hosts:
            if plan.name == host:
                return plan.netns
        raise LabError(f"{host!r} is not a host of lab {self.name!r}: {_names(self.plan.hosts)}")

    def bridge(self, switch: str) -> str:
        """The bridge of `switch`."""
        for plan in self.plan.switches:
            if plan.name == switch:
                return plan.bridge
        raise LabError(
            f"{switch!r} is not a switch of lab {self.name!r}: {_names(self.plan.switches)}"
        )

    def exec(
        self, host: str, argv: Sequence[str], *, timeout: float | None = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run `argv` in `host`'s namespace and return its result, output captured."""
        return subprocess.run(
            iproute.netns_exec(self.netns(host), argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def vsctl(self, *args: str) -> str:
        """``ovs-vsctl`` on this lab's Open vSwitch; raises `CommandError` on failure."""
        return run(ovs.vsctl(self.paths, *args), env=self.paths.env())

    def ofctl(self, switch: str, *args: str) -> str:
        """``ovs-ofctl -O OpenFlow13 <command> <switch's bridge> <operands>``."""
        return run(ovs.ofctl(self.paths, self.bridge(switch), *args))


def _names(items: Sequence[Any]) -> str:
    return ", ".join(repr(item.name) for item in items) or "(none)"
