"""Zero-touch onboarding of OpenFlow switches: a switch that connects and is not in the
inventory is created there (named like ONOS does, ``of:<datapath id>``), after which the
device manager opens its session, writes its ports and discovery finds its links. Every
switch that connects, new or known, gets the first `OnboardingTemplate` matching it
(role, attributes, initial flows)."""

from __future__ import annotations

import logging

from netweave.controller.templates import OnboardingTemplate, apply_template, template_for
from netweave.drivers.openflow import DatapathInfo, OpenFlowPlugin, normalise_datapath_id
from netweave.model import Device, DeviceType
from netweave.model.ids import device_id
from netweave.store import ConflictError, Repository, Store

log = logging.getLogger(__name__)


class Onboarding:
    """Creates a device for every connecting datapath the inventory does not know."""

    def __init__(
        self,
        store: Store,
        plugin: OpenFlowPlugin,
        templates: tuple[OnboardingTemplate, ...] = (),
    ) -> None:
        self._store = store
        self._plugin = plugin
        self._templates = templates

    def start(self) -> None:
        self._plugin.on_datapath(self._on_datapath)

    def _on_datapath(self, info: DatapathInfo) -> None:
        self.datapath_connected(info)

    def datapath_connected(self, info: DatapathInfo) -> Device | None:
        """The device created for `info`, or None if the switch is already known."""
        dpid = normalise_datapath_id(info.datapath_id)
        with self._store.transaction() as repo:
            for device in repo.devices.list():
                known = device.attributes.get("datapath_id")
                if known is not None and normalise_datapath_id(known) == dpid:
                    self._configure(repo, device)
                    return None
            name = f"of:{dpid}"
            device = Device(
                id=device_id(name),
                name=name,
                type=DeviceType.SWITCH,
                drivers=[self._plugin.name],
                address=info.peer,
                attributes={"datapath_id": dpid, "onboarded": "auto"},
            )
            try:
                repo.devices.add(device)
            except ConflictError:
                return None
            self._configure(repo, device)
        log.info("onboarded switch %s from %s", name, info.peer)
        return device

    def _configure(self, repo: Repository, device: Device) -> None:
        template = template_for(self._templates, device)
        if template is not None:
            written = apply_template(repo, template, device)
            log.info("template %s on %s: %d rules written", template.name, device.name, written)
