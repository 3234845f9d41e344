"""Import a module of the Lambda sources (handlers/) inside the CLI or the embedded AWS.

Installed, they are `asyncapi_cli.handlers`; in a source checkout that package name does not resolve
(the top-level handlers/ folder is mapped only by the installed package), so the module is loaded
from its file, the one `package.handlers_dir()` finds, exactly as it ships in the Lambda zip.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType


def load(name: str) -> ModuleType:
    try:
        return importlib.import_module(f"asyncapi_cli.handlers.{name}")
    except ImportError:
        pass
    qualified = f"asyncapi_handlers_{name}"
    if qualified in sys.modules:
        return sys.modules[qualified]
    from .package import handlers_dir

    spec = importlib.util.spec_from_file_location(qualified, handlers_dir() / f"{name}.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"handler module {name} not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[qualified] = module
    spec.loader.exec_module(module)
    return module
