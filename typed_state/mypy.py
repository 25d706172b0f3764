"""mypy plugin: field names given as strings are checked like attributes.

Enable it next to Pydantic's in ``mypy.ini`` (or ``[tool.mypy]`` in pyproject):

```python
[mypy]
plugins = pydantic.mypy, typed_state.mypy
```

Python's type system cannot say "the names of this class's fields", so without
the plugin ``state.lock("cout")`` type-checks and fails only when it runs.  With
it, mypy reports:

- a field name that the state does not have, in ``lock()``, ``mutate()``,
  ``notify()`` and ``widget()``: ``"Counter" has no field "cout"; maybe "count"?``;
- ``update()`` keyword arguments that are not fields, or of the wrong type,
  checked as if ``update`` were declared with one keyword per field;
- it types ``with state.mutate("items") as items`` with the field's type
  instead of ``Any``;
- ``value=`` next to ``**state.widget(...)`` in a Streamlit widget call;
- and it types the items of ``append``, ``set_item`` and ``del_item`` from the
  field: ``chat.append("messages", "hi")`` is an error when the messages are
  ``Message``, and ``set_item``'s key and value come from ``dict[K, V]`` (an
  ``int`` index and the item type for a list).

Attribute access (``state.cout``, ``state.count = "x"``), ``Model.get()`` and
``@shared_state`` need no plugin: they are typed by the library's own
annotations.  Names that are not literal strings are not checked.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from mypy.errorcodes import ErrorCode
from mypy.messages import best_matches, format_string_list
from mypy.nodes import ARG_NAMED_OPT, ARG_STAR2, CallExpr, DictExpr, TypeInfo, Var
from mypy.plugin import FunctionContext, MethodContext, MethodSigContext, Plugin
from mypy.typeops import try_getting_str_literals
from mypy.types import (
    CallableType,
    Instance,
    ProperType,
    Type,
    TypedDictType,
    get_proper_type,
)

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["plugin"]

_SHARED_STATE = "typed_state._model.SharedState"
_ITEM_METHODS = ("append", "set_item", "del_item")
_LOG = "typed_state._log.Log"
_LISTS = ("builtins.list", _LOG)
"""The fields item operations take as lists (indexed by int)."""
_METHODS = ("lock", "mutate", "notify", "update", "widget", "version", *_ITEM_METHODS)
FIELD_NAME = ErrorCode("typed-state-field", "Check field names given as strings", "General")
"""The error code of an unknown field name, for ``# type: ignore[typed-state-field]``."""


def plugin(version: str) -> type[Plugin]:
    """Entry point mypy calls with its version."""
    return TypedStatePlugin


class TypedStatePlugin(Plugin):
    """Checks the field names passed to SharedState's methods as strings."""

    def get_method_signature_hook(
        self, fullname: str
    ) -> Callable[[MethodSigContext], CallableType] | None:
        method = self._shared_state_method(fullname)
        if method == "update":
            return _update_signature
        if method in _ITEM_METHODS:
            return functools.partial(_item_signature, method)
        return None

    def get_function_hook(self, fullname: str) -> Callable[[FunctionContext], Type] | None:
        # st.slider(...): a module attribute holding the main container's bound method.
        if fullname.startswith("streamlit.") and fullname.count(".") == 1:
            return _check_widget_call
        return None

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        # st.sidebar.slider(...), form.slider(...): a container's method.
        if fullname.startswith("streamlit.delta_generator.DeltaGenerator."):
            return _check_widget_call
        method = self._shared_state_method(fullname)
        if method in ("lock", "notify", "widget", "version"):
            return _check_names
        if method == "update":
            return _check_if_versions
        if method == "mutate":
            return _mutate
        if method in _ITEM_METHODS:
            return functools.partial(_check_item_field, method)
        return None

    def _shared_state_method(self, fullname: str) -> str | None:
        """``"lock"`` for ``"app.Counter.lock"`` when Counter is a SharedState."""
        owner, _, method = fullname.rpartition(".")
        if method not in (
            "lock",
            "mutate",
            "notify",
            "update",
            "widget",
            "version",
            *_ITEM_METHODS,
        ):
            return None
        symbol = self.lookup_fully_qualified(owner)
        if symbol is None or not isinstance(symbol.node, TypeInfo):
            return None
        return method if symbol.node.has_base(_SHARED_STATE) else None


def _fields(state: ProperType) -> dict[str, Type] | None:
    """The fields of a SharedState instance type, name -> declared type."""
    if not isinstance(state, Instance) or not state.type.has_base(_SHARED_STATE):
        return None
    fields: dict[str, Type] = {}
    # Base classes first, so that a subclass re-declaring a field wins.
    for info in reversed(state.type.mro):
        if info.fullname == _SHARED_STATE or not info.has_base(_SHARED_STATE):
            continue
        for name, symbol in info.names.items():
            node = symbol.node
            if (
                isinstance(node, Var)
                and not node.is_inferred
                and not node.is_classvar
                and not name.startswith("_")
                and node.type is not None
            ):
                fields[name] = node.type
    return fields


def _named_fields(ctx: MethodContext, fields: dict[str, Type]) -> list[str]:
    """Check each literal name passed as a field; return those that are fields."""
    known = []
    for exprs, types in zip(ctx.args, ctx.arg_types, strict=True):
        for expr, typ in zip(exprs, types, strict=True):
            names = try_getting_str_literals(expr, typ)
            for name in names or []:
                if name in fields:
                    known.append(name)
                    continue
                owner = get_proper_type(ctx.type)
                owner_name = owner.type.name if isinstance(owner, Instance) else "state"
                message = f'"{owner_name}" has no field "{name}"'
                close = best_matches(name, list(fields), n=3)
                if close:
                    quoted = [f'"{c}"' for c in close]
                    message += f"; maybe {format_string_list(quoted)}?"
                ctx.api.fail(message, expr, code=FIELD_NAME)
    return known


_BINDING = "typed_state._widgets.WidgetBinding"
WIDGET_VALUE = ErrorCode("typed-state-widget", "Check widgets bound to a field", "General")
"""The error code of ``value=`` next to ``**state.widget(...)``."""


def _check_widget_call(ctx: MethodContext | FunctionContext) -> Type:
    """``st.slider(..., value=3, **knob.widget("level"))``: the field is the value, and
    Streamlit warns about a widget with both at run time (typed_state cannot see it)."""
    call = ctx.context
    if isinstance(call, CallExpr) and "value" in call.arg_names:
        for kind, arg in zip(call.arg_kinds, call.args, strict=True):
            bound = get_proper_type(ctx.api.get_expression_type(arg)) if kind == ARG_STAR2 else None
            if isinstance(bound, TypedDictType) and bound.fallback.type.fullname == _BINDING:
                ctx.api.fail(
                    "value= next to **state.widget(...): the field is the widget's value "
                    "(leave value= out)",
                    call,
                    code=WIDGET_VALUE,
                )
    return ctx.default_return_type


def _check_names(ctx: MethodContext) -> Type:
    fields = _fields(get_proper_type(ctx.type))
    if fields is not None:
        # Only the positional field names: keyword arguments (timeout) are typed already.
        names_ctx = ctx._replace(args=ctx.args[:1], arg_types=ctx.arg_types[:1])
        _named_fields(names_ctx, fields)
    return ctx.default_return_type


def _mutate(ctx: MethodContext) -> Type:
    fields = _fields(get_proper_type(ctx.type))
    if fields is None:
        return ctx.default_return_type
    names = _named_fields(ctx._replace(args=ctx.args[:1], arg_types=ctx.arg_types[:1]), fields)
    manager = get_proper_type(ctx.default_return_type)
    if len(names) != 1 or not isinstance(manager, Instance) or not manager.args:
        return ctx.default_return_type
    # The block gets a copy of the field's value: type it as the field (a Log's
    # copy is a list, as the selector overload says).
    draft = fields[names[0]]
    declared = get_proper_type(draft)
    if isinstance(declared, Instance) and declared.type.fullname == _LOG and declared.args:
        draft = ctx.api.named_generic_type("builtins.list", list(declared.args))
    return manager.copy_modified(args=[draft, *manager.args[1:]])


def _check_if_versions(ctx: MethodContext) -> Type:
    """The keys of ``update(..., if_versions={...})`` are field names."""
    fields = _fields(get_proper_type(ctx.type))
    if fields is None:
        return ctx.default_return_type
    for names, exprs in zip(ctx.arg_names, ctx.args, strict=True):
        for name, expr in zip(names, exprs, strict=True):
            if name == "if_versions" and isinstance(expr, DictExpr):
                keys = [key for key, _ in expr.items if key is not None]
                types = [ctx.api.get_expression_type(key) for key in keys]
                _named_fields(ctx._replace(args=[keys], arg_types=[types]), fields)
    return ctx.default_return_type


def _update_signature(ctx: MethodSigContext) -> CallableType:
    fields = _fields(get_proper_type(ctx.type))
    signature = ctx.default_signature
    if fields is None or ARG_STAR2 not in signature.arg_kinds:
        return signature
    # Replace ``**values: Any`` by one optional keyword per field.
    keep = [i for i, kind in enumerate(signature.arg_kinds) if kind != ARG_STAR2]
    state = get_proper_type(ctx.type)
    return signature.copy_modified(
        name=f"update of {state.type.name}" if isinstance(state, Instance) else signature.name,
        arg_types=[signature.arg_types[i] for i in keep] + list(fields.values()),
        arg_kinds=[signature.arg_kinds[i] for i in keep] + [ARG_NAMED_OPT] * len(fields),
        arg_names=[signature.arg_names[i] for i in keep] + list(fields),
    )


def _item_field(ctx: MethodContext | MethodSigContext) -> tuple[str, Instance] | None:
    """The field named by the first argument of an item method, and its type."""
    fields = _fields(get_proper_type(ctx.type))
    if fields is None or not ctx.args or len(ctx.args[0]) != 1:
        return None
    expr = ctx.args[0][0]
    names = try_getting_str_literals(expr, ctx.api.get_expression_type(expr))
    if not names or len(names) != 1 or names[0] not in fields:
        return None
    declared = get_proper_type(fields[names[0]])
    return (names[0], declared) if isinstance(declared, Instance) else None


def _item_signature(method: str, ctx: MethodSigContext) -> CallableType:
    """``append``'s items, ``set_item``'s key and value, ``del_item``'s key: from the field."""
    signature = ctx.default_signature
    found = _item_field(ctx)
    if found is None:
        return signature
    if signature.arg_types and isinstance(get_proper_type(signature.arg_types[0]), CallableType):
        return signature  # the selector overload: typed by the selector itself
    _, declared = found
    kind = declared.type.fullname
    if kind in _LISTS and declared.args:
        key: Type = ctx.api.named_generic_type("builtins.int", [])
        item = declared.args[0]
    elif kind == "builtins.dict" and len(declared.args) == 2:
        key, item = declared.args
    else:
        return signature
    if method == "append" and kind not in _LISTS:
        return signature
    wanted = {"items": item, "key": key, "value": item}
    return signature.copy_modified(
        arg_types=[
            wanted.get(name or "", typ)
            for name, typ in zip(signature.arg_names, signature.arg_types, strict=True)
        ]
    )


def _check_item_field(method: str, ctx: MethodContext) -> Type:
    """A name that is not a field, or a field that is not a list (a dict), is an error."""
    fields = _fields(get_proper_type(ctx.type))
    if fields is None:
        return ctx.default_return_type
    known = _named_fields(ctx._replace(args=ctx.args[:1], arg_types=ctx.arg_types[:1]), fields)
    found = _item_field(ctx)
    if len(known) == 1 and found is not None:
        name, declared = found
        kinds = _LISTS if method == "append" else (*_LISTS, "builtins.dict")
        if declared.type.fullname not in kinds:
            wanted = "a list" if method == "append" else "a list or a dict"
            ctx.api.fail(
                f'{method}() needs {wanted} field; "{name}" is "{declared.type.name}"',
                ctx.context,
                code=FIELD_NAME,
            )
    return ctx.default_return_type
