"""The emulated driver passes the driver conformance kit."""

from __future__ import annotations

import pytest

from netweave.drivers.conformance import DriverConformance, TogglePort
from netweave.drivers.emulated import EmulatedDriver, EmulatedNetwork, EmulatedPlugin
from netweave.model import ConfigRule, Device, OperStatus
from netweave.model.ids import device_id, rule_id


@pytest.fixture
def network() -> EmulatedNetwork:
    network = EmulatedNetwork()
    network.add_device("s1", ["eth1", "eth2"])
    network.add_device("s2", ["eth1"])
    network.add_link(("s1", "eth1"), ("s2", "eth1"))
    return network


def _rule(key: str, value: dict[str, object]) -> ConfigRule:
    return ConfigRule(
        id=rule_id("conformance", "s1", key),
        owner="conformance",
        device_id=device_id("s1"),
        key=key,
        value=value,
    )


class TestEmulatedConformance(DriverConformance):
    @pytest.fixture
    def conformance_driver(self, network: EmulatedNetwork) -> EmulatedDriver:
        return EmulatedPlugin(network).create(Device(id=device_id("s1"), name="s1"))

    @pytest.fixture
    def sample_rules(self) -> list[ConfigRule]:
        return [
            _rule("/flow/table=0/priority=10/in_port=1", {"actions": ["output:2"]}),
            _rule("/flow/table=0/priority=10/in_port=2", {"actions": ["output:1"]}),
            _rule("/meter/id=1", {"rate_kbps": 1000, "burst": None}),
        ]

    @pytest.fixture
    def rejected_rule(self, network: EmulatedNetwork) -> ConfigRule:
        network.fail_rules("/group/", "group table full")
        return _rule("/group/id=7", {"type": "ff"})

    @pytest.fixture
    def toggle_port(self, network: EmulatedNetwork) -> TogglePort:
        async def toggle(port: str, status: OperStatus) -> None:
            network.set_port_status("s1", port, status)

        return toggle
