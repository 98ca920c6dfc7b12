"""Run an attack in a child process with an address-space limit, and measure the child's peak memory.

A failure to bound memory is then a test failure (MemoryError or a kill in the child), never a dead CI machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass

ADDRESS_SPACE = 2 * 2**30  # the child may map at most this much; peak resident memory must stay under PEAK_TARGET
PEAK_TARGET = 500 * 2**20


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    peak_bytes: int

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


# The child sets its own limit first thing: a preexec_fn would run between fork and exec in a process with
# threads (zarr's event loop, dask's pools), where it can deadlock on a lock another thread held at the fork.
# Its peak is VmHWM of its own memory map: getrusage's ru_maxrss survives exec, and a child started with vfork
# would report the (large) test process's peak.
PRELUDE = f"""
import atexit, resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({ADDRESS_SPACE}, {ADDRESS_SPACE}))
def _peak():
    with open("/proc/self/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print("NZI-PEAK", kb * 1024, file=sys.stderr, flush=True)
atexit.register(_peak)
"""
CLI = """
from nwbzarr_image.cli import main
sys.exit(main(sys.argv[1:]))
"""


def bounded_run(args: list[str], *, code: str | None = None, timeout: float = 300) -> Outcome:
    """Run ``code`` with ``sys.argv[1:] == args`` (the CLI with ``args`` when ``code`` is None) under the limit;
    the child reports its own peak resident memory when it exits."""
    program = PRELUDE + textwrap.dedent(code if code is not None else CLI)
    env = dict(os.environ, MALLOC_ARENA_MAX="2", OMP_NUM_THREADS="1")
    with subprocess.Popen([sys.executable, "-c", program, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, env=env) as child:
        try:
            stdout, stderr = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            stdout, stderr = child.communicate()
            raise AssertionError(f"{args} did not finish in {timeout} s (a hang): {stderr[-2000:]}") from None
    peaks = [int(line.split()[1]) for line in stderr.splitlines() if line.startswith("NZI-PEAK ")]
    rest = "\n".join(line for line in stderr.splitlines() if not line.startswith("NZI-PEAK "))
    return Outcome(child.returncode, stdout, rest, peaks[-1] if peaks else -1)
