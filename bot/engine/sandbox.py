"""The Jinja2 sandbox rule messages render in, bounded in what a template can build.

Imported when a message template is compiled or parsed, not at start-up: a rule
pack the cache vouches for (bot/yamlcache.py) renders only the messages of the
rules that fire, and a scan without findings never needs Jinja at all.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from bot.engine import budget

# Bounds on what a template may make: the sandbox stops escapes, these stop a
# template from exhausting time or memory (``'x' * 10**9``, ``range`` in loops
# in loops, ``'%999999999d' % 1``, ``center(10**9)``).
MAX_TEMPLATE_CHARS = 4000
MAX_SEQUENCE = 10_000                     # longest string or list an operator or call may build
MAX_NUMBER_ARGUMENT = 10_000              # largest integer handed to a method or filter
MAX_RANGE_ITEMS = 1000
MAX_LOOP_NESTING = 2
# IssueView attributes backed by a Jira field that sources fetch only on demand.
_ATTRIBUTE_FIELDS = {"priority": "priority", "components": "components", "assignee": "assignee"}

_WIDE_FORMAT = re.compile(r"%[-+ #0]*(\*|\d{5,})|\{[^{}]*:[^{}]*(\*|\d{5,})")
_FORBIDDEN_NODES = {nodes.Macro: "macros", nodes.CallBlock: "call blocks", nodes.Import: "imports",
                    nodes.FromImport: "imports", nodes.Include: "includes", nodes.Extends: "extends"}


def _check_size(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > MAX_SEQUENCE:
        raise SecurityError(f"a message template may not build values longer than {MAX_SEQUENCE:,}")
    return value


def _check_arguments(args: tuple, kwargs: dict) -> None:
    for value in (*args, *kwargs.values()):
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_NUMBER_ARGUMENT:
            raise SecurityError(f"numbers above {MAX_NUMBER_ARGUMENT:,} are not allowed as arguments "
                                f"in a message template")
        if isinstance(value, str) and _WIDE_FORMAT.search(value):
            raise SecurityError("format widths of 10,000 or more are not allowed in a message template")


def _bounded_range(*args: int) -> range:
    _check_arguments(args, {})
    values = range(*args)
    if len(values) > MAX_RANGE_ITEMS:
        raise SecurityError(f"range() in a message template is limited to {MAX_RANGE_ITEMS:,} items")
    return values


class _Timed:
    """What a ``{% for %}`` loop iterates (set in ``compile_template``): the clock is checked at every step."""

    __slots__ = ("_values",)

    def __init__(self, values: Any):
        self._values = values

    def __len__(self) -> int:  # loop.length and friends
        return len(self._values)

    def __iter__(self):
        check = budget.check
        for value in self._values:
            check()
            yield value


_TIMED_LOOP = "govbot timed loop"  # a filter name no template can spell (it has spaces)


class MessageEnvironment(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox, bounded in the values a template can build."""

    intercepted_binops = frozenset(["*", "**", "%", "+", "//"])

    def getattr(self, obj: Any, attribute: str) -> Any:
        budget.check()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        budget.check()
        return super().getitem(obj, argument)

    def call_binop(self, context, operator: str, left: Any, right: Any) -> Any:
        budget.check()
        if operator == "**":
            if isinstance(right, (int, float)) and abs(right) > 100 or \
                    isinstance(left, (int, float)) and abs(left) > MAX_NUMBER_ARGUMENT:
                raise SecurityError("large powers are not allowed in a message template")
        if operator == "*":
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int) \
                        and len(sequence) * max(count, 0) > MAX_SEQUENCE:
                    raise SecurityError(f"a message template may not build values longer than {MAX_SEQUENCE:,}")
        if operator == "%" and isinstance(left, str):
            _check_arguments((left,), {})
        return _check_size(super().call_binop(context, operator, left, right))

    def call(self, __context, __obj, *args, **kwargs):  # noqa: N807 - Jinja's signature
        budget.check()
        _check_arguments(args, kwargs)
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def wrap_str_format(self, value: Any):
        """``'{:>9}'.format(...)`` in a template: no huge widths in the format string."""
        wrapped = super().wrap_str_format(value)
        if wrapped is not None:
            _check_arguments((value.__self__,), {})
        return wrapped


def _bounded_filter(name: str, function):
    """A filter whose parameters (not the value filtered) are bounded, as is what it returns."""
    skip = 2 if getattr(function, "jinja_pass_arg", None) else 1  # (context,) value, then parameters

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        budget.check()
        _check_arguments(args[skip:], kwargs)
        if name == "format" and len(args) >= skip:
            _check_arguments((args[skip - 1],), {})  # the value is the format string
        return _check_size(function(*args, **kwargs))

    return wrapper


ENVIRONMENT = MessageEnvironment(undefined=StrictUndefined, autoescape=False, trim_blocks=True,
                                 lstrip_blocks=True)
# Messages need no lorem ipsum, cyclers, joiners or namespaces (a namespace is how a
# loop could grow a string exponentially); ``range`` stays, bounded.
ENVIRONMENT.globals.clear()
ENVIRONMENT.globals["range"] = _bounded_range
ENVIRONMENT.filters = {name: _bounded_filter(name, function) for name, function in ENVIRONMENT.filters.items()}
ENVIRONMENT.filters[_TIMED_LOOP] = _Timed


def fields_read(source: str) -> set[str]:
    """Field names a message template reads (``issue.field('Name')`` with a literal name,
    ``issue.priority``...); ``bot.engine.templates.fields_read`` remembers them per template."""
    try:
        tree = ENVIRONMENT.parse(source)
    except TemplateSyntaxError:
        return set()
    names = set()
    for attribute in tree.find_all(nodes.Getattr):
        if isinstance(attribute.node, nodes.Name) and attribute.node.name == "issue" \
                and attribute.attr in _ATTRIBUTE_FIELDS:
            names.add(_ATTRIBUTE_FIELDS[attribute.attr])
    for call in tree.find_all(nodes.Call):
        target = call.node
        if (isinstance(target, nodes.Getattr) and target.attr == "field" and isinstance(target.node, nodes.Name)
                and target.node.name == "issue" and call.args and isinstance(call.args[0], nodes.Const)
                and isinstance(call.args[0].value, str)):
            names.add(call.args[0].value)
    return names


def compile_template(source: str):
    """Compile a message template; raises TemplateSyntaxError (also for what messages may not use)."""
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateSyntaxError(f"a message template is limited to {MAX_TEMPLATE_CHARS:,} characters "
                                  f"(this one has {len(source):,})", 1)
    tree = ENVIRONMENT.parse(source)
    for kind, what in _FORBIDDEN_NODES.items():
        found = next(tree.find_all(kind), None)
        if found is not None:
            raise TemplateSyntaxError(f"{what} are not allowed in a message template", found.lineno)
    _check_loop_nesting(tree)
    for loop in tree.find_all(nodes.For):
        # Every loop steps through _Timed, which checks the clock (a filter call, not a global,
        # so nothing new is visible to the template).
        loop.iter = nodes.Filter(loop.iter, _TIMED_LOOP, [], [], None, None, lineno=loop.lineno)
    return ENVIRONMENT.from_string(tree)


def _check_loop_nesting(tree) -> None:
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        for child in node.iter_child_nodes():
            if isinstance(child, nodes.For) and child.recursive:
                # ``loop(...)`` re-enters the loop with no depth the nesting check can see.
                raise TemplateSyntaxError("recursive loops are not allowed in a message template", child.lineno)
            inner = depth + isinstance(child, nodes.For)
            if inner > MAX_LOOP_NESTING:
                raise TemplateSyntaxError(f"loops nested more than {MAX_LOOP_NESTING} deep are not allowed "
                                          f"in a message template", child.lineno)
            stack.append((child, inner))


__all__ = ["ENVIRONMENT", "SecurityError", "TemplateSyntaxError", "compile_template", "fields_read"]
