"""Which third-party packages a source tree imports (read from its syntax, nothing imported):
used by the lock tests (every import declared) and the native-library probe (what to load)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def third_party_imports(folder: Path, at_import: bool = False) -> set[str]:
    """Top-level modules imported under `folder` (`at_import`: only by module and class bodies,
    not inside functions), less the standard library and the tree's own modules."""
    local = {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*/")}
    found = set()
    for path in folder.rglob("*.py"):
        todo = [ast.parse(path.read_text())]
        while todo:
            node = todo.pop()
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
            elif not (at_import and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)):
                todo.extend(ast.iter_child_nodes(node))
    return found - set(sys.stdlib_module_names) - local - {"gra", "__future__"}
