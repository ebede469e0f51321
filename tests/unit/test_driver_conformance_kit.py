"""The conformance kit catches broken drivers and skips checks whose hook is missing."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

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


def _outcomes(pytester: pytest.Pytester, body: str) -> dict[str, str]:
    """Run the kit on the harness + `body`; test name -> outcome."""
    pytester.makeini(INI)
    pytester.makepyfile(test_kit=HARNESS + body)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-rA")
    severity = ["passed", "skipped", "failed"]
    outcomes: dict[str, str] = {}
    for report in result.reprec.getreports("pytest_runtest_logreport"):  # type: ignore[attr-defined]
        name = report.nodeid.rsplit("::", 1)[-1]
        worst = max(outcomes.get(name, "passed"), report.outcome, key=severity.index)
        outcomes[name] = worst
    return outcomes


def test_a_correct_driver_passes_every_check(pytester: pytest.Pytester) -> None:
    outcomes = _outcomes(pytester, "\nclass TestGood(Harness):\n    pass\n")
    assert len(outcomes) == 14
    assert set(outcomes.values()) == {"passed"}


@pytest.mark.parametrize(
    ("breakage", "failing"),
    [
        (
            "async def apply(self, rules):\n"
            "        self._network.write_rules(self.device.name, {r.key: r.value for r in rules})\n"
            "        return await super().apply(rules)",
            {"test_a_rejected_rule_fails_with_the_device_reason"},
        ),
        (
            "async def delete(self, rules):\n        return (await super().delete(rules))[::-1]",
            {
                "test_results_are_one_per_rule_in_order",
                "test_deleted_rules_are_gone",
                "test_deleting_absent_rules_succeeds",
            },
        ),
        (
            "def subscribe(self, handler):\n"
            "        super().subscribe(handler)\n"
            "        return lambda: None",
            {"test_unsubscribed_handlers_hear_nothing"},
        ),
        (
            "def _on_change(self, change):\n        pass",
            {
                "test_port_status_changes_are_reported",
                "test_unsubscribed_handlers_hear_nothing",
                "test_a_failing_handler_does_not_stop_the_others",
            },
        ),
        (
            "async def get_state(self):\n"
            "        state = await super().get_state()\n"
            "        return state.model_copy(update={'rules': {k: {} for k in state.rules}})",
            {
                "test_applied_rules_show_in_state_with_their_values",
                "test_reapplying_rules_is_idempotent",
                "test_apply_and_delete_leave_other_rules_alone",
            },
        ),
        (
            "capabilities = Capabilities(atomic_batches=True)",
            {"test_is_a_driver_with_capabilities"},
        ),
    ],
    ids=[
        "not-atomic",
        "results-reversed",
        "unsubscribe-ignored",
        "no-events",
        "values-lost",
        "packet-io-undeclared",
    ],
)
def test_a_broken_driver_fails_the_matching_checks(
    pytester: pytest.Pytester, breakage: str, failing: set[str]
) -> None:
    body = (
        "\nclass Broken(EmulatedDriver):\n"
        f"    {breakage}\n"
        "\nclass TestBroken(Harness):\n"
        "    driver_class = Broken\n"
    )
    outcomes = _outcomes(pytester, body)
    assert {name for name, outcome in outcomes.items() if outcome == "failed"} == failing


def test_checks_without_their_hook_are_skipped(pytester: pytest.Pytester) -> None:
    body = (
        "\nclass TestBare(Harness):\n"
        "    @pytest.fixture\n"
        "    def rejected_rule(self):\n"
        "        return None\n"
        "\n"
        "    @pytest.fixture\n"
        "    def toggle_port(self):\n"
        "        return None\n"
    )
    outcomes = _outcomes(pytester, body)
    skipped = {name for name, outcome in outcomes.items() if outcome == "skipped"}
    assert skipped == {
        "test_a_rejected_rule_fails_with_the_device_reason",
        "test_port_status_changes_are_reported",
        "test_unsubscribed_handlers_hear_nothing",
        "test_a_failing_handler_does_not_stop_the_others",
    }
    assert "failed" not in outcomes.values()


def test_a_harness_without_a_driver_fails_saying_so(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makepyfile(
        test_kit="from netweave.drivers.conformance import DriverConformance\n"
        "class TestNothing(DriverConformance):\n    pass\n"
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(errors=14)
    result.stdout.fnmatch_lines(["*TestNothing must override the `conformance_driver` fixture*"])


def test_too_few_sample_rules_fail_saying_so(pytester: pytest.Pytester) -> None:
    body = (
        "\nclass TestOneRule(Harness):\n"
        "    @pytest.fixture\n"
        "    def sample_rules(self):\n"
        "        return [rule('/a')]\n"
    )
    pytester.makeini(INI)
    pytester.makepyfile(test_kit=HARNESS + body)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q")
    result.assert_outcomes(passed=6, errors=8)
    result.stdout.fnmatch_lines(["*`sample_rules` must hold at least two rules*"])
