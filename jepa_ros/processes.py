"""The graph as separate node processes, started the way launch_ros starts them: each node's
executable in `<prefix>/lib/jepa_ros/` (or `python -m jepa_ros.nodes.<node>` from a checkout)
with `ros_arguments`. Used by the multi-process tests and the soak benchmark. ROS-free.
"""

from __future__ import annotations

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

from jepa_ros.graph import NodeSpec, ros_arguments


def node_command(name: str) -> list[str]:
    """How to run node `name`: the installed launcher if there is one, else the module."""
    executable = Path(sys.prefix) / 'lib' / 'jepa_ros' / name
    if executable.is_file():
        return [str(executable)]
    return [sys.executable, '-m', f'jepa_ros.nodes.{name}']


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), MB."""
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'no VmRSS for process {pid}')


class NodeProcesses:
    """One process per NodeSpec, logging to `logs/<node>.log`; kill, restart, stop them."""

    def __init__(self, specs: list[NodeSpec], logs: Path, env: dict[str, str]) -> None:
        self.specs = {s.executable: s for s in specs}
        self.logs = Path(logs)
        self.logs.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, 'PYTHONUNBUFFERED': '1', **env}
        self.running: dict[str, subprocess.Popen] = {}
        for name in self.specs:
            self.start(name)

    def start(self, name: str) -> None:
        with open(self.logs / f'{name}.log', 'a') as log:
            self.running[name] = subprocess.Popen(
                node_command(name) + ros_arguments(self.specs[name]), env=self.env, stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def kill(self, name: str) -> None:
        """SIGKILL, as a crash would."""
        process = self.running.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def interrupt(self, name: str, sig: int = signal.SIGINT, timeout_s: float = 10.0
                  ) -> tuple[int | None, float]:  # fmt: skip
        """Send `sig` (as Ctrl-C or a launch's shutdown would) and wait; returns the exit code
        (None if still running after `timeout_s`, then killed) and the seconds it took."""
        process = self.running.pop(name)
        started = time.monotonic()
        process.send_signal(sig)
        try:
            code = process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            code = None
        return code, time.monotonic() - started

    def log(self, name: str) -> str:
        """What node `name` printed so far (stdout and stderr, every start of it)."""
        return (self.logs / f'{name}.log').read_text(errors='replace')

    def rss_mb(self) -> dict[str, float]:
        return {name: rss_mb(p.pid) for name, p in self.running.items() if p.poll() is None}

    def stop_all(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGINT)
        for process in self.running.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        self.running = {}
