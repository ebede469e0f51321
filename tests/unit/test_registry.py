"""The driver plugin registry: discovery by entry point, registration, clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from netweave.drivers import DriverError
from netweave.drivers.emulated import EmulatedPlugin
from netweave.drivers.registry import (
    PluginLoadError,
    Registry,
    UnknownPluginError,
    default_registry,
)


def test_emulated_is_discovered_through_its_entry_point() -> None:
    registry = Registry()
    assert "emulated" in registry.available()
    assert registry.load("emulated") is EmulatedPlugin
    assert "emulated" in default_registry.available()


def test_an_unknown_name_lists_what_is_registered() -> None:
    registry = Registry(group=None)
    registry.register("beta", "netweave.drivers.emulated:EmulatedPlugin")
    registry.register("alpha", "somewhere:Plugin")
    with pytest.raises(UnknownPluginError) as caught:
        registry.load("gamma")
    assert str(caught.value) == "no driver plugin named 'gamma'; registered: alpha, beta"
    assert isinstance(caught.value, LookupError)
    assert isinstance(caught.value, DriverError)


def test_an_empty_registry_says_none_is_registered() -> None:
    with pytest.raises(UnknownPluginError, match=r"registered: none$"):
        Registry(group=None).load("emulated")


def test_a_class_can_be_registered_without_entry_points() -> None:
    registry = Registry(group=None)
    registry.register("emulated", EmulatedPlugin)
    assert registry.available() == ["emulated"]
    assert registry.load("emulated") is EmulatedPlugin


def test_a_taken_name_needs_replace() -> None:
    registry = Registry()
    with pytest.raises(ValueError, match="'emulated' is already registered"):
        registry.register("emulated", "elsewhere:Plugin")
    registry.register("emulated", "elsewhere:Plugin", replace=True)
    with pytest.raises(PluginLoadError, match="elsewhere"):
        registry.load("emulated")


def test_a_reference_needs_module_and_attribute() -> None:
    with pytest.raises(ValueError, match="'module:attribute'"):
        Registry(group=None).register("bad", "no_colon_here")


def test_references_are_imported_only_on_load() -> None:
    registry = Registry(group=None)
    registry.register("missing", "netweave_no_such_module:Plugin")
    assert registry.available() == ["missing"]
    with pytest.raises(PluginLoadError) as caught:
        registry.load("missing")
    message = str(caught.value)
    assert "driver plugin 'missing' (netweave_no_such_module:Plugin) failed to load" in message
    assert "ModuleNotFoundError" in message
    assert isinstance(caught.value.__cause__, ModuleNotFoundError)


def test_a_plugin_failing_on_import_names_the_plugin_and_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "netweave_broken_plugin.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(tmp_path)
    registry = Registry(group=None)
    registry.register("broken", "netweave_broken_plugin:Plugin")
    with pytest.raises(PluginLoadError, match=r"'broken' .* failed to load: RuntimeError: boom"):
        registry.load("broken")


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("netweave.drivers.registry:ENTRY_POINT_GROUP", "expected a plugin class, got str"),
        ("netweave.model:Device", "Device lacks method(s) start, stop, create"),
        ("netweave.drivers.emulated:EmulatedPlugin", "EmulatedPlugin.name is 'emulated'"),
    ],
)
def test_what_is_not_a_plugin_of_that_name_is_refused(reference: str, reason: str) -> None:
    registry = Registry(group=None)
    registry.register("other", reference)
    with pytest.raises(PluginLoadError, match=re.escape(reason)):
        registry.load("other")
