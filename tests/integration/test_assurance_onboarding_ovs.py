"""Zero-touch onboarding templates on real Open vSwitch: switches the inventory does not
know are created when they connect, and every switch gets the role and initial flows of
the template matching it, with no API call."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from netweave.controller.runtime import Controller, ControllerSettings
from netweave.controller.templates import OnboardingTemplate
from netweave.inventory import load_descriptor
from netweave.lab import Lab
from netweave.model import RuleStatus
from netweave.store import Store
from netweave.testing import eventually, lab_under

EXAMPLES = Path(__file__).parents[2] / "examples"
LabFactory = Callable[..., Lab]
TEMPLATES = (
    OnboardingTemplate(
        name="odd",
        datapath_id="re:0+[135]",
        role="core",
        flows=[{"priority": 1, "match": {"eth_type": 0x86DD}, "actions": []}],
    ),
    OnboardingTemplate(name="even", datapath_id="*", role="edge"),
)


async def test_unknown_switches_are_onboarded_with_their_template(
    lab_factory: LabFactory, tmp_path: Path
) -> None:
    path = EXAMPLES / "ring.yaml"
    descriptor = load_descriptor(path.read_text(), str(path))[0]
    store = Store.open(f"sqlite:///{tmp_path}/nw.db")  # empty: nothing is known
    settings = ControllerSettings(openflow_port=0, services=False, templates=TEMPLATES)
    controller = Controller(store, settings)
    try:
        async with lab_under(controller, descriptor, lab_factory) as lab:

            def roles() -> dict[str, str]:
                with store.read() as repo:
                    return {d.name: d.attributes.get("role", "") for d in repo.devices.list()}

            def template_rules_applied() -> bool:
                with store.read() as repo:
                    rules = repo.rules.list(owner="template/odd")
                return len(rules) == 3 and all(r.status is RuleStatus.APPLIED for r in rules)

            await eventually(lambda: len(roles()) == 5, within=20)
            assert roles() == {
                "of:0000000000000001": "core",
                "of:0000000000000002": "edge",
                "of:0000000000000003": "core",
                "of:0000000000000004": "edge",
                "of:0000000000000005": "core",
            }
            await eventually(template_rules_applied, within=20)
            for switch, flows in (("s1", 1), ("s2", 0), ("s5", 1)):
                dump = lab.ofctl(switch, "dump-flows")
                assert dump.count("priority=1,ipv6 actions=drop") == flows, dump
    finally:
        store.close()
