"""Peak memory of a child process, measured where the parent's size cannot leak into it.

``ru_maxrss`` of a child (``os.wait4``, or ``getrusage`` in the child) starts from the memory
of the process that spawned it: Linux keeps the larger of the two across ``execve``, so a
child of a 500 MB pytest reads at least 500 MB. ``VmHWM`` in ``/proc/self/status`` is the
high-water mark of the child's own address space, reset by ``execve``: the child prints it
as it exits.
"""

from __future__ import annotations

import subprocess
import sys

_WRAPPER = """
import runpy, sys
def _hwm():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                sys.stderr.write(f"\\nVMHWM {int(line.split()[1]) * 1024}\\n")
sys.argv = sys.argv[1:]
try:
    {run}
finally:
    _hwm()
"""


def peak_of(code: str, *args: str) -> tuple[int, int, str]:
    """(peak bytes, exit code, stderr without the measure) of ``python -c code args``."""
    wrapper = _WRAPPER.replace(
        "{run}", "exec(compile(sys.argv[0], '<code>', 'exec'), {'__name__': '__main__'})"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, code, *args], capture_output=True, text=True, check=False
    )
    return _split(proc)


def peak_of_cli(*args: str) -> tuple[int, int, str]:
    """(peak bytes, exit code, stderr without the measure) of ``demat args``."""
    wrapper = _WRAPPER.replace("{run}", "runpy.run_module('demat.cli', run_name='__main__')")
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, "demat", *args], capture_output=True, text=True, check=False
    )
    return _split(proc)


def _split(proc: subprocess.CompletedProcess[str]) -> tuple[int, int, str]:
    err, _, tail = proc.stderr.rpartition("\nVMHWM ")
    return int(tail.split()[0]), proc.returncode, err
