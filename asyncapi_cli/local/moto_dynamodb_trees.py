"""moto's DynamoDB update-expression trees, validated at less CPU (see moto_dynamodb_speedups).

- A parsed tree is copied for every validation (moto's validator replaces nodes as it goes): a tree of
  the parse cache is copied from a plan of it made once (its nodes in order, their classes, parents and
  children), the same copy `copy.deepcopy` makes, at less than half the cost of walking it.
- The validator's three checking passes are skipped when they passed before for the same inputs
  (`CheckedTrees`).
- A simple expression's validated tree is built in one step instead (moto_dynamodb_validated), when its
  checks passed before: then the copy is never made (`copy_or_defer`).
tests/test_local_perf_moto_dynamodb.py compares answers and copies with moto's own.
"""

from __future__ import annotations

import copy
from typing import Any

from . import moto_dynamodb_validated as validated
from .moto_patches import originals

_MISSING = object()


class CheckedTrees:
    """The validator's first three passes only check (they raise or return every node unchanged) and
    depend on nothing but the tree and a few request inputs: the clause counts on the tree alone; the
    overlapping paths on the names its top-level placeholders stand for; the key attributes on those
    names and the table's key. They run before any pass changes the tree, so on a tree the parse
    cache (moto_dynamodb_speedups) made (never mutated: the validator works on a copy), a pass that
    passed once passes again for the same inputs, and is skipped. A failure is never kept: it is
    raised each time. The same trees' copy plans are kept here too."""

    LIMIT = 2048

    def __init__(self) -> None:
        self.trees: dict[int, Any] = {}  # id -> a tree the parse cache made (held, so its id stays its own)
        self.passed: set[tuple[Any, ...]] = set()
        self.plans: dict[int, Any] = {}  # id -> the tree's copy plan (None: left to copy.deepcopy)
        self.validation_plans: dict[int, Any] = {}  # id -> moto_dynamodb_validated's plan (None: not simple)

    def remember(self, tree: Any) -> None:
        if len(self.trees) >= self.LIMIT:
            self.trees.clear()
            self.passed.clear()
            self.plans.clear()
            self.validation_plans.clear()
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

    def validation_plan(self, tree: Any) -> Any:
        """moto_dynamodb_validated's plan of a tree of the parse cache (made on first use), or None."""
        if not self.holds(tree):
            return None
        plan = self.validation_plans.get(id(tree), _MISSING)
        if plan is _MISSING:
            plan = self.validation_plans[id(tree)] = validated.plan_of(tree)
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


def patch_validator_checks() -> None:
    from moto.dynamodb.parsing.validators import (
        ActionCountValidator,
        OverlappingPathsValidator,
        UpdateExpressionValidator,
        UpdateHashRangeKeyValidator,
    )

    checks = (ActionCountValidator, OverlappingPathsValidator, UpdateHashRangeKeyValidator)
    init = UpdateExpressionValidator.__init__
    originals.update(validator_init=init, validator_validate=UpdateExpressionValidator.validate)

    def remembering_init(self: Any, expression: Any, *args: Any, **kwargs: Any) -> None:
        init(self, expression, *args, **kwargs)
        self._source_tree = expression  # the uncopied tree: the parse cache's own, or not

    def validate(self: Any) -> Any:
        node = self.node_to_validate
        inputs: Any = _MISSING  # worked out at the first check, once for all three
        if type(node) is Deferred:
            inputs = checked_trees.inputs(node.tree, self)
            passed = checked_trees.passed
            if inputs is not None and all(checked_trees.key(c, inputs, self) in passed for c in checks):
                built = validated.build(checked_trees.validation_plan(node.tree), self)
                if built is not None:
                    return built
            node = self.node_to_validate = copy_tree(node.tree)  # moto's way after all
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

    UpdateExpressionValidator.__init__ = remembering_init  # type: ignore[method-assign]
    UpdateExpressionValidator.validate = validate  # type: ignore[method-assign]


class Deferred:
    """A validator's copy of a simple expression's tree, not made yet: its validation may not need it."""

    __slots__ = ("tree",)

    def __init__(self, tree: Any) -> None:
        self.tree = tree


def copy_or_defer(tree: Any) -> Any:
    """moto's validators.deepcopy: a simple expression's tree of the parse cache deferred, anything else
    copied (copy_tree)."""
    if checked_trees.validation_plan(tree) is not None:
        return Deferred(tree)
    return copy_tree(tree)


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
