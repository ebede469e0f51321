"""The driver plugin registry: find plugins by name, import them only when asked.

Plugins are discovered through the entry-point group ``netweave.drivers`` (declared in a
distribution's ``pyproject.toml``) or registered on a `Registry` in code, either as a class
or as a lazy ``"module:attribute"`` reference::

    registry = Registry()
    registry.register("lab", "my_package.lab_driver:LabPlugin")
    plugin_class = registry.load("lab")   # imported here, on first use

`default_registry` is the registry the application uses; tests make their own.

Errors: `UnknownPluginError` (no such name; its message lists the registered names) and
`PluginLoadError` (the plugin's module failed to import or is not a plugin class; its
message names the plugin and the cause). Both are `DriverError`s.
"""

from __future__ import annotations

import importlib.metadata
from typing import cast

from netweave.drivers.contract import DriverError, DriverPlugin

ENTRY_POINT_GROUP = "netweave.drivers"

_PLUGIN_METHODS = ("start", "stop", "create")


class UnknownPluginError(DriverError, LookupError):
    """No plugin is registered under the requested name."""

    def __init__(self, name: str, available: list[str]) -> None:
        listed = ", ".join(available) if available else "none"
        super().__init__(f"no driver plugin named {name!r}; registered: {listed}")
        self.name = name
        self.available = available


class PluginLoadError(DriverError):
    """A registered plugin could not be imported, or is not a driver plugin class."""

    def __init__(self, name: str, reference: str, reason: str) -> None:
        super().__init__(f"driver plugin {name!r} ({reference}) failed to load: {reason}")
        self.name = name
        self.reference = reference
        self.reason = reason


class Registry:
    """Driver plugins by name: discovered from an entry-point group and/or registered.

    Discovery reads only the distributions' metadata; a plugin's module is imported by
    the first `load` of its name, and the class is then cached.
    """

    def __init__(self, group: str | None = ENTRY_POINT_GROUP) -> None:
        """`group` is the entry-point group to discover; None registers nothing by itself."""
        self._group = group
        self._sources: dict[str, importlib.metadata.EntryPoint | type[DriverPlugin]] | None = None
        self._loaded: dict[str, type[DriverPlugin]] = {}

    def available(self) -> list[str]:
        """The registered names, sorted."""
        return sorted(self._discovered())

    def register(
        self, name: str, plugin: type[DriverPlugin] | str, *, replace: bool = False
    ) -> None:
        """Register `plugin` (a class, or a lazy ``"module:attribute"`` reference) as `name`.

        Registering a name that is taken raises `ValueError` unless `replace` is true.
        """
        sources = self._discovered()
        if name in sources and not replace:
            raise ValueError(f"driver plugin {name!r} is already registered")
        if isinstance(plugin, str):
            if ":" not in plugin:
                raise ValueError(f"plugin reference {plugin!r} must be 'module:attribute'")
            sources[name] = importlib.metadata.EntryPoint(name, plugin, self._group or "")
        else:
            sources[name] = plugin
        self._loaded.pop(name, None)

    def load(self, name: str) -> type[DriverPlugin]:
        """The plugin class registered as `name`, importing it on first use."""
        if name in self._loaded:
            return self._loaded[name]
        sources = self._discovered()
        if name not in sources:
            raise UnknownPluginError(name, sorted(sources))
        source = sources[name]
        if isinstance(source, importlib.metadata.EntryPoint):
            reference = source.value
            try:
                candidate: object = source.load()
            except Exception as exc:
                raise PluginLoadError(name, reference, f"{type(exc).__name__}: {exc}") from exc
        else:
            reference = f"{source.__module__}:{source.__qualname__}"
            candidate = source
        plugin = _checked_plugin(name, reference, candidate)
        self._loaded[name] = plugin
        return plugin

    def _discovered(self) -> dict[str, importlib.metadata.EntryPoint | type[DriverPlugin]]:
        if self._sources is None:
            found = importlib.metadata.entry_points(group=self._group) if self._group else ()
            self._sources = {entry.name: entry for entry in found}
        return self._sources


def _checked_plugin(name: str, reference: str, candidate: object) -> type[DriverPlugin]:
    """`candidate` as a plugin class, or a `PluginLoadError` saying what is wrong with it."""
    if not isinstance(candidate, type):
        reason = f"expected a plugin class, got {type(candidate).__name__}"
        raise PluginLoadError(name, reference, reason)
    missing = [
        method for method in _PLUGIN_METHODS if not callable(getattr(candidate, method, None))
    ]
    if missing:
        reason = f"{candidate.__qualname__} lacks method(s) {', '.join(missing)}"
        raise PluginLoadError(name, reference, reason)
    declared = getattr(candidate, "name", None)
    if declared != name:
        reason = f"{candidate.__qualname__}.name is {declared!r}, expected {name!r}"
        raise PluginLoadError(name, reference, reason)
    return cast(type[DriverPlugin], candidate)


default_registry = Registry()
