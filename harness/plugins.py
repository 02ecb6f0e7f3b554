"""Finding the modules of a package and what they define: the faults, checkers, topologies,
scenarios and report sections are each a folder whose every module is picked up by name, so
adding one is adding a file."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType

from harness.errors import HarnessError


def modules(package_name: str, path, skip: tuple[str, ...] = ("base",)) -> Iterator[ModuleType]:
    """Every module (or subpackage) of the package, imported, except the `skip` ones."""
    for info in pkgutil.iter_modules(path):
        if info.name not in skip:
            yield importlib.import_module(f"{package_name}.{info.name}")


def classes(package_name: str, path, base: type, own: str) -> list[type]:
    """Subclasses of `base` defined in the package's modules that set `own` themselves (a class
    inheriting its name from a parent is not a second entry)."""
    found = []
    for module in modules(package_name, path):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and value is not base and \
                    value.__module__ == module.__name__ and own in vars(value):
                found.append(value)
    return found


class Registry:
    """Classes by name, found in a package's modules on first use; `register` adds one from
    anywhere (a test module), `unregister` takes it away again."""

    def __init__(self, package_name: str, path, base: type, key: str, what: str, order=None) -> None:
        self.package_name, self.path, self.base, self.key, self.what = package_name, path, base, key, what
        self.order = order  # sort key for `names` (default: as found)
        self._classes: dict[str, type] = {}
        self._loaded = False

    def register(self, cls: type) -> type:
        self._classes[getattr(cls, self.key)] = cls
        return cls

    def unregister(self, name: str) -> None:
        self._classes.pop(name, None)

    def all(self) -> dict[str, type]:
        if not self._loaded:
            self._loaded = True
            for cls in classes(self.package_name, self.path, self.base, self.key):
                self._classes.setdefault(getattr(cls, self.key), cls)
        return self._classes

    def names(self) -> list[str]:
        found = self.all()
        return sorted(found, key=lambda n: self.order(found[n])) if self.order else list(found)

    def get(self, name: str) -> type:
        found = self.all()
        if name not in found:
            raise HarnessError(f"unknown {self.what} {name!r}: available are {', '.join(self.names())}")
        return found[name]
