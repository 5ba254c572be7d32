"""CPU time a process has used (Linux /proc): a cost per request that a busy shared
machine changes far less than it changes requests per second."""

import os
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of the process, all its threads."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (command) "
    user, system = int(fields[11]), int(fields[12])  # stat fields 14 and 15
    return (user + system) / TICKS_PER_S


def child_pids(pid: int) -> list[int]:
    """The process's children (`crm run`'s is its Tansu broker)."""
    children: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        children += [int(child) for child in (task / "children").read_text().split()]
    return children
