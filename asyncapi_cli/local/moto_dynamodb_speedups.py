"""moto's DynamoDB UpdateItem at less CPU, with the same answers.

The processor makes two UpdateItems per job (claim, then the final write), and they were the largest
cost of the embedded AWS under load: 8-9 ms of its CPU each (bench/README.md), most of it moto's
expression machinery run again on the same few expression texts:
- an UpdateExpression is parsed once per distinct text (moto parsed it twice per call, in the handler
  and the backend); the parsed tree is never mutated (moto's validator deep-copies it);
- a ConditionExpression is parsed once per distinct text and looked-up placeholder values (moto parsed
  it twice per call too). Its parse depends on the text and on the names and values it looks up, and
  on nothing else, so a parse is reused only when every placeholder it looked up has the same value;
  the condition tree is never mutated (its nodes only evaluate);
- the validator's ten depth-first passes find each node's processor once per (pass, node type),
  instead of rebuilding the pass's processing map and running abstract-class isinstance checks at
  every node of every call, and call the pre-child hook only for the pass that has one (moto's
  traversal never overrides traverse_node_recursively itself: it recurses directly);
- the validator's copy of the tree is built from a plan of the cached tree (what copy.deepcopy makes of
  it, without its generic machinery), and its three checking passes are skipped when they passed for
  the same inputs (moto_dynamodb_trees); anything but a plain tree still goes to copy.deepcopy;
- a simple expression's validated tree (SET and REMOVE of top-level attributes) is built in one step
  instead of the copy and the ten passes, when the passes would succeed (moto_dynamodb_validated).
Worth proposing upstream. tests/test_local_perf_moto_dynamodb.py runs every case with and without
these and compares items and errors; `moto_originals()` is how.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any

from . import moto_dynamodb_trees as trees
from .moto_patches import originals

_lock = threading.Lock()
_MISSING = object()
_PER_INSTANCE = object()  # a processing map whose entries are not the pass's own methods
PARSES_KEPT_PER_CONDITION = 16  # distinct looked-up values kept per condition text
CONDITIONS_KEPT = 512


def apply() -> None:
    """Idempotent."""
    with _lock:
        if "traverse_node_recursively" in originals:
            return
        _patch_update_expressions()
        _patch_condition_expressions()


def _patch_update_expressions() -> None:
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.make.__func__  # type: ignore[attr-defined]

    @functools.lru_cache(maxsize=512)
    def parse(expression: str) -> Any:
        tree = make(UpdateExpressionParser, expression)  # an invalid one raises, and is not cached
        trees.checked_trees.remember(tree)
        return tree

    def cached_make(cls: type, expression: str) -> Any:
        if cls is UpdateExpressionParser and isinstance(expression, str):
            return parse(expression)
        return make(cls, expression)

    originals.update(
        validators_deepcopy=validators.deepcopy,
        find_clauses=Node.find_clauses,
        update_expression_make=UpdateExpressionParser.make,
        traverse_node_recursively=DepthFirstTraverser.traverse_node_recursively,
    )
    UpdateExpressionParser.make = classmethod(cached_make)  # type: ignore[method-assign,assignment]
    DepthFirstTraverser.traverse_node_recursively = _traverse_node_recursively()  # type: ignore[method-assign]
    Node.find_clauses = _find_clauses()  # type: ignore[method-assign]
    validators.deepcopy = trees.copy_or_defer
    trees.patch_validator_checks()


def _processor_of(traverser: Any, node_type: type) -> Any:
    """moto's DepthFirstTraverser.process(): the first entry of the processing map the node is an
    instance of, or None."""
    return next((fn for kind, fn in traverser._processing_map().items() if issubclass(node_type, kind)), None)


def _traverse_node_recursively() -> Callable[..., Any]:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    is_node: dict[type, bool] = {}
    # (pass class, node type) -> the pass's method (unbound), None, or _PER_INSTANCE. Every moto pass
    # maps node classes to its own methods, the same for every instance; anything else is looked up
    # per instance, as moto does.
    processors: dict[tuple[type, type], Any] = {}
    no_op = DepthFirstTraverser.pre_processing_of_child
    hooked: dict[type, bool] = {}  # pass class -> whether its pre_processing_of_child does anything

    def traverse_node_recursively(self: Any, node: Any, child_id: int = -1) -> Any:
        node_type = type(node)
        known = is_node.get(node_type)
        if known is None:
            known = is_node[node_type] = isinstance(node, Node)
        if not known:
            return node
        parent_node = node.parent
        pass_type = type(self)
        children = node.children
        if children is not None:
            hook = hooked.get(pass_type)
            if hook is None:
                hook = hooked[pass_type] = pass_type.pre_processing_of_child is not no_op
            for i, child_node in enumerate(children):
                if hook:
                    self.pre_processing_of_child(node, i)
                child_known = is_node.get(type(child_node))
                if child_known is None:
                    child_known = is_node[type(child_node)] = isinstance(child_node, Node)
                if child_known:  # a leaf (a name's text) is returned as it is: no call for it
                    traverse_node_recursively(self, child_node, i)
        key = (pass_type, node_type)
        method = processors.get(key, _MISSING)
        if method is _MISSING:
            found = _processor_of(self, node_type)
            own = getattr(found, "__self__", None) is self and hasattr(found, "__func__")
            method = processors[key] = found.__func__ if own else (None if found is None else _PER_INSTANCE)
        if method is None:
            return node
        node = method(self, node) if method is not _PER_INSTANCE else _processor_of(self, node_type)(node)
        node.parent = parent_node
        if parent_node:
            parent_node.children[child_id] = node
        return node

    return traverse_node_recursively


def _find_clauses() -> Callable[..., Any]:
    from moto.dynamodb.parsing.ast_nodes import Expression, UpdateExpressionFunction

    nested: dict[type, bool] = {}

    def find_clauses(self: Any, clause_types: list[type]) -> list[Any]:
        # moto's: children of the exact types asked for, descending into expressions and functions.
        clauses = []
        for child in self.children or []:
            child_type = type(child)
            if child_type in clause_types:
                clauses.append(child)
                continue
            descend = nested.get(child_type)
            if descend is None:
                descend = nested[child_type] = issubclass(child_type, (Expression, UpdateExpressionFunction))
            if descend:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    return find_clauses


class _ConditionParse:
    """One parse of a condition text: the placeholders it looked up (with what it found), its tree,
    and the placeholders moto reports as used."""

    __slots__ = ("names_looked_up", "values_looked_up", "tree", "names_found", "values_found")

    def __init__(self) -> None:
        self.names_looked_up: dict[str, Any] = {}
        self.values_looked_up: dict[str, Any] = {}
        self.tree: Any = None
        self.names_found: list[str] = []
        self.values_found: list[str] = []

    def fits(self, names: Any, values: Any) -> bool:
        return all(_get(names, k) == v for k, v in self.names_looked_up.items()) and all(
            _get(values, k) == v for k, v in self.values_looked_up.items()
        )


def _get(mapping: Any, key: str) -> Any:
    return mapping.get(key, _MISSING) if isinstance(mapping, dict) else _MISSING


def _patch_condition_expressions() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parse = ConditionExpressionParser.parse
    parses: dict[str, list[_ConditionParse]] = {}

    def cached_parse(self: Any) -> Any:
        text = self.condition_expression
        if not text or not isinstance(text, str):
            return parse(self)
        names, values = self.expression_attribute_names, self.expression_attribute_values
        for known in parses.get(text, ()):
            if known.fits(names, values):
                self.expr_attr_names_found.extend(known.names_found)
                self.expr_attr_values_found.extend(known.values_found)
                return known.tree
        entry = _ConditionParse()
        lookup_name = self._lookup_expression_attribute_name
        lookup_value = self._lookup_expression_attribute_value

        def recorded_name(name: str) -> Any:
            entry.names_looked_up[name] = found = lookup_name(name)
            return found

        def recorded_value(name: str) -> Any:
            # One copy, not the request's own dict: the kept record and the tree (which only reads it).
            entry.values_looked_up[name] = found = copy.deepcopy(lookup_value(name))
            return found

        self._lookup_expression_attribute_name = recorded_name
        self._lookup_expression_attribute_value = recorded_value
        before = len(self.expr_attr_names_found), len(self.expr_attr_values_found)
        try:
            entry.tree = parse(self)  # an invalid expression raises here, and nothing is kept
        finally:
            del self._lookup_expression_attribute_name, self._lookup_expression_attribute_value
        entry.names_found = list(self.expr_attr_names_found[before[0] :])
        entry.values_found = list(self.expr_attr_values_found[before[1] :])
        if len(parses) >= CONDITIONS_KEPT and text not in parses:
            parses.clear()  # a bound, not a policy: services see a handful of condition texts
        kept = parses.setdefault(text, [])
        if len(kept) >= PARSES_KEPT_PER_CONDITION:
            del kept[0]
        kept.append(entry)
        return entry.tree

    originals["ConditionExpressionParser.parse"] = parse
    ConditionExpressionParser.parse = cached_parse  # type: ignore[method-assign]


@contextlib.contextmanager
def moto_originals() -> Iterator[None]:
    """moto's own code for everything apply() replaced, for the duration (tests compare answers)."""
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    patched_validator = (UpdateExpressionValidator.__init__, UpdateExpressionValidator.validate)
    patched = (
        UpdateExpressionParser.__dict__["make"],
        DepthFirstTraverser.traverse_node_recursively,
        Node.find_clauses,
        validators.deepcopy,
        ConditionExpressionParser.parse,
    )
    UpdateExpressionParser.make = originals["update_expression_make"]  # type: ignore[method-assign]
    DepthFirstTraverser.traverse_node_recursively = originals["traverse_node_recursively"]  # type: ignore[method-assign]
    Node.find_clauses = originals["find_clauses"]  # type: ignore[method-assign]
    validators.deepcopy = originals["validators_deepcopy"]
    ConditionExpressionParser.parse = originals["ConditionExpressionParser.parse"]  # type: ignore[method-assign]
    UpdateExpressionValidator.__init__ = originals["validator_init"]  # type: ignore[method-assign]
    UpdateExpressionValidator.validate = originals["validator_validate"]  # type: ignore[method-assign]
    try:
        yield
    finally:
        UpdateExpressionParser.make, DepthFirstTraverser.traverse_node_recursively = patched[:2]  # type: ignore[method-assign]
        Node.find_clauses, validators.deepcopy = patched[2:4]  # type: ignore[method-assign]
        ConditionExpressionParser.parse = patched[4]  # type: ignore[method-assign]
        UpdateExpressionValidator.__init__, UpdateExpressionValidator.validate = patched_validator  # type: ignore[method-assign]
