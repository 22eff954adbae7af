"""Import hook for Python sources embedded in the Rust binary.

Rust runs this file first, then ``install(sources)`` with ``{module name: (origin path, source,
is_package, is_compat)}``. ``irods_ingest_rt.*`` is always served from the embedded sources; the
stand-in ``irods_capability_automated_ingest.*`` modules only after ``enable_compat()``, which the
runtime calls when the reference package is not installed (or when told to use the bundled set).
Loaders implement ``get_source`` so tracebacks show source lines although no file is read.
"""

import importlib.abc
import importlib.util
import sys


class EmbeddedLoader(importlib.abc.Loader):
    def __init__(self, name, origin, source):
        self.name = name
        self.origin = origin
        self.source = source

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        module.__file__ = self.origin
        code = compile(self.source, self.origin, "exec", dont_inherit=True)
        exec(code, module.__dict__)

    def get_source(self, fullname):
        return self.source


class EmbeddedFinder(importlib.abc.MetaPathFinder):
    def __init__(self, sources):
        self.sources = sources
        self.compat = False

    def find_spec(self, fullname, path=None, target=None):
        entry = self.sources.get(fullname)
        if entry is None:
            return None
        origin, source, is_package, is_compat = entry
        if is_compat and not self.compat:
            return None
        loader = EmbeddedLoader(fullname, origin, source)
        return importlib.util.spec_from_loader(
            fullname, loader, origin=origin, is_package=is_package
        )


_finder = None


def install(sources):
    global _finder
    if _finder is None:
        _finder = EmbeddedFinder(sources)
        sys.meta_path.insert(0, _finder)
    return _finder


def enable_compat():
    _finder.compat = True
