"""The report conversation's diagram (handlers/report.mmd) matches its ConversationHandler.

The diagram is for people; this test keeps it honest: every state of the ConversationHandler is a
node of the diagram and every node is a state, every callback the handler can call is named on an
arrow or in the note, and the copy in docs/ARCHITECTURE.md is the file itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from handlers import report

ROOT = Path(__file__).resolve().parent.parent
DIAGRAM = ROOT / "handlers" / "report.mmd"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"

# `A --> B: label` and `state "title" as A {`; `[*]` is the start or the end.
_ARROW = re.compile(r"^\s*(\[\*\]|\w+)\s*-->\s*(\[\*\]|\w+)\s*(?::\s*(.*))?$")
_COMPOSITE = re.compile(r'^\s*state\s+"[^"]*"\s+as\s+(\w+)')


def diagram_lines() -> list[str]:
    text = DIAGRAM.read_text(encoding="utf-8")
    return [line for line in text.splitlines() if not line.lstrip().startswith("%%")]


def diagram_nodes() -> tuple[set[str], set[str]]:
    """(state nodes, composite states) named by the diagram's arrows."""
    nodes: set[str] = set()
    composites: set[str] = set()
    for line in diagram_lines():
        if found := _COMPOSITE.match(line):
            composites.add(found.group(1))
        elif found := _ARROW.match(line):
            nodes.update(name for name in found.group(1, 2) if name != "[*]")
    return nodes - composites, composites


def state_names() -> dict[int, str]:
    """The ConversationHandler's states by value, named by their constants in handlers/report.py."""
    conversation = report.build_conversation()
    names: dict[int, str] = {}
    for value in conversation.states:
        constants = [
            name for name, v in vars(report).items()
            if name.isupper() and type(v) is int and v == value and not name.startswith("_")
        ]
        assert len(constants) == 1, f"state {value} should have one constant, has {constants}"
        names[value] = constants[0]
    return names


def callbacks() -> set[str]:
    conversation = report.build_conversation()
    handlers = [*conversation.entry_points, *conversation.fallbacks]
    for state_handlers in conversation.states.values():
        handlers.extend(state_handlers)
    return {handler.callback.__name__ for handler in handlers}


def test_every_state_is_drawn_and_every_node_is_a_state() -> None:
    nodes, composites = diagram_nodes()
    states = set(state_names().values())
    assert states - nodes == set(), "states missing from handlers/report.mmd"
    assert nodes - states == set(), "handlers/report.mmd draws states the conversation does not have"
    assert composites == {"open"}


def test_every_callback_is_named() -> None:
    text = "\n".join(diagram_lines())
    missing = {name for name in callbacks() if not re.search(rf"\b{name}\b", text)}
    assert missing == set(), f"callbacks missing from handlers/report.mmd: {sorted(missing)}"


def test_every_state_can_be_left_and_reached() -> None:
    """Each state has an arrow in and an arrow out (the composite counts for all of its states)."""
    into: set[str] = set()
    out_of: set[str] = set()
    for line in diagram_lines():
        if found := _ARROW.match(line):
            out_of.add(found.group(1))
            into.add(found.group(2))
    nodes, composites = diagram_nodes()
    assert "[*]" in into and "[*]" in out_of
    for node in nodes:
        assert node in into, f"nothing leads to {node}"
        assert node in out_of or composites & out_of, f"nothing leaves {node}"


def test_architecture_embeds_the_same_diagram() -> None:
    found = re.search(r"```mermaid\n(.*?)```", ARCHITECTURE.read_text(encoding="utf-8"), re.S)
    assert found is not None, "docs/ARCHITECTURE.md has no mermaid block"
    assert found.group(1) == DIAGRAM.read_text(encoding="utf-8")
