"""moto's validation of a simple UpdateExpression, built in one step (see moto_dynamodb_speedups).

moto validates an UpdateExpression on a copy of its parsed tree by ten depth-first passes
(validators.UpdateExpressionValidator): three checks, then the `:value` placeholders made values, the
paths on the right of `=` resolved against the item, functions evaluated, missing paths refused,
operations done, and two checks on the values set. Under load the copy and the passes were about a sixth
of the embedded AWS's CPU (bench/README.md), for the two UpdateItems of every job, and moto validates a
new item's update twice.

For the expressions services write most, the tree those passes leave is built here directly, from a plan
of the parsed tree made once per parse (the parse cache's trees are never mutated). A simple expression
has SET and REMOVE clauses only; each action's path is one top-level attribute (a name, not a reserved
word, or a `#name` placeholder); each SET value is a `:value` placeholder or `if_not_exists(<such a
path>, :value)`. The tree is built only when moto's passes would succeed: the three checks passed before
for the same inputs (moto_dynamodb_trees.CheckedTrees), every placeholder is defined, and the last two
passes' checks (a key attribute's type; an empty key value) hold for the values found. Anything else
(another shape, an undefined placeholder, a check that would fail, anything raised while building) goes
moto's way, the copy and all ten passes, so moto raises its own errors in its own order.
tests/test_local_perf_moto_dynamodb_validated.py compares the trees built here with moto's.
"""

from __future__ import annotations

from typing import Any, NamedTuple

_FUNCTION = "if_not_exists"


class Plan(NamedTuple):
    """The validated tree of one parsed tree, less its values: its nodes in pre-order (class, type,
    parent index, children: ("node", index) / ("leaf", text) / ("value", slot index)); the name
    placeholders it needs; one slot per SET value (its `:value` placeholder, and for if_not_exists the
    attribute looked up: (is a placeholder, text)); and per SET action, its value's slot and the text
    moto's last two checks compare with the table's keys (the path's raw text, as moto compares it)."""

    classes: tuple[type, ...]
    rows: tuple[tuple[str, int, tuple[tuple[str, Any], ...]], ...]
    names: tuple[str, ...]
    slots: tuple[tuple[str, tuple[bool, str] | None], ...]
    set_checks: tuple[tuple[int, str], ...]


class _NotSimple(Exception):
    pass


def plan_of(tree: Any) -> Plan | None:
    """The plan of a parsed UpdateExpression tree, or None when the expression is not simple."""
    from moto.dynamodb.parsing import ast_nodes as ast
    from moto.dynamodb.parsing.reserved_keywords import ReservedKeywords

    keywords = set(ReservedKeywords.get_reserved_keywords())
    structural = {
        ast.UpdateExpression, ast.UpdateExpressionSetClause, ast.UpdateExpressionSetActions,
        ast.UpdateExpressionRemoveClause, ast.UpdateExpressionRemoveActions,
    }  # fmt: skip
    classes: list[type] = []
    rows: list[tuple[str, int, tuple[tuple[str, Any], ...]]] = []
    names: list[str] = []
    slots: list[tuple[str, tuple[bool, str] | None]] = []
    set_checks: list[tuple[int, str]] = []

    def children(node: Any, count: int) -> list[Any]:
        kids = node.children
        if not isinstance(kids, list) or len(kids) != count:
            raise _NotSimple
        return kids

    def attribute(path: Any) -> tuple[bool, str]:
        """A one-attribute path's (is a placeholder, text); the placeholder noted as needed."""
        if type(path) is not ast.UpdateExpressionPath:
            raise _NotSimple
        (element,) = children(path, 1)
        (text,) = children(element, 1)
        if type(text) is not str:
            raise _NotSimple
        if type(element) is ast.ExpressionAttributeName:
            names.append(text)
            return True, text
        if type(element) is ast.ExpressionAttribute and text.upper() not in keywords:
            return False, text
        raise _NotSimple

    def value_placeholder(node: Any) -> str:
        (text,) = children(node, 1)
        if type(node) is not ast.ExpressionAttributeValue or type(text) is not str:
            raise _NotSimple
        return text

    def copy(node: Any, parent: int) -> int:
        """The node copied as it is (a path, or the spine of clauses and actions)."""
        at = len(classes)
        classes.append(type(node))
        rows.append((node.type, parent, ()))
        kids: list[tuple[str, Any]] = []
        for child in node.children or []:
            kids.append(("leaf", child) if type(child) is str else ("node", copy(child, at)))
        rows[at] = (node.type, parent, tuple(kids))
        return at

    def visit(node: Any, parent: int) -> int:
        kind = type(node)
        if kind is ast.UpdateExpressionSetAction:
            path, value = children(node, 2)
            _, key = attribute(path)  # its raw text: what moto's last two checks compare
            (inner,) = children(value, 1)
            if type(value) is not ast.UpdateExpressionValue:
                raise _NotSimple
            if type(inner) is ast.UpdateExpressionFunction:
                function, looked_up, default = children(inner, 3)
                if function != _FUNCTION:
                    raise _NotSimple
                found = attribute(looked_up)
                slots.append((value_placeholder(default), found))
            else:
                slots.append((value_placeholder(inner), None))
            at = len(classes)
            classes.append(kind)
            rows.append((node.type, parent, ()))
            rows[at] = (node.type, parent, (("node", copy(path, at)), ("value", len(slots) - 1)))
            set_checks.append((len(slots) - 1, key))
            return at
        if kind is ast.UpdateExpressionRemoveAction:
            (path,) = children(node, 1)
            attribute(path)
            return copy(node, parent)
        if kind not in structural or not node.children:
            raise _NotSimple
        at = len(classes)
        classes.append(kind)
        rows.append((node.type, parent, ()))
        rows[at] = (node.type, parent, tuple(("node", visit(child, at)) for child in node.children))
        return at

    try:
        if type(tree) is not ast.UpdateExpression or tree.parent is not None:
            return None
        visit(tree, -1)
    except (_NotSimple, ValueError, AttributeError, IndexError):  # ValueError: unpacking the wrong count
        return None
    return Plan(tuple(classes), tuple(rows), tuple(dict.fromkeys(names)), tuple(slots), tuple(set_checks))


def build(plan: Plan, validator: Any) -> Any | None:
    """The tree moto's passes would leave for this validation, or None (then moto's passes)."""
    try:
        return _build(plan, validator)
    except Exception:  # noqa: BLE001 - whatever it is, moto's own passes raise it in their order
        return None


def _build(plan: Plan, validator: Any) -> Any | None:
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.parsing.ast_nodes import DDBTypedValue

    names = validator.expression_attribute_names
    values = validator.expression_attribute_values
    if not isinstance(values, dict) or (plan.names and not isinstance(names, dict)):
        return None
    if any(name not in names for name in plan.names):
        return None
    attrs = validator.item.attrs
    typed: list[Any] = []
    for placeholder, looked_up in plan.slots:
        if placeholder not in values:
            return None
        value = DynamoType(values[placeholder])  # made as moto's value pass makes it, used or not
        if looked_up is not None:
            is_name, text = looked_up
            try:
                value = attrs[names[text] if is_name else text]  # the item's own value, as moto resolves it
            except (KeyError, TypeError):
                pass  # not in the item: if_not_exists gives the placeholder's value
        typed.append(value)
    table = validator.table
    for slot, key in plan.set_checks:  # TypeMismatchValidator, EmptyStringKeyValueValidator
        value = typed[slot]
        if any(d["AttributeName"] == key and d["AttributeType"] != value.type for d in table.attr):
            return None
        if not value.value and value.type in ["S", "B"] and key in table.attribute_keys:
            return None
    nodes = [object.__new__(cls) for cls in plan.classes]
    for node, (kind, parent, kids) in zip(nodes, plan.rows, strict=True):
        made: list[Any] = []
        for what, ref in kids:
            if what == "node":
                made.append(nodes[ref])
            elif what == "leaf":
                made.append(ref)
            else:
                child = object.__new__(DDBTypedValue)
                child.__dict__ = {"type": "DDBTypedValue", "children": [typed[ref]], "parent": node}
                made.append(child)
        node.__dict__ = {"type": kind, "children": made, "parent": None if parent < 0 else nodes[parent]}
    return nodes[0]
