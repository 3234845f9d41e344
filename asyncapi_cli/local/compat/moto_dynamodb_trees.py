"""moto's DynamoDB update-expression validation at less CPU (speed; the same answers).

Under load, validating the two UpdateItems of every job was the largest remaining cost of the embedded
AWS (bench/README.md). moto validates on a deep copy of the parsed tree, by ten depth-first passes:
- the copy of a tree of the parse cache (moto_dynamodb.py: never mutated) is built from a plan of it made
  once (its nodes in order, their classes, parents and children): the same copy `copy.deepcopy` makes;
- the first three passes only check (they raise or return every node unchanged): one that passed for the
  same inputs is skipped (`CheckedTrees`); a failure is never kept;
- each pass finds each node's processor once per (pass, node type) instead of rebuilding the pass's map
  and running abstract-class isinstance checks at every node, and calls the pre-child hook only for the
  pass that has one;
- an UpdateItem on a new item is validated once, not twice: moto validates against an empty item (no
  attributes) to raise before creating anything, creates the item with its key, validates again against it
  and throws the first tree away. The first validation is made against an item holding the key attributes
  (what the second sees) and its tree handed to the same request's second, when the validation read no key
  attribute (present here, absent from moto's empty item; the item is read only through its attributes'
  mapping, which records what was read). Otherwise, or when it fails, moto's own validation runs. moto's own
  fix: upstream/dynamodb-new-item-validated-once.diff.
tests/test_local_perf_moto_dynamodb.py compares answers with moto's own, with and without these.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from typing import Any

from .registry import Patch, register

_MISSING = object()
_PER_INSTANCE = object()  # a processing map whose entries are not the pass's own methods


class CheckedTrees:
    """The validator's first three passes only check (they raise or return every node unchanged) and
    depend on nothing but the tree and a few request inputs: the clause counts on the tree alone; the
    overlapping paths on the names its top-level placeholders stand for; the key attributes on those
    names and the table's key. They run before any pass changes the tree, so on a tree the parse
    cache (moto_dynamodb.py) made (never mutated: the validator works on a copy), a pass that
    passed once passes again for the same inputs, and is skipped. A failure is never kept: it is
    raised each time. The same trees' copy plans are kept here too."""

    LIMIT = 2048

    def __init__(self) -> None:
        self.trees: dict[int, Any] = {}  # id -> a tree the parse cache made (held, so its id stays its own)
        self.passed: set[tuple[Any, ...]] = set()
        self.plans: dict[int, Any] = {}  # id -> the tree's copy plan (None: left to copy.deepcopy)

    def remember(self, tree: Any) -> None:
        if len(self.trees) >= self.LIMIT:
            self.trees.clear()
            self.passed.clear()
            self.plans.clear()
        self.trees[id(tree)] = tree

    def holds(self, tree: Any) -> bool:
        """Whether the tree is one the parse cache made (and so is never mutated)."""
        return self.trees.get(id(tree)) is tree

    def copy_plan(self, tree: Any) -> Any:
        """The plan to copy a tree of the parse cache (made on its first copy), or None."""
        if not self.holds(tree):
            return None
        plan = self.plans.get(id(tree), _MISSING)
        if plan is _MISSING:
            plan = self.plans[id(tree)] = _plan_of(tree)
        return plan

    def inputs(self, source: Any, validator: Any) -> tuple[Any, ...] | None:
        """What the checks of one validation depend on besides the table's key (the same for all three),
        or None when their outcome cannot be kept."""
        if not self.holds(source):
            return None
        names = validator.expression_attribute_names or {}
        if not isinstance(names, dict) or not all(isinstance(v, str) for v in names.values()):
            return None
        return id(source), tuple(sorted(names.items()))

    @staticmethod
    def key(check: type, inputs: tuple[Any, ...], validator: Any) -> tuple[Any, ...]:
        """What a check's outcome depends on: the validation's inputs, and the table's key for the
        key-attribute check (moto gives it `table.table_key_attrs`)."""
        if check.__name__ == "UpdateHashRangeKeyValidator":
            return (check, *inputs, tuple(validator.table.table_key_attrs))
        return (check, *inputs)


checked_trees = CheckedTrees()


def _remembering_init(init: Any) -> Any:
    def remembering_init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        init(self, expression, *args, **kwargs)
        self._source_tree = expression  # the uncopied tree: the parse cache's own, or not

    return remembering_init


def _validate(_: Any) -> Any:
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateHashRangeKeyValidator,
    )

    checks = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)

    def validate_passes(self: Any) -> Any:
        node = self.node_to_validate
        inputs: Any = _MISSING  # worked out at the first check, once for all three
        changed = False  # the checks come first; once a pass may have changed the tree, none is skipped
        for processor in self.processors:
            key = None
            if not changed and type(processor) in checks:
                if inputs is _MISSING:
                    inputs = checked_trees.inputs(getattr(self, "_source_tree", None), self)
                if inputs is not None:
                    key = checked_trees.key(type(processor), inputs, self)
                    if key in checked_trees.passed:
                        continue
            else:
                changed = True
            node = processor.traverse(node)
            if key is not None:
                checked_trees.passed.add(key)
        return node

    return _validate_once(validate_passes)


# --- a new item's update validated once ------------------------------------------------------------
_handover = threading.local()  # the first validation's tree, waiting for the same request's second


class _ReadRecordingAttributes(dict):  # type: ignore[type-arg]
    """An item's attributes that note every name read by subscript; any other read marks all as read."""

    def __init__(self, attributes: dict[str, Any]) -> None:
        super().__init__(attributes)
        self.read: set[str] = set()
        self.read_all = False

    def __getitem__(self, name: str) -> Any:
        self.read.add(name)
        return super().__getitem__(name)

    def _reads_all(method: Any) -> Any:  # type: ignore[misc]  # noqa: N805 (a decorator of the class body)
        def read_all(self: Any, *args: Any, **kwargs: Any) -> Any:
            self.read_all = True
            return method(self, *args, **kwargs)

        return read_all

    get = _reads_all(dict.get)
    keys = _reads_all(dict.keys)
    items = _reads_all(dict.items)
    values = _reads_all(dict.values)
    copy = _reads_all(dict.copy)
    __contains__ = _reads_all(dict.__contains__)
    __iter__ = _reads_all(dict.__iter__)
    __len__ = _reads_all(dict.__len__)


class _Handover:
    __slots__ = ("source", "names", "values", "table", "attributes", "tree")

    def __init__(self, validator: Any, attributes: dict[str, Any], tree: Any) -> None:
        self.source = validator._source_tree
        self.names = validator.expression_attribute_names
        self.values = validator.expression_attribute_values
        self.table = validator.table
        self.attributes = attributes
        self.tree = tree

    def serves(self, validator: Any) -> bool:
        item = validator.item
        return (
            getattr(validator, "_source_tree", None) is self.source
            and validator.expression_attribute_names is self.names
            and validator.expression_attribute_values is self.values
            and validator.table is self.table
            and item is not None
            and item.attrs == self.attributes
        )


def _key_attributes(validator: Any) -> dict[str, Any] | None:
    """The attributes moto will create the new item with (Table.put_item of its key), or None when the
    item is not moto's empty one of a new item."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    item, table = validator.item, validator.table
    if item is None or table is None or len(item.attrs) or item.hash_key is None:
        return None
    if getattr(validator, "_source_tree", None) is None:
        return None  # the uncopied tree (remembered by __init__) is needed to start again
    attributes = {table.hash_key_attr: DynamoType({item.hash_key.type: item.hash_key.value})}
    if item.range_key is not None and table.range_key_attr:
        attributes[table.range_key_attr] = DynamoType({item.range_key.type: item.range_key.value})
    return attributes


def _validate_once(validate: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import Item

    def validate_once(self: Any) -> Any:
        waiting, _handover.waiting = getattr(_handover, "waiting", None), None
        if waiting is not None and waiting.serves(self):
            return waiting.tree
        attributes = _key_attributes(self)
        if attributes is None:
            return validate(self)
        empty_item = self.item
        probe = Item(empty_item.hash_key, empty_item.range_key, {})
        probe.attrs = recording = _ReadRecordingAttributes(attributes)
        self.item = probe
        self.processors = self.get_ast_processors()  # they hold the item they resolve paths in
        try:
            tree = validate(self)
        except Exception:
            tree = None
        keys = set(attributes)
        if tree is None or recording.read_all or recording.read & keys:
            # moto's own validation against its empty item, on a fresh copy of the tree
            again = type(self)(
                self._source_tree,
                expression_attribute_names=self.expression_attribute_names,
                expression_attribute_values=self.expression_attribute_values,
                item=empty_item,
                table=self.table,
            )
            return validate(again)
        _handover.waiting = _Handover(self, attributes, tree)
        return tree

    return validate_once


def copy_tree(tree: Any) -> Any:
    """copy.deepcopy of a parsed expression tree (Nodes: type, children, parent), built from a plan of it:
    a tree of the parse cache is planned once; any other tree for this copy; one with anything else in
    it is left to copy.deepcopy."""
    plan = checked_trees.copy_plan(tree) if checked_trees.holds(tree) else _plan_of(tree)
    return copy.deepcopy(tree) if plan is None else _build(plan)


def _plan_of(tree: Any) -> tuple[list[type], list[tuple[Any, int, Any]]] | None:
    """The tree in pre-order (as copy.deepcopy meets its nodes): each node's class, and its type, parent (an
    index) and children (an index, or a str/int/bool/float/None leaf); None when it has anything else."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if not isinstance(tree, Node) or tree.parent is not None:
        return None
    index: dict[int, int] = {}
    classes: list[type] = []
    rows: list[tuple[Any, int, Any]] = []

    def visit(node: Any) -> int:
        if id(node) in index:  # shared in the original: shared in the copy, as deepcopy does
            return index[id(node)]
        if node.__dict__.keys() != {"type", "children", "parent"} or (
            node.parent is not None and id(node.parent) not in index
        ):
            raise LookupError
        at = index[id(node)] = len(classes)
        classes.append(type(node))
        rows.append((node.type, -1 if node.parent is None else index[id(node.parent)], None))
        if not isinstance(node.type, (str, type(None))):
            raise LookupError
        if node.children is not None:
            kids = []
            for child in node.children:
                if isinstance(child, Node):
                    kids.append((True, visit(child)))
                elif child is None or type(child) in (str, int, bool, float):
                    kids.append((False, child))
                else:
                    raise LookupError
            rows[at] = (rows[at][0], rows[at][1], tuple(kids))
        return at

    try:
        visit(tree)
    except LookupError:
        return None
    return classes, rows


def _build(plan: tuple[list[type], list[tuple[Any, int, Any]]]) -> Any:
    classes, rows = plan
    nodes = [object.__new__(cls) for cls in classes]
    for node, (kind, parent, kids) in zip(nodes, rows, strict=True):
        node.__dict__ = {
            "type": kind,
            "children": None if kids is None else [nodes[v] if is_node else v for is_node, v in kids],
            "parent": None if parent < 0 else nodes[parent],
        }
    return nodes[0]


def _processor_of(traverser: Any, node_type: type) -> Any:
    """moto's DepthFirstTraverser.process(): the first entry of the processing map the node is an
    instance of, or None."""
    return next((fn for kind, fn in traverser._processing_map().items() if issubclass(node_type, kind)), None)


def _traverse_node_recursively(_: Any) -> Callable[..., Any]:
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


PARSING = "moto.dynamodb.parsing"
register(
    Patch(
        f"{PARSING}.validators:UpdateExpressionValidator.__init__",
        _remembering_init,
        "speed",
        "remembers the uncopied tree",
        "dynamodb-validation",
    ),
    Patch(
        f"{PARSING}.validators:UpdateExpressionValidator.validate",
        _validate,
        "speed",
        "checks that passed are not run again",
        "dynamodb-validation",
        params=("self",),
    ),
    Patch(
        f"{PARSING}.validators:deepcopy",
        lambda _: copy_tree,
        "speed",
        "a planned copy of the tree",
        "dynamodb-validation",
    ),
    Patch(
        f"{PARSING}.ast_nodes:DepthFirstTraverser.traverse_node_recursively",
        _traverse_node_recursively,
        "speed",
        "processors found once per node type",
        "dynamodb-validation",
        params=("self", "node", "child_id"),
    ),
)
