"""Kill a writer at a chosen step: the child reports each step of the write protocols (the hook of
``nwbzarr_image.storage.steps``) through a pipe and waits for an answer; the parent answers, or kills it
with SIGKILL while it waits, so the disk holds exactly what the steps up to that one did."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence

PRELUDE = """
import os, sys, threading
from nwbzarr_image.storage import steps as _steps
_report = os.fdopen(int(os.environ["NZI_STEP_REPORT_FD"]), "w", buffering=1)
_answer = os.fdopen(int(os.environ["NZI_STEP_ANSWER_FD"]), "rb", buffering=0)
_one_at_a_time = threading.Lock()
def _hook(name):
    with _one_at_a_time:
        _report.write(name + "\\n")
        if _answer.read(1) != b".":
            os._exit(3)
_steps.set_hook(_hook)
"""

GO, KILL = "go", "kill"


def drive(script: str, args: Sequence[str], on_step: Callable[[int, str], str] | None = None
          ) -> tuple[list[str], bool]:
    """Run ``script`` with ``args``; ``on_step(k, name)`` (k from 1) says GO or KILL after each step.

    Returns the steps reported and whether the child was killed (else it must have exited 0).
    """
    report_r, report_w = os.pipe()
    answer_r, answer_w = os.pipe()
    env = {**os.environ, "NZI_STEP_REPORT_FD": str(report_w), "NZI_STEP_ANSWER_FD": str(answer_r)}
    child = subprocess.Popen([sys.executable, "-c", PRELUDE + script, *args], pass_fds=(report_w, answer_r),
                             env=env)
    os.close(report_w)
    os.close(answer_r)
    seen: list[str] = []
    with os.fdopen(report_r) as report, os.fdopen(answer_w, "wb", buffering=0) as answer:
        for line in report:
            seen.append(line.rstrip("\n"))
            if on_step is not None and on_step(len(seen), seen[-1]) == KILL:
                child.kill()
                child.wait()
                return seen, True
            answer.write(b".")
    assert child.wait() == 0, seen
    return seen, False


def kill_after(k: int) -> Callable[[int, str], str]:
    return lambda index, _name: KILL if index == k else GO
