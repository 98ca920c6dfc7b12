"""Named points of the write protocols, reported to an optional hook.

The crash tests install a hook that reports each step to the parent process and waits, so that the writer
can be killed right after step k, for every k. Without a hook a step costs one function call.
"""

from __future__ import annotations

from collections.abc import Callable

Hook = Callable[[str], None]

_hook: Hook | None = None


def set_hook(hook: Hook | None) -> Hook | None:
    """Install ``hook`` (called with each step's name, in the writing thread); returns the previous one."""
    global _hook
    previous, _hook = _hook, hook
    return previous


def step(name: str) -> None:
    """Report that the step ``name`` is done (its effects are on disk)."""
    if _hook is not None:
        _hook(name)
