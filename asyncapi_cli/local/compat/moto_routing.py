"""moto's request routing, remembered instead of worked out again for every request.

moto's answer to "which backend serves this request" never changes within a process, yet it derives
it per request:
- its server (DomainDispatcherApplication.get_backend_for_host) lists moto's package directory (a
  listdir and an isdir per service) and tries every service's URL patterns against the host, under one
  lock: over a tenth of the embedded AWS's CPU, and most of the CLI tests' server's;
- in-process (mock_aws's BotocoreStubber), each request imports the service's models module again
  through importlib (moto.backends.get_backend) and rebuilds the backend's URL table
  (BaseBackend.urls): about a third of the CPU that moto spends on a request.
The remembered answers are moto's own (tests/test_local_perf_moto.py compares them). Worth proposing
upstream, as the stubber's own "TODO: cache this part" says.

The same for the answer to "which method of the response class serves this action": moto listed the
class's members (inspect.getmembers) on every request.

Also here: moto builds a service's operation router on its first request, compiling werkzeug rules
with ast.parse. Two threads doing that at once tripped CPython 3.11's shared AST recursion counter
("SystemError: AST constructor recursion depth mismatch", CPython gh-106905, seen in a deploy's
threads): the routers are built one at a time.
"""

from __future__ import annotations

import threading
from typing import Any

from .registry import Patch, register


def _backend_for_host(original: Any) -> Any:
    """Per dispatcher, so that a new server still starts from moto's own answers."""

    def get_backend_for_host(self: Any, host: str | None) -> Any:
        known = self.__dict__.setdefault("_asyncapi_backend_for_host", {})
        if host not in known:
            known[host] = original(self, host)
        return known[host]

    return get_backend_for_host


def _get_backend(get_backend: Any) -> Any:
    backends: dict[str, Any] = {}

    def remembered_get_backend(name: str) -> Any:
        # Each service's BackendDict is a module-level object: the same one for the process's life.
        if name not in backends:
            backends[name] = get_backend(name)
        return backends[name]

    return remembered_get_backend


def _urls(urls: Any) -> property:
    import moto.settings

    tables: dict[tuple[type, bool], Any] = {}

    def remembered_urls(self: Any) -> Any:
        # A backend's URL table depends on its class's URL bases and paths and on one setting.
        key = (type(self), moto.settings.enable_iso_regions())
        if key not in tables:
            tables[key] = urls.fget(self)
        return tables[key]

    return property(remembered_urls)


def _get_router(original: Any) -> Any:
    building = threading.Lock()

    def get_router(self: Any, protocol: str) -> Any:
        if protocol in self._routers:  # built: no lock on the common path
            return self._routers[protocol]
        with building:
            return original(self, protocol)

    return get_router


def _method_names(original: Any) -> Any:
    names: dict[type, tuple[tuple[int, ...], list[str]]] = {}

    def method_names_from_class(clazz: Any) -> list[str]:
        # Listed again only when a class of its MRO gained or lost an attribute: the embedded AWS adds
        # actions moto lacks to its response classes (sqs_move_tasks.py), possibly after a first request.
        sizes = tuple(len(vars(c)) for c in clazz.__mro__)
        known = names.get(clazz)
        if known is None or known[0] != sizes:
            known = names[clazz] = (sizes, original(clazz))
        return known[1]

    return method_names_from_class


register(
    Patch(
        "moto.moto_server.werkzeug_app:DomainDispatcherApplication.get_backend_for_host",
        _backend_for_host,
        "speed",
        "the host's backend, remembered",
        "routing",
        params=("self", "host"),
    ),
    Patch(
        "moto.backends:get_backend",
        _get_backend,
        "speed",
        "no import per request",
        "routing",
        params=("name",),
    ),
    Patch(
        "moto.core.base_backend:BaseBackend.urls",
        _urls,
        "speed",
        "URL tables, remembered",
        "routing",
        params=("self",),
    ),
    Patch(
        "moto.core.responses:method_names_from_class",
        _method_names,
        "speed",
        "action methods, remembered",
        "routing",
        params=("clazz",),
    ),
    Patch(
        "moto.core.routing:ServiceOperationRouter._get_router",
        _get_router,
        "fidelity",
        "CPython 3.11 AST recursion counter (gh-106905)",
        "routers-one-at-a-time",
        params=("self", "protocol"),
    ),
)
