"""The workspace's views reach the data through the store's functions only: no SQL, no ORM
queries, no writes to model attributes in ``workspace/`` (those belong in ``store/``)."""

from __future__ import annotations

import ast
from pathlib import Path

from ..conftest import ROOT

SESSION_CALLS = {"get", "add", "add_all", "delete", "execute", "scalar", "scalars", "query", "flush", "merge"}
SESSION_NAMES = {"s", "db"}  # what the workspace calls a store session (Flask's is `session`)
OWN_OBJECTS = {"self", "g", "lm", "session", "app"}  # attributes the views may set: their own, Flask's
SQLALCHEMY_ALLOWED = {("sqlalchemy.orm", "Session"), ("sqlalchemy.orm", "sessionmaker")}  # type hints only


def _problems(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[str] = []
    model_names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sqlalchemy"):
            for alias in node.names:
                if (node.module, alias.name) not in SQLALCHEMY_ALLOWED:
                    out.append(f"{path.name}:{node.lineno} imports {node.module}.{alias.name}")
        elif isinstance(node, ast.Import) and any(a.name.startswith("sqlalchemy") for a in node.names):
            out.append(f"{path.name}:{node.lineno} imports sqlalchemy")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("store.models"):
            model_names.update(a.asname or a.name for a in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in SESSION_NAMES
            and node.func.attr in SESSION_CALLS
        ):
            out.append(f"{path.name}:{node.lineno} calls {node.func.value.id}.{node.func.attr}()")
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in model_names:
            out.append(f"{path.name}:{node.lineno} builds a {node.func.id} row")
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for t in targets:
            for sub in ast.walk(t):
                if (
                    isinstance(sub, ast.Attribute)
                    and isinstance(sub.ctx, ast.Store)
                    and not (isinstance(sub.value, ast.Name) and sub.value.id in OWN_OBJECTS)
                ):
                    out.append(f"{path.name}:{node.lineno} assigns .{sub.attr}")
    return out


def test_workspace_modules_use_the_store_not_the_orm() -> None:
    files = sorted((ROOT / "workspace").glob("*.py"))
    assert len(files) >= 10
    problems = [p for f in files for p in _problems(f)]
    assert not problems, problems
