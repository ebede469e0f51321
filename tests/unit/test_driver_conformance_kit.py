"""The conformance kit catches broken drivers and skips checks whose hook is missing."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pytest

INI = "[pytest]\nasyncio_mode = auto\nasyncio_default_fixture_loop_scope = function\n"

HARNESS = """
import pytest

from netweave.drivers import Capabilities
from netweave.drivers.conformance import DriverConformance
from netweave.drivers.emulated import EmulatedDriver, EmulatedNetwork
from netweave.model import ConfigRule, Device, OperStatus


def rule(key):
    return ConfigRule(id=key, owner="kit", device_id="d1", key=key, value={"k": key})


class Harness(DriverConformance):
    driver_class = EmulatedDriver
    event_timeout_s = 0.05
    quiet_period_s = 0.0

    @pytest.fixture
    def network(self):
        network = EmulatedNetwork()
        network.add_device("s1", ["eth1"])
        return network

    @pytest.fixture
    async def conformance_driver(self, network):
        driver = self.driver_class(network, Device(id="d1", name="s1"))
        yield driver
        assert not driver.connected, "the kit disconnects the driver after each check"

    @pytest.fixture
    def sample_rules(self):
        return [rule("/a"), rule("/b")]

    @pytest.fixture
    def rejected_rule(self, network):
        network.fail_rules("/bad", "no")
        return rule("/bad")

    @pytest.fixture
    def toggle_port(self, network):
        async def toggle(port, status):
            network.set_port_status("s1", port, status)

        return toggle
"""


BROKEN = {
    "NotAtomic": (
        "async def apply(self, rules):\n"
        "        self._network.write_rules(self.device.name, {r.key: r.value for r in rules})\n"
        "        return await super().apply(rules)",
        {"test_a_rejected_rule_fails_with_the_device_reason"},
    ),
    "ResultsReversed": (
        "async def delete(self, rules):\n        return (await super().delete(rules))[::-1]",
        {
            "test_results_are_one_per_rule_in_order",
            "test_deleted_rules_are_gone",
            "test_deleting_absent_rules_succeeds",
        },
    ),
    "UnsubscribeIgnored": (
        "def subscribe(self, handler):\n"
        "        super().subscribe(handler)\n"
        "        return lambda: None",
        {"test_unsubscribed_handlers_hear_nothing"},
    ),
    "NoEvents": (
        "def _on_change(self, change):\n        pass",
        {
            "test_port_status_changes_are_reported",
            "test_unsubscribed_handlers_hear_nothing",
            "test_a_failing_handler_does_not_stop_the_others",
        },
    ),
    "ValuesLost": (
        "async def get_state(self):\n"
        "        state = await super().get_state()\n"
        "        return state.model_copy(update={'rules': {k: {} for k in state.rules}})",
        {
            "test_applied_rules_show_in_state_with_their_values",
            "test_reapplying_rules_is_idempotent",
            "test_apply_and_delete_leave_other_rules_alone",
        },
    ),
    "PacketIoUndeclared": (
        "capabilities = Capabilities(atomic_batches=True)",
        {"test_is_a_driver_with_capabilities"},
    ),
}

HARNESSES = (
    "".join(
        f"\nclass {name}(EmulatedDriver):\n    {breakage}\n"
        f"\nclass Test{name}(Harness):\n    driver_class = {name}\n"
        for name, (breakage, _) in BROKEN.items()
    )
    + """
class TestGood(Harness):
    pass


class TestBare(Harness):
    @pytest.fixture
    def rejected_rule(self):
        return None

    @pytest.fixture
    def toggle_port(self):
        return None


class TestOneRule(Harness):
    @pytest.fixture
    def sample_rules(self):
        return [rule("/a")]


class TestNothing(DriverConformance):
    pass
"""
)

CHECKS = 14
SEVERITY = ["passed", "skipped", "failed"]


@dataclass
class Outcome:
    result: str = "passed"
    messages: list[str] = field(default_factory=list)


class _Collector:
    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, Outcome]] = defaultdict(lambda: defaultdict(Outcome))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        _, harness, check = report.nodeid.split("::")
        outcome = self.outcomes[harness][check]
        outcome.result = max(outcome.result, report.outcome, key=SEVERITY.index)
        if report.longrepr:
            outcome.messages.append(report.longreprtext)


@pytest.fixture(scope="module")
def kit(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Outcome]]:
    """Every harness above run once through the kit: harness -> check -> outcome."""
    folder = tmp_path_factory.mktemp("kit")
    (folder / "pytest.ini").write_text(INI)
    (folder / "test_kit.py").write_text(HARNESS + HARNESSES)
    collector = _Collector()
    args = [str(folder), "-c", str(folder / "pytest.ini"), "-p", "no:cacheprovider", "-qq"]
    pytest.main([*args, "--import-mode=importlib"], plugins=[collector])
    return collector.outcomes


def _with(outcomes: dict[str, Outcome], result: str) -> set[str]:
    return {check for check, outcome in outcomes.items() if outcome.result == result}


def test_a_correct_driver_passes_every_check(kit: dict[str, dict[str, Outcome]]) -> None:
    assert len(kit["TestGood"]) == CHECKS
    assert _with(kit["TestGood"], "passed") == set(kit["TestGood"])


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_driver_fails_the_matching_checks(
    kit: dict[str, dict[str, Outcome]], name: str
) -> None:
    assert _with(kit[f"Test{name}"], "failed") == BROKEN[name][1]


def test_checks_without_their_hook_are_skipped(kit: dict[str, dict[str, Outcome]]) -> None:
    assert _with(kit["TestBare"], "skipped") == {
        "test_a_rejected_rule_fails_with_the_device_reason",
        "test_port_status_changes_are_reported",
        "test_unsubscribed_handlers_hear_nothing",
        "test_a_failing_handler_does_not_stop_the_others",
    }
    assert _with(kit["TestBare"], "failed") == set()


def test_a_harness_without_a_driver_fails_saying_so(kit: dict[str, dict[str, Outcome]]) -> None:
    outcomes = kit["TestNothing"]
    assert len(outcomes) == CHECKS
    assert _with(outcomes, "failed") == set(outcomes)
    message = "TestNothing must override the `conformance_driver` fixture"
    assert all(message in "".join(o.messages) for o in outcomes.values())


def test_too_few_sample_rules_fail_saying_so(kit: dict[str, dict[str, Outcome]]) -> None:
    failed = {
        check: outcome
        for check, outcome in kit["TestOneRule"].items()
        if outcome.result == "failed"
    }
    assert len(failed) == 8
    message = "`sample_rules` must hold at least two rules with distinct keys"
    assert all(message in "".join(o.messages) for o in failed.values())
