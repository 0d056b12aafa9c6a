"""Script entries for ScriptedModel in either protocol, from one protocol-neutral description.

An action is a tuple: ("write", path, content), ("edit", path, [(old, new), ...]),
("delete", path), ("read", path), ("list", path), ("run", command), ("finish", summary).
Edit texts are whole lines ending in a newline, as the text protocol sends them.
"""

from __future__ import annotations

from typing import Any

Step = tuple[Any, ...]

_TOOL_NAMES = {
    "write": "write_file",
    "edit": "edit_file",
    "delete": "delete_file",
    "read": "read_file",
    "list": "list_files",
    "run": "run_command",
    "finish": "finish",
}


def entry(protocol: str, *actions: Step, prose: str = "") -> dict[str, Any]:
    """One scripted reply doing `actions` in `protocol` ("text" or "tools")."""
    if protocol == "text":
        body = "".join(_text(action) for action in actions)
        return {"text": f"{prose}\n{body}" if prose else body}
    calls = [
        {"id": f"call_{i}", "name": _TOOL_NAMES[action[0]], "arguments": _arguments(action)}
        for i, action in enumerate(actions)
    ]
    return {"text": prose, "tool_calls": calls}


def prose_only(text: str = "I think I should look around first.") -> dict[str, Any]:
    """A reply with no action at all: a format error in both protocols."""
    return {"text": text}


def _text(action: Step) -> str:
    kind = action[0]
    if kind == "write":
        return f"@@WRITE {action[1]}\n{action[2]}@@END\n"
    if kind == "edit":
        pairs = "".join(f"@@OLD\n{old}@@NEW\n{new}" for old, new in action[2])
        return f"@@EDIT {action[1]}\n{pairs}@@END\n"
    if kind == "finish":
        return f"@@FINISH\n{action[1]}\n@@END\n"
    return f"@@{kind.upper()} {action[1]}\n"


def _arguments(action: Step) -> dict[str, Any]:
    kind = action[0]
    if kind == "write":
        return {"path": action[1], "content": action[2]}
    if kind == "edit":
        return {
            "path": action[1],
            "edits": [{"search": old, "replace": new} for old, new in action[2]],
        }
    if kind == "run":
        return {"command": action[1]}
    if kind == "finish":
        return {"summary": action[1]}
    return {"path": action[1]}
