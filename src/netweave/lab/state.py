"""The lab's state file: what a lab created, written down before it is created.

`down` works from this file alone (no descriptor, daemons possibly dead), so every
namespace, root-namespace interface and daemon is recorded just before the command
that makes it runs; deleting something that was never made is harmless.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from netweave.lab.errors import LabStateError

STATE_FILE: Final = "state.json"
Datapath = Literal["dummy", "netdev"]
FailMode = Literal["secure", "standalone"]


class LabState(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    prefix: str
    digest: str = Field(description="of the descriptor and the options it was built with")
    datapath: Datapath
    controller: str | None
    fail_mode: FailMode
    hosts: dict[str, str] = Field(default_factory=dict, description="host -> namespace")
    switches: dict[str, str] = Field(default_factory=dict, description="switch -> bridge")
    daemons: list[str] = Field(default_factory=list, description="started, by program name")
    netns: list[str] = Field(default_factory=list)
    links: list[str] = Field(
        default_factory=list, description="root-namespace interfaces (one end per veth pair)"
    )
    complete: bool = False


class StateFile:
    """The state file of the lab in `directory`; each change is written at once."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / STATE_FILE

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> LabState:
        try:
            return LabState.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            raise LabStateError(f"no lab in {self.directory} ({STATE_FILE} is missing)") from None
        except ValidationError as exc:
            raise LabStateError(f"{self.path} is not a lab state file: {exc}") from None

    def save(self, state: LabState) -> None:
        """Replace the file atomically, so a crash leaves the old or the new state."""
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".tmp")
        with temporary.open("w") as out:
            json.dump(state.model_dump(mode="json"), out, indent=1)
            out.flush()
            os.fsync(out.fileno())
        temporary.replace(self.path)

    def record(
        self,
        state: LabState,
        *,
        netns: list[str] | None = None,
        links: list[str] | None = None,
        daemon: str | None = None,
    ) -> None:
        """Add what is about to be created to `state` and save it."""
        state.netns += [n for n in netns or [] if n not in state.netns]
        state.links += [n for n in links or [] if n not in state.links]
        if daemon is not None and daemon not in state.daemons:
            state.daemons.append(daemon)
        self.save(state)
