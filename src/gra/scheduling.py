"""`gra schedule`: a Prefect server (the local one it starts, or PREFECT_API_URL) and the runner
that serves flows/schedule.py's two deployments, stopped together."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from rich.console import Console

from gra.config import ScheduleSettings
from gra.errors import UserError


def run_schedule(
    schedule: ScheduleSettings, root: Path, port: int | None, console: Console
) -> None:
    flows = root / "flows" / "schedule.py"
    if not flows.exists():
        raise UserError(f"{flows} not found: run `gra schedule` inside a GRA checkout")
    env = dict(os.environ)
    server = None
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if not env.get("PREFECT_API_URL"):
            port = port or schedule.prefect_port
            server = start_server(port, root, env)
            env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
            console.print(f"Prefect server and UI: http://127.0.0.1:{port}")
        console.print(
            f"retraining: cron '{schedule.retrain_cron}' ({schedule.timezone}); monitoring: "
            f"every {schedule.monitor_every_minutes:g} min; Ctrl+C stops both",
            highlight=False,
        )
        runner = subprocess.Popen([sys.executable, str(flows)], cwd=root, env=env)
        try:
            code = runner.wait()
        except KeyboardInterrupt:
            runner.send_signal(signal.SIGTERM)  # Prefect pauses its deployments and exits
            code = runner.wait(60)
        if code not in (0, -signal.SIGTERM, -signal.SIGINT, 130, 143):
            raise UserError(f"the Prefect runner exited with code {code}")
    except KeyboardInterrupt:
        pass
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()


def _interrupt(signum, frame) -> None:
    """SIGTERM (a service manager stopping us) ends both processes as Ctrl+C does."""
    raise KeyboardInterrupt


def start_server(port: int, root: Path, env: dict[str, str]) -> subprocess.Popen:
    """`prefect server start` on 127.0.0.1:port, waited for until healthy."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise UserError(
                f"port {port} is in use: pass --port, change schedule.prefect_port, or point "
                "PREFECT_API_URL at the Prefect server that is running there"
            )
    log_path = Path(env.get("PREFECT_HOME", root / ".gra" / "prefect")) / "server.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    prefect = str(Path(sys.executable).parent / "prefect")
    server = subprocess.Popen(
        [prefect, "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        cwd=root,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise UserError(f"the Prefect server stopped:\n{log_path.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    server.terminate()
    raise UserError(f"the Prefect server did not start in 120 s; its log: {log_path}")
