"""Errors of the lab; each says what is wrong and, where it can, what to do.

LabError
├── PrerequisiteError   not root, or a program is missing (names its apt package)
├── DescriptorError     the descriptor cannot be built (names the field and the reason)
├── LabStateError       the lab is up with another descriptor, or its state is unreadable
└── CommandError        a system command failed (the command and its message)
"""

from __future__ import annotations

from collections.abc import Sequence


class LabError(Exception):
    """Base of every error of the lab."""


class PrerequisiteError(LabError):
    """The machine cannot run a lab: not root, or a program is missing."""


class DescriptorError(LabError):
    """The descriptor describes a network the lab cannot build."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")


class LabStateError(LabError):
    """The lab's state file conflicts with the request or cannot be read."""


class CommandError(LabError):
    """A system command exited with an error."""

    def __init__(self, argv: Sequence[str], returncode: int, message: str) -> None:
        self.argv = list(argv)
        self.returncode = returncode
        self.message = message
        super().__init__(f"`{' '.join(argv)}` failed ({returncode}): {message}")
