"""Every outbox event kind is emitted from exactly one function (read from the source).

A kind with two emitters drifts: two payload shapes, two dedupe keys, one consumer surprised.
The scan finds every call of `app.events.service.emit` / `emit_many` / `emit_new`, and of any
function that passes its own `kind` parameter on to them (`lockers.domain_events.emit`, the
alarms' `_emit`), resolves the kind (a literal, or a module constant, here or imported) and
groups the calling functions by kind.
"""

import ast
import functools
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from tests.test_import_layers import checker

ROOT = Path(__file__).resolve().parents[2]


BASE_EMITTERS = {
    ("app.events.service", "emit"),
    ("app.events.service", "emit_many"),
    ("app.events.service", "emit_new"),
}
# Kinds computed at run time, per emitting function, with the kinds they can produce.
DYNAMIC = {
    "app.groupbuys.closing:finalize_neighborhood": {"order.confirmed", "order.group_failed"},
}


@dataclass
class Module:
    name: str
    tree: ast.Module
    constants: dict[str, str]
    imports: dict[str, tuple[str, str | None]]  # local name -> (module, attribute or None)


@functools.cache
def _modules() -> dict[str, Module]:
    found: dict[str, Module] = {}
    for package in checker.SCANNED_PACKAGES:  # what the import-layer check reads
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            tree = ast.parse(path.read_text(encoding="utf-8"))
            constants: dict[str, str] = {}
            imports: dict[str, tuple[str, str | None]] = {}
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    constants.update(_literal_names(node.targets[0], node.value))
            for item in ast.walk(tree):
                if isinstance(item, ast.ImportFrom) and item.module:
                    for alias in item.names:
                        imports[alias.asname or alias.name] = (item.module, alias.name)
                elif isinstance(item, ast.Import):
                    for alias in item.names:
                        imports[alias.asname or alias.name] = (alias.name, None)
            found[name] = Module(name, tree, constants, imports)
    # Constants defined from other constants (`X = other_module.Y`), one level deep.
    for module in found.values():
        for node in module.tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name) and target.id not in module.constants:
                    value = _constant(found, module, node.value)
                    if value is not None:
                        module.constants[target.id] = value
    return found


def _literal_names(target: ast.expr, value: ast.expr) -> dict[str, str]:
    """`NAME = "text"` and `A, B = "a", "b"` at module level."""
    if isinstance(target, ast.Name) and isinstance(value, ast.Constant):
        return {target.id: value.value} if isinstance(value.value, str) else {}
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
        names: dict[str, str] = {}
        for one, other in zip(target.elts, value.elts, strict=False):
            names.update(_literal_names(one, other))
        return names
    return {}


def _target(module: Module, func: ast.expr) -> tuple[str, str] | None:
    """The (module, function) a call's callee names, when it is a module function."""
    if isinstance(func, ast.Name):
        if func.id in module.imports:
            source, attribute = module.imports[func.id]
            return (source, attribute) if attribute else None
        return (module.name, func.id)
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        imported = module.imports.get(func.value.id)
        if imported is None:
            return None
        source, attribute = imported
        return (f"{source}.{attribute}" if attribute else source, func.attr)
    return None


def _constant(modules: dict[str, Module], module: Module, node: ast.expr) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in module.constants:
            return module.constants[node.id]
        if node.id in module.imports:
            source, attribute = module.imports[node.id]
            owner = modules.get(source)
            if owner is not None and attribute is not None:
                return owner.constants.get(attribute)
        return None
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        imported = module.imports.get(node.value.id)
        if imported is not None:
            source, attribute = imported
            owner = modules.get(f"{source}.{attribute}" if attribute else source)
            if owner is not None:
                return owner.constants.get(node.attr)
    return None


def _functions(tree: ast.Module) -> list[tuple[str, ast.FunctionDef]]:
    out: list[tuple[str, ast.FunctionDef]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                out.append((f"{prefix}{child.name}", child))  # type: ignore[arg-type]
                visit(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")

    visit(tree, "")
    return out


def _kind_argument(call: ast.Call, params: list[str]) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "kind":
            return keyword.value
    if "kind" in params and params.index("kind") < len(call.args):
        return call.args[params.index("kind")]
    return None


@dataclass(frozen=True)
class Site:
    """A call inside a module function, with what the scan needs of it."""

    module: Module
    qualname: str
    params: tuple[str, ...]
    call: ast.Call
    target: tuple[str, str]


@functools.cache
def _call_sites() -> tuple[Site, ...]:
    """Every call of a module-level function, found once."""
    sites = []
    for module in _modules().values():
        for qualname, function in _functions(module.tree):
            params = tuple(a.arg for a in function.args.args + function.args.kwonlyargs)
            for call in ast.walk(function):
                if isinstance(call, ast.Call):
                    target = _target(module, call.func)
                    if target is not None:
                        sites.append(Site(module, qualname, params, call, target))
    return tuple(sites)


def emitters_by_kind() -> dict[str, set[str]]:
    """Every kind and the functions ("module:function") that emit it."""
    modules = _modules()
    emitters = {key: ("db_session", "kind") for key in BASE_EMITTERS}
    kinds: dict[str, set[str]] = defaultdict(set)
    unresolved: list[str] = []
    changed = True
    while changed:
        changed = False
        kinds.clear()
        unresolved.clear()
        for site in _call_sites():
            if site.target not in emitters:
                continue
            argument = _kind_argument(site.call, list(emitters[site.target]))
            if argument is None:
                continue
            forwarded = isinstance(argument, ast.Name) and argument.id == "kind"
            if forwarded and "kind" in site.params:
                key = (site.module.name, site.qualname)
                if key not in emitters:
                    emitters[key] = site.params
                    changed = True
                continue
            where = f"{site.module.name}:{site.qualname}"
            kind = _constant(modules, site.module, argument)
            if kind is not None:
                kinds[kind].add(where)
            elif where in DYNAMIC:
                for dynamic in DYNAMIC[where]:
                    kinds[dynamic].add(where)
            else:
                unresolved.append(f"{where} (line {site.call.lineno})")
    assert not unresolved, f"kinds the scan cannot read; name them in DYNAMIC: {unresolved}"
    return dict(kinds)


def test_every_kind_has_exactly_one_emitting_function() -> None:
    kinds = emitters_by_kind()
    twice = {kind: sorted(where) for kind, where in kinds.items() if len(where) > 1}
    assert twice == {}


def test_the_scan_sees_the_known_emitters() -> None:
    kinds = emitters_by_kind()
    assert kinds["parcel.reserved"] == {"logistics.reservation:emit_reserved_events"}
    assert kinds["parcel.cold_chain_flag"] == {"app.events.cold_chain:flag_parcel"}
    assert kinds["alarm.raised"] == {"ops_dashboard.alarm_states:raise_alarm"}
    assert {"order.placed", "order.confirmed", "order.group_failed"} <= set(kinds)
    assert len(kinds) >= 25


def test_nothing_writes_the_outbox_but_its_service() -> None:
    writers = []
    for module in _modules().values():
        if module.name == "app.events.service":
            continue
        for node in ast.walk(module.tree):
            if isinstance(node, ast.Call) and _writes_outbox(node):
                writers.append(f"{module.name} (line {node.lineno})")
    assert writers == []


def _writes_outbox(call: ast.Call) -> bool:
    """`OutboxEvent(...)` or `insert(OutboxEvent)`."""
    func = call.func
    if isinstance(func, ast.Name) and func.id == "OutboxEvent":
        return True
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    first = call.args[0] if call.args else None
    return name == "insert" and isinstance(first, ast.Name) and first.id == "OutboxEvent"
