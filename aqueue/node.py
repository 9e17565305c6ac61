"""Which workers share this worker's pid space, and whether a pid still runs.

A worker's pid only means something on its own node: the same boot of the
same kernel, in the same pid namespace (two containers on one host may each
have a pid 7). On Linux the node is named by the boot id and the pid
namespace's inode; elsewhere it cannot be told, and workers rely on leases.
"""

from __future__ import annotations

import os
from pathlib import Path


def node_id() -> str | None:
    """This process's node, or None where it cannot be told."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        pid_namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        return None
    return f"{boot}/{pid_namespace}" if boot and pid_namespace else None


def pid_gone(pid: int) -> bool:
    """True only when no process has ``pid`` on this node.

    A pid reused by another process reads as alive: the dead worker's jobs
    then wait for their leases, as they would without this check.
    """
    if pid <= 0 or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: a process of another user holds the pid
        return False
    # A killed process its parent has not reaped yet still answers signal 0.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2 :].startswith("Z")
