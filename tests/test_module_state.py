"""What the bot remembers between updates lives on the services object (handlers/common.py), not in
module globals: a global outlives a restart in the same process and is shared by every bot started in it
(the tests start many), so one bot's staff cache or error throttle would leak into the next."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EMPTY_CALLS = {"dict", "list", "set", "defaultdict", "deque", "OrderedDict", "Counter", "WeakSet"}


def empty_container(node: ast.expr | None) -> bool:
    """`{}`, `[]`, `set()`, `defaultdict(list)` …: a container that starts empty, to be filled at run time."""
    if isinstance(node, ast.Dict | ast.List | ast.Set):
        return not (node.keys if isinstance(node, ast.Dict) else node.elts)
    if isinstance(node, ast.Call):
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        # set() or deque(); defaultdict(list) is given only its factory
        factory = name == "defaultdict" and all(isinstance(a, ast.Name | ast.Lambda) for a in node.args)
        return name in EMPTY_CALLS and (not node.args or factory)
    return False


def module_caches(path: Path) -> list[str]:
    found = []
    for statement in ast.parse(path.read_text(encoding="utf-8")).body:
        value = statement.value if isinstance(statement, ast.Assign | ast.AnnAssign) else None
        if empty_container(value):
            found.append(f"{path.relative_to(ROOT)}:{statement.lineno}")
    return found


def test_no_module_level_caches_in_bot_or_handlers() -> None:
    files = sorted((ROOT / "bot").rglob("*.py")) + sorted((ROOT / "handlers").rglob("*.py"))
    assert len(files) > 40
    assert [where for path in files for where in module_caches(path)] == []


def test_the_check_sees_a_cache() -> None:
    source = (
        "_seen: dict[int, float] = {}\n_tasks: set[asyncio.Task[None]] = set()\n"
        "_by: Any = defaultdict(list)\nKEEP = {1: 2}\n"
        "PUNCTUATION = set('，。')\nDIGITS = dict(zip('12', (1, 2)))\n"
    )
    values = [s.value for s in ast.parse(source).body if isinstance(s, ast.Assign | ast.AnnAssign)]
    assert [empty_container(v) for v in values] == [True, True, True, False, False, False]
