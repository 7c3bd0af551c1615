"""``manage.py rundev``: the development web server and the django-q2 workers, together: one
cluster for the default queue and, unless ``JOB_LONG_WORK`` is 0, one for the long jobs
(``Q_QUEUE=long``), so a long job never holds the short ones.

With ``--gunicorn N`` the web server is gunicorn with N worker processes instead of
``runserver``: the production recipe on one machine (``make serve-prod``, docs/deploy.md).

Both run as child processes, each in its own process group, with their output forwarded line by
line under a ``[web]`` / ``[worker]`` prefix. Ctrl-C or SIGTERM stops both (SIGTERM to each
group, SIGKILL after a grace period); if either exits on its own, the other is stopped and the
command exits non-zero.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Supervisor:
    """Runs named commands side by side until one exits or ``stop()`` is called."""

    def __init__(
        self, commands: Mapping[str, Sequence[str]], *, out: TextIO, grace: float = 10.0, poll: float = 0.2,
        env: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.commands = dict(commands)
        self.env = dict(env or {})  # extra environment variables per command
        self.out = out
        self.grace = grace
        self.poll = poll
        self.processes: dict[str, subprocess.Popen] = {}
        self._stop = threading.Event()
        self._write_lock = threading.Lock()
        self._readers: list[threading.Thread] = []
        self.exited: tuple[str, int] | None = None  # the child that ended the run on its own

    def stop(self) -> None:
        """Asks ``run`` to stop both children (safe from a signal handler or another thread)."""
        self._stop.set()

    def run(self) -> int:
        """0 after ``stop()``; else the exit status of the child that ended first (1 if it was 0)."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        try:
            for name, argv in self.commands.items():
                process = subprocess.Popen(
                    list(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**env, **self.env.get(name, {})},
                    start_new_session=True,  # its own group: Ctrl-C reaches us, and we stop it with its children
                    text=True, errors="replace", bufsize=1,
                )
                self.processes[name] = process
                reader = threading.Thread(target=self._forward, args=(name, process), daemon=True)
                reader.start()
                self._readers.append(reader)
            while not self._stop.wait(self.poll):
                for name, process in self.processes.items():
                    code = process.poll()
                    if code is not None:
                        self.exited = (name, code)
                        self._say(f"{name} exited with status {code}; stopping the others.")
                        return code or 1
            self._say("Stopping.")
            return 0
        finally:
            self._terminate_all()
            for reader in self._readers:
                reader.join(timeout=2)

    def _forward(self, name: str, process: subprocess.Popen) -> None:
        for line in process.stdout:
            with self._write_lock:
                self.out.write(f"[{name}] {line.rstrip()}\n")
                self.out.flush()

    def _say(self, message: str) -> None:
        with self._write_lock:
            self.out.write(f"[rundev] {message}\n")
            self.out.flush()

    def _signal_groups(self, sig: int) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, sig)  # the group leader's pid is the group id
            except ProcessLookupError:
                pass

    def _terminate_all(self) -> None:
        # SIGTERM to each child only: qcluster stops its own workers cleanly when its main process
        # is asked to (signalling the whole group makes it hang until killed).
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + self.grace
        for process in self.processes.values():
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
        self._signal_groups(signal.SIGKILL)  # whatever is left in the groups (workers, reloaders)
        for process in self.processes.values():
            process.wait()


class Command(BaseCommand):
    help = (
        "Run the development web server (runserver ADDR, without autoreload unless --reload) and the "
        "django-q2 workers (qcluster, and Q_QUEUE=long qcluster for long jobs unless JOB_LONG_WORK is 0) "
        "together. Ctrl-C or SIGTERM stops them all; if one exits, the others are stopped and the "
        "command exits non-zero."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000", help="Address and port of the web server.")
        parser.add_argument("--reload", action="store_true", help="Restart the web server when code changes.")
        parser.add_argument("--grace", type=float, default=10.0, help="Seconds to wait for a clean stop.")
        parser.add_argument("--gunicorn", type=int, default=0, metavar="WORKERS",
                            help="Serve with gunicorn and this many worker processes instead of runserver.")

    def handle(self, *args, addr: str, reload: bool, grace: float, gunicorn: int, **options) -> None:
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        if gunicorn > 0:
            # --timeout: a large upload or an uncached IIIF cut of a big image may take a while.
            web = [sys.executable, "-m", "gunicorn", settings.WSGI_APPLICATION.rsplit(".", 1)[0],
                   "--workers", str(gunicorn), "--bind", addr, "--timeout", "120",
                   "--chdir", str(settings.BASE_DIR), *(["--reload"] if reload else [])]
        else:
            web = [sys.executable, manage, "runserver", addr, *([] if reload else ["--noreload"])]
        worker = [sys.executable, manage, "qcluster"]
        commands = {"web": web, "worker": worker}
        if settings.JOB_LONG_WORK > 0:
            commands["long-worker"] = worker
        supervisor = Supervisor(commands, out=self.stdout, grace=grace, env={"long-worker": {"Q_QUEUE": "long"}})

        def on_signal(signum, frame) -> None:
            supervisor.stop()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            code = supervisor.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if code:
            name, status = supervisor.exited or ("a process", code)
            raise CommandError(f"{name} exited with status {status}.", returncode=code)
