"""Work botocore repeats for every client it makes, done once per process instead: the one place where
botocore is patched. Each change computes exactly what botocore computes (its tests are in
tests/test_botocore_speedups.py); applied once, by `aws.shared_loader()`, before the first session.

Together they took making the stack's eight clients from ~100 to ~35 ms of CPU, which counted in every
command and in every deploy a test makes (~7 ms of it was each client copying the session's event
handlers, the rest recomputing aliases, methods and signatures).

- A client's class holds one method per operation (lambda: ~80), each with an operation model made for
  its docstring: `ClientCreator._create_methods` depends only on the service's model, so its result is
  kept per model (the shared loader returns the same model data each time). Class-level customisations
  (presigned URLs, boto3's S3 transfer methods) still run for every client.
- Each client copies the session's event emitter, and the copy started with an empty cache of event-name
  aliases (`EventAliaser._alias_name_cache`), so every client computed the alias of each event it
  registered or emitted (~30 string splits each). The alias depends only on the alias table, the same
  for every session: they all share one cache. A name not yet in it (a process's first call of each
  operation: ~550 names in a CLI `up`) cost ~45 us: botocore splits the name again for each of the
  table's 65 entries and finds most of them missing by catching a ValueError. The same walk over the
  table now splits once and tests membership (~25 ms less CPU in each `up`).
- Every handler registered (a few hundred a session, dozens a client) was checked to take **kwargs with
  `inspect.getfullargspec`, which builds a whole signature; for a function or method the flag in its
  code object is the same answer.
- The copy of the emitter copied its whole trie of handlers (~200 nodes with moto's). Copies now share
  their nodes and a change copies only the path it changes (`_PrefixTrie`, below).
- Each client wrapped the service's model data in a new `ServiceModel`, whose cached properties (its
  operation models, shapes, error codes, the endpoint-discovery operation) every client then computed
  again; and each built a new `EndpointProvider` from the endpoint rule set, whose cache of resolved
  endpoints therefore started empty for every client. Both depend only on the (shared) data: clients
  of one service share them. Neither is changed after it is made (botocore's one setter,
  `ServiceModel.signature_version`, is called nowhere). Sharing them took a sixth off the CPU of the
  in-process interruption matrix (75 deploys interrupted and resumed: 78-85 -> 64-70 s, side by side).
"""

from __future__ import annotations

import inspect
import threading
import types
from collections.abc import Callable
from typing import Any

_applied = False
_lock = threading.Lock()


def apply() -> None:
    global _applied
    with _lock:
        if _applied:
            return
        import botocore.client
        import botocore.hooks
        import botocore.regions

        _remember_client_methods(botocore.client.ClientCreator)
        _share_alias_cache(botocore.hooks)
        _alias_without_exceptions(botocore.hooks)
        _read_kwargs_from_code(botocore.hooks)
        _copy_tries_on_write(botocore.hooks)
        _share_service_models(botocore.client.ClientCreator)
        _share_endpoint_providers(botocore.regions)
        _applied = True


def _kept(
    cache: dict[tuple[Any, ...], Any], data: tuple[Any, ...], extra: Any, make: Callable[[], Any]
) -> Any:
    """What `make` gives, made once per identity of `data` (botocore's loaded data: the shared loader hands
    out the same objects) and `extra`. The data is kept with the value, so no other object can take its id
    while the entry lasts."""
    key = (*(id(item) for item in data), extra)
    kept = cache.get(key)
    if kept is None:
        kept = cache[key] = (data, make())
    return kept[1]


def _remember_client_methods(creator_class: Any) -> None:
    methods_of: dict[tuple[Any, ...], Any] = {}
    create_methods = creator_class._create_methods

    def _create_methods(creator: Any, service_model: Any) -> dict[str, Any]:
        description = getattr(service_model, "_service_description", None)
        if description is None:  # a botocore whose model keeps its data elsewhere: nothing shared
            return create_methods(creator, service_model)  # a new dict each time, as before
        methods = _kept(methods_of, (description,), None, lambda: create_methods(creator, service_model))
        return dict(methods)  # the caller adds the class's customisations to its copy

    creator_class._create_methods = _create_methods


def _share_service_models(creator_class: Any) -> None:
    load_service_model = creator_class._load_service_model
    models: dict[tuple[Any, ...], Any] = {}

    def _load_service_model(creator: Any, service_name: str, api_version: str | None = None) -> Any:
        model = load_service_model(creator, service_name, api_version)
        description = getattr(model, "_service_description", None)
        if description is None:  # a botocore whose model keeps its data elsewhere: nothing shared
            return model
        return _kept(models, (description,), service_name, lambda: model)

    creator_class._load_service_model = _load_service_model


def _share_endpoint_providers(regions: Any) -> None:
    make_provider = regions.EndpointProvider  # the one place botocore makes them: EndpointRulesetResolver
    providers: dict[tuple[Any, ...], Any] = {}

    def _provider(ruleset_data: Any, partition_data: Any, **options: Any) -> Any:
        def make() -> Any:
            return make_provider(ruleset_data=ruleset_data, partition_data=partition_data, **options)

        # The options as this botocore passes them (newer ones pass `excluded_params`, a set, for S3).
        settings = tuple(
            sorted(
                (name, frozenset(value) if isinstance(value, set) else value)
                for name, value in options.items()
            )
        )
        try:
            hash(settings)
        except TypeError:  # an option that cannot be a key (a later botocore's): one of its own, unshared
            return make()
        return _kept(providers, (ruleset_data, partition_data), settings, make)

    regions.EndpointProvider = _provider


def _share_alias_cache(hooks: Any) -> None:
    aliaser = hooks.EventAliaser
    init_aliaser, copy_aliaser = aliaser.__init__, aliaser.__copy__
    aliases_of_the_default_table: dict[str, str] = {}

    def _share(instance: Any) -> Any:
        if instance._event_aliases == hooks.EVENT_ALIASES:  # every session's table
            instance._alias_name_cache = aliases_of_the_default_table
        return instance

    def _init(self: Any, *args: Any, **kwargs: Any) -> None:
        init_aliaser(self, *args, **kwargs)
        _share(self)

    aliaser.__init__ = _init
    aliaser.__copy__ = lambda self: _share(copy_aliaser(self))


def _alias_without_exceptions(hooks: Any) -> None:
    """`EventAliaser._alias_event_name` with botocore's walk: the first entry of the table (in its
    order) that names a whole part of the event, or (an entry with dots) that occurs in its text, decides;
    the first occurrence is replaced (a dotted entry's sections, where they line up), else the name is
    kept. Cached as botocore caches it."""

    def _alias_event_name(self: Any, event_name: str) -> str:
        cache = self._alias_name_cache
        alias: str | None = cache.get(event_name)
        if alias is not None:
            return alias
        parts = event_name.split(".")
        present = set(parts)
        alias = event_name
        for old_part, new_part in self._event_aliases.items():
            if "." not in old_part:
                if old_part not in present:
                    continue
                parts[parts.index(old_part)] = new_part
            elif old_part in event_name:
                self._replace_subsection(parts, old_part.split("."), new_part)
            else:
                continue
            alias = ".".join(parts)
            hooks.logger.debug("Changing event name from %s to %s", event_name, alias)
            break
        cache[event_name] = alias
        return alias

    _alias_event_name.__wrapped__ = hooks.EventAliaser._alias_event_name  # type: ignore[attr-defined]
    hooks.EventAliaser._alias_event_name = _alias_event_name


def _read_kwargs_from_code(hooks: Any) -> None:
    accepts_kwargs = hooks.accepts_kwargs

    def _accepts_kwargs(func: Any) -> bool:
        if isinstance(func, types.MethodType | types.FunctionType):
            code = getattr(func.__func__ if isinstance(func, types.MethodType) else func, "__code__", None)
            if isinstance(code, types.CodeType):
                return bool(code.co_flags & inspect.CO_VARKEYWORDS)  # what getfullargspec reads
        return bool(accepts_kwargs(func))

    hooks.accepts_kwargs = _accepts_kwargs


def _copy_tries_on_write(hooks: Any) -> None:
    """`_PrefixTrie` (the handlers of an emitter) keeps nested dicts, {'chunk', 'values': NodeList,
    'children': {part: node}}, and `__copy__` copied every node. A trie that has been copied (or is a
    copy) now never changes a node in place: appending copies the nodes on the key's path (and the
    handler lists at its end) and swaps in a new root, so copies share everything else. Removing, which
    is rare, first takes a private copy of the whole trie, as botocore's copy did."""
    trie = hooks._PrefixTrie
    node_list = hooks.NodeList
    append_in_place, remove_in_place, full_copy = trie.append_item, trie.remove_item, trie.__copy__

    def _copy(self: Any) -> Any:
        new = trie.__new__(trie)
        new.__dict__ = dict(self.__dict__)  # the same root
        self._nodes_shared = new._nodes_shared = True
        return new

    def _append(self: Any, key: str, value: Any, section: int = hooks._MIDDLE) -> None:
        if not self.__dict__.get("_nodes_shared"):
            append_in_place(self, key, value, section)
            return
        root = current = {**self._root, "children": dict(self._root["children"])}
        for part in key.split("."):
            child = current["children"].get(part)
            child = (
                {"chunk": part, "values": None, "children": {}}
                if child is None
                else {**child, "children": dict(child["children"])}
            )
            current["children"][part] = child
            current = child
        values = current["values"]
        values = node_list([], [], []) if values is None else node_list(*(list(v) for v in values))
        values[section].append(value)
        current["values"] = values
        self._root = root

    def _remove(self: Any, key: str, value: Any) -> None:
        if self.__dict__.get("_nodes_shared"):
            self.__dict__ = full_copy(self).__dict__  # private nodes, not shared with anyone
            self._nodes_shared = False
        remove_in_place(self, key, value)

    trie.__copy__ = _copy
    trie.append_item = _append
    trie.remove_item = _remove
