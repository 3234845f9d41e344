"""moto's DynamoDB expressions, parsed once per distinct text (speed; the same answers).

The processor makes two UpdateItems per job (claim, then the final write), and moto's expression parsing
was the largest part of them: it parses each UpdateExpression and ConditionExpression twice per call (in
the handler and in the backend), every call, for the few texts services send (bench/README.md).
- An UpdateExpression's tree depends on its text alone and is never mutated (moto's validator works on a
  deep copy of it): kept per text.
- A ConditionExpression's parse depends on its text and on the placeholder names and values it looks up,
  and on nothing else: kept per text, reused only when every placeholder it looked up has the same value
  (its tree only evaluates). The placeholders moto records as used are recorded again from the kept parse.
Memoization only: moto's own parser makes every tree (tests/test_local_perf_moto.py compares answers).
"""

from __future__ import annotations

import copy
import functools
from typing import Any

from .moto_dynamodb_trees import checked_trees
from .registry import Patch, register

_MISSING = object()
PARSES_KEPT_PER_CONDITION = 16  # distinct looked-up values kept per condition text
CONDITIONS_KEPT = 512


def _update_expression_make(original: Any) -> Any:
    make = original.__func__  # a classmethod, bound to UpdateExpressionParser

    @functools.lru_cache(maxsize=512)
    def parse(cls: type, expression: str) -> Any:
        tree = make(cls, expression)  # an invalid one raises, and is not cached
        checked_trees.remember(tree)  # moto_dynamodb_trees: copied from a plan, checks remembered
        return tree

    def cached_make(cls: type, expression: str) -> Any:
        if isinstance(expression, str):
            return parse(cls, expression)
        return make(cls, expression)

    return classmethod(cached_make)


class _ConditionParse:
    """One parse of a condition text: the placeholders it looked up (with what it found), its tree, and the
    placeholders moto reports as used."""

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


def _condition_parse(parse: Any) -> Any:
    parses: dict[str, list[_ConditionParse]] = {}

    def cached_parse(self: Any) -> Any:
        text = self.condition_expression
        if not text or not isinstance(text, str):
            return parse(self)
        names, values = self.expression_attribute_names, self.expression_attribute_values
        for known in list(parses.get(text, ())):
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
            parses.clear()  # a bound, not a policy: services send a handful of condition texts
        kept = parses.setdefault(text, [])
        if len(kept) >= PARSES_KEPT_PER_CONDITION:
            del kept[0]
        kept.append(entry)
        return entry.tree

    return cached_parse


register(
    Patch(
        "moto.dynamodb.parsing.expressions:UpdateExpressionParser.make",
        _update_expression_make,
        "speed",
        "an update expression parsed once per text",
        "dynamodb-parse-cache",
        params=("expression_str",),
    ),
    Patch(
        "moto.dynamodb.comparisons:ConditionExpressionParser.parse",
        _condition_parse,
        "speed",
        "a condition parsed once per text and placeholder values",
        "dynamodb-parse-cache",
        params=("self",),
    ),
)
