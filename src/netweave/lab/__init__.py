"""The lab: a topology descriptor built on real Open vSwitch and Linux namespaces.

Switches become bridges of a private, userspace Open vSwitch; hosts become network
namespaces; links become veth pairs (rate-limited with ``tc`` when asked). Everything
is recorded in ``<run dir>/lab/<name>/state.json`` as it is made, so `teardown` (and
``netweave lab down``) removes it all, even after a crash.
"""

from netweave.lab.build import STEPS
from netweave.lab.cleanup import teardown
from netweave.lab.errors import (
    CommandError,
    DescriptorError,
    LabError,
    LabStateError,
    PrerequisiteError,
)
from netweave.lab.health import LabStatus, find_labs, inspect
from netweave.lab.lab import DEFAULT_CONTROLLER, Lab, LabOptions, UpResult
from netweave.lab.naming import default_base_dir, lab_dir
from netweave.lab.plan import LabPlan, plan_lab
from netweave.lab.prereq import check_prerequisites
from netweave.lab.state import LabState, StateFile

__all__ = [
    "DEFAULT_CONTROLLER",
    "STEPS",
    "CommandError",
    "DescriptorError",
    "Lab",
    "LabError",
    "LabOptions",
    "LabPlan",
    "LabState",
    "LabStateError",
    "LabStatus",
    "PrerequisiteError",
    "StateFile",
    "UpResult",
    "check_prerequisites",
    "default_base_dir",
    "find_labs",
    "inspect",
    "lab_dir",
    "plan_lab",
    "teardown",
]
