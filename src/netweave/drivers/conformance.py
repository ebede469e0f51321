"""The driver conformance kit: the checks every driver must pass, as a pytest base class.

A driver's test suite subclasses `DriverConformance` and overrides its hook fixtures::

    class TestMyDriverConformance(DriverConformance):
        @pytest.fixture
        async def conformance_driver(self, my_device):    # required
            yield MyPlugin().create(my_device)            # unconnected; tear down after

        @pytest.fixture
        def sample_rules(self, conformance_driver): ...   # required
        @pytest.fixture
        def rejected_rule(self, conformance_driver): ...  # optional
        @pytest.fixture
        def toggle_port(self, ...): ...                   # optional

Hooks:

- ``conformance_driver``: a new, unconnected driver for a device that is up, has at least
  one port up, and holds none of the sample rules.
- ``sample_rules``: at least two rules for that device, with distinct keys, which it
  accepts.
- ``rejected_rule`` (optional): a rule for that device which the device refuses.
- ``toggle_port`` (optional): an async function ``(port_name, status)`` that changes the
  status of a port on the device itself (not through the driver).

Checks whose hook returns None are skipped, naming the hook. Events are awaited up to
`DriverConformance.event_timeout_s`; the absence of an event is judged after
`DriverConformance.quiet_period_s`. Needs pytest and pytest-asyncio (``asyncio_mode=auto``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import ClassVar, NoReturn

import pytest

from netweave.drivers.contract import (
    Capabilities,
    DeviceState,
    Driver,
    DriverEvent,
    PacketIO,
    PortStatusChanged,
    RuleResult,
)
from netweave.model import ConfigRule, OperStatus

TogglePort = Callable[[str, OperStatus], Awaitable[None]]
"""The ``toggle_port`` hook: set the status of the named port on the device itself."""


class DriverConformance:
    """The driver contract, checked. Subclass it as ``Test<Driver>Conformance``."""

    event_timeout_s: ClassVar[float] = 5.0
    quiet_period_s: ClassVar[float] = 0.3

    # -- hooks -----------------------------------------------------------------------------

    @pytest.fixture
    def conformance_driver(self) -> NoReturn:
        pytest.fail(f"{type(self).__name__} must override the `conformance_driver` fixture")

    @pytest.fixture
    def sample_rules(self) -> NoReturn:
        pytest.fail(f"{type(self).__name__} must override the `sample_rules` fixture")

    @pytest.fixture
    def rejected_rule(self) -> ConfigRule | None:
        return None

    @pytest.fixture
    def toggle_port(self) -> TogglePort | None:
        return None

    # -- fixtures the checks use -------------------------------------------------------------

    @pytest.fixture
    async def driver(self, conformance_driver: Driver) -> AsyncIterator[Driver]:
        """The harness's driver, disconnected after the check whatever happened."""
        try:
            yield conformance_driver
        finally:
            await conformance_driver.disconnect()

    @pytest.fixture
    def rules(self, driver: Driver, sample_rules: Sequence[ConfigRule]) -> list[ConfigRule]:
        """The harness's sample rules, once checked to be usable."""
        keys = {rule.key for rule in sample_rules}
        if len(sample_rules) < 2 or len(keys) != len(sample_rules):
            pytest.fail("`sample_rules` must hold at least two rules with distinct keys")
        strangers = [rule.id for rule in sample_rules if rule.device_id != driver.device.id]
        if strangers:
            pytest.fail(f"`sample_rules` {strangers} are not for device {driver.device.id}")
        return list(sample_rules)

    # -- checks: sessions and state ----------------------------------------------------------

    def test_is_a_driver_with_capabilities(self, driver: Driver) -> None:
        assert isinstance(driver, Driver)
        assert isinstance(driver.capabilities, Capabilities)
        sends = isinstance(driver, PacketIO)
        assert driver.capabilities.packet_io == sends, "capabilities.packet_io vs send_packet"

    async def test_capabilities_do_not_change_on_connect(self, driver: Driver) -> None:
        declared = driver.capabilities
        await driver.connect()
        assert driver.capabilities == declared

    async def test_connect_and_disconnect_are_idempotent(self, driver: Driver) -> None:
        await driver.connect()
        await driver.connect()
        assert (await driver.get_state()).status == OperStatus.UP
        await driver.disconnect()
        await driver.disconnect()
        await driver.connect()
        assert (await driver.get_state()).status == OperStatus.UP

    async def test_state_lists_ports(self, driver: Driver) -> None:
        await driver.connect()
        state = await driver.get_state()
        names = [port.name for port in state.ports]
        assert names, "the device reports no port"
        assert len(set(names)) == len(names), f"duplicate port names in {names}"
        assert any(port.status == OperStatus.UP for port in state.ports), state.ports

    # -- checks: rules -----------------------------------------------------------------------

    async def test_applied_rules_show_in_state_with_their_values(
        self, driver: Driver, rules: list[ConfigRule]
    ) -> None:
        await driver.connect()
        _assert_all_ok(await driver.apply(rules), rules)
        _assert_held(await driver.get_state(), rules)

    async def test_reapplying_rules_is_idempotent(
        self, driver: Driver, rules: list[ConfigRule]
    ) -> None:
        await driver.connect()
        _assert_all_ok(await driver.apply(rules), rules)
        first = await driver.get_state()
        _assert_all_ok(await driver.apply(rules), rules)
        again = await driver.get_state()
        _assert_held(again, rules)
        assert again.rules == first.rules

    async def test_apply_and_delete_leave_other_rules_alone(
        self, driver: Driver, rules: list[ConfigRule]
    ) -> None:
        first, rest = rules[:1], rules[1:]
        await driver.connect()
        _assert_all_ok(await driver.apply(first), first)
        _assert_all_ok(await driver.apply(rest), rest)
        _assert_held(await driver.get_state(), rules)
        _assert_all_ok(await driver.delete(first), first)
        state = await driver.get_state()
        _assert_held(state, rest)
        _assert_absent(state, first)

    async def test_deleted_rules_are_gone(self, driver: Driver, rules: list[ConfigRule]) -> None:
        await driver.connect()
        _assert_all_ok(await driver.apply(rules), rules)
        _assert_all_ok(await driver.delete(rules), rules)
        _assert_absent(await driver.get_state(), rules)

    async def test_deleting_absent_rules_succeeds(
        self, driver: Driver, rules: list[ConfigRule]
    ) -> None:
        await driver.connect()
        _assert_all_ok(await driver.delete(rules), rules)
        _assert_absent(await driver.get_state(), rules)

    async def test_results_are_one_per_rule_in_order(
        self, driver: Driver, rules: list[ConfigRule]
    ) -> None:
        backwards = rules[::-1]
        await driver.connect()
        assert [r.rule_id for r in await driver.apply(backwards)] == [r.id for r in backwards]
        assert [r.rule_id for r in await driver.delete(backwards)] == [r.id for r in backwards]

    async def test_a_rejected_rule_fails_with_the_device_reason(
        self, driver: Driver, rules: list[ConfigRule], rejected_rule: ConfigRule | None
    ) -> None:
        if rejected_rule is None:
            pytest.skip("the harness provides no `rejected_rule` fixture")
        batch = [rules[0], rejected_rule, *rules[1:]]
        await driver.connect()
        results = await driver.apply(batch)
        assert [r.rule_id for r in results] == [r.id for r in batch]
        refused = results[1]
        assert not refused.ok, "the device accepted the rule it should refuse"
        assert refused.error and refused.error.strip(), "a refused rule needs the device's reason"
        state = await driver.get_state()
        _assert_absent(state, [rejected_rule])
        if driver.capabilities.atomic_batches:
            others = [r for r in results if r.ok or not r.error]
            assert not others, f"atomic batch: other rules must fail with a reason: {others}"
            _assert_absent(state, rules)
        _assert_all_ok(await driver.apply(rules), rules)

    # -- checks: events ----------------------------------------------------------------------

    async def test_port_status_changes_are_reported(
        self, driver: Driver, toggle_port: TogglePort | None
    ) -> None:
        toggle = _required(toggle_port)
        await driver.connect()
        port = await _an_up_port(driver)
        events: list[DriverEvent] = []
        unsubscribe = driver.subscribe(events.append)
        try:
            for status in (OperStatus.DOWN, OperStatus.UP):
                await toggle(port, status)
                event = await self._port_event(events, port, status)
                assert event.device_id == driver.device.id
                reported = {p.name: p.status for p in (await driver.get_state()).ports}
                assert reported[port] == status
        finally:
            unsubscribe()
            await toggle(port, OperStatus.UP)

    async def test_unsubscribed_handlers_hear_nothing(
        self, driver: Driver, toggle_port: TogglePort | None
    ) -> None:
        toggle = _required(toggle_port)
        await driver.connect()
        port = await _an_up_port(driver)
        gone: list[DriverEvent] = []
        kept: list[DriverEvent] = []
        driver.subscribe(gone.append)()
        unsubscribe = driver.subscribe(kept.append)
        try:
            await toggle(port, OperStatus.DOWN)
            await self._port_event(kept, port, OperStatus.DOWN)
            await asyncio.sleep(self.quiet_period_s)
            assert gone == []
        finally:
            unsubscribe()
            await toggle(port, OperStatus.UP)

    async def test_a_failing_handler_does_not_stop_the_others(
        self, driver: Driver, rules: list[ConfigRule], toggle_port: TogglePort | None
    ) -> None:
        toggle = _required(toggle_port)
        await driver.connect()
        port = await _an_up_port(driver)
        kept: list[DriverEvent] = []
        unsubscribers = [driver.subscribe(_fail), driver.subscribe(kept.append)]
        try:
            await toggle(port, OperStatus.DOWN)
            await self._port_event(kept, port, OperStatus.DOWN)
            _assert_all_ok(await driver.apply(rules), rules)
        finally:
            for unsubscribe in unsubscribers:
                unsubscribe()
            await toggle(port, OperStatus.UP)

    async def _port_event(
        self, events: list[DriverEvent], port: str, status: OperStatus
    ) -> PortStatusChanged:
        """The first event saying `port` is `status`, waiting up to `event_timeout_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.event_timeout_s
        while True:
            for event in events:
                if (
                    isinstance(event, PortStatusChanged)
                    and event.port.name == port
                    and event.port.status == status
                ):
                    return event
            if loop.time() > deadline:
                pytest.fail(
                    f"no event said port {port!r} is {status} within {self.event_timeout_s}s; "
                    f"events: {events}"
                )
            await asyncio.sleep(0.01)


async def _an_up_port(driver: Driver) -> str:
    ports = (await driver.get_state()).ports
    up = [port.name for port in ports if port.status == OperStatus.UP]
    assert up, f"the device has no port up to toggle: {ports}"
    return up[0]


def _required(toggle_port: TogglePort | None) -> TogglePort:
    if toggle_port is None:
        pytest.skip("the harness provides no `toggle_port` fixture")
    return toggle_port


def _fail(event: DriverEvent) -> None:
    raise RuntimeError(f"a handler failing on purpose on {event.kind}")


def _assert_all_ok(results: list[RuleResult], rules: Sequence[ConfigRule]) -> None:
    assert [r.rule_id for r in results] == [r.id for r in rules], "one result per rule, in order"
    failed = [r for r in results if not r.ok]
    assert not failed, f"rules failed: {failed}"


def _assert_held(state: DeviceState, rules: Sequence[ConfigRule]) -> None:
    for rule in rules:
        assert rule.key in state.rules, f"rule {rule.key!r} is not on the device"
        assert state.rules[rule.key] == rule.value, f"rule {rule.key!r} holds another value"


def _assert_absent(state: DeviceState, rules: Sequence[ConfigRule]) -> None:
    left = [rule.key for rule in rules if rule.key in state.rules]
    assert not left, f"rules still on the device: {left}"
