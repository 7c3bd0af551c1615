"""``manage.py ensure_admin`` and ``manage.py rundev``."""

from __future__ import annotations

import io
import os
import select
import signal
import socket
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from restoration.management.commands.rundev import Supervisor
from tests.support import wait_for_exit

# --- ensure_admin ---------------------------------------------------------------------------------


def ensure_admin() -> str:
    out = io.StringIO()
    call_command("ensure_admin", stdout=out)
    return out.getvalue()


@pytest.fixture
def no_admin_env(monkeypatch):
    monkeypatch.delenv("ARCHIVE_ADMIN_USER", raising=False)
    monkeypatch.delenv("ARCHIVE_ADMIN_PASSWORD", raising=False)


@pytest.mark.django_db
def test_generates_credentials_once_and_reuses_them(no_admin_env, archive_dirs):
    first = ensure_admin()

    path = archive_dirs.var / "admin_credentials.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    lines = dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    assert lines["password"] in first and str(path) in first
    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.is_staff and admin.check_password(lines["password"])
    assert admin.groups.filter(name="Curators").exists()

    second = ensure_admin()

    assert lines["password"] not in second and str(path) in second
    assert path.read_text().count("password=") == 1 and lines["password"] in path.read_text()
    assert get_user_model().objects.filter(is_superuser=True).count() == 1


@pytest.mark.django_db
def test_credentials_from_the_environment(monkeypatch, archive_dirs):
    monkeypatch.setenv("ARCHIVE_ADMIN_USER", "keeper")
    monkeypatch.setenv("ARCHIVE_ADMIN_PASSWORD", "a long passphrase 1")

    out = ensure_admin()

    keeper = get_user_model().objects.get(username="keeper")
    assert keeper.is_superuser and keeper.check_password("a long passphrase 1")
    assert "a long passphrase 1" not in out and not (archive_dirs.var / "admin_credentials.txt").exists()
    monkeypatch.setenv("ARCHIVE_ADMIN_PASSWORD", "another passphrase 2")
    ensure_admin()
    keeper.refresh_from_db()
    assert keeper.check_password("another passphrase 2")
    assert get_user_model().objects.count() == 1


@pytest.mark.django_db
def test_recreates_the_account_from_the_stored_file(no_admin_env):
    ensure_admin()
    password = dict(
        line.split("=", 1) for line in (Path(settings.VAR_DIR) / "admin_credentials.txt").read_text().splitlines()
        if line.startswith(("username", "password"))
    )["password"]
    get_user_model().objects.all().delete()

    assert "recreated" in ensure_admin()
    assert get_user_model().objects.get(username="admin").check_password(password)


@pytest.mark.django_db
def test_refuses_to_promote_an_existing_ordinary_account(no_admin_env, django_user_model):
    django_user_model.objects.create_user("admin", password="x")
    with pytest.raises(CommandError, match="not a superuser"):
        ensure_admin()
    assert not django_user_model.objects.get(username="admin").is_superuser


# --- rundev: the supervisor -----------------------------------------------------------------------


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): ask the process table for its state
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


# A child that says it is up, then blocks until it is signalled (no sleep, no timer).
SLEEPER = "import threading\nprint('up', flush=True)\nthreading.Event().wait()"


def _fifo(tmp_path: Path, name: str) -> str:
    """A named pipe: opening it blocks until the other end is opened, so two children can wait
    for each other without sleeping."""
    path = tmp_path / name
    os.mkfifo(path)
    return str(path)


def test_when_one_child_exits_the_other_is_stopped_and_the_status_kept(tmp_path):
    ready = _fifo(tmp_path, "worker-up")
    out = io.StringIO()
    supervisor = Supervisor(
        {
            # web waits until the worker has said it is up, then exits with status 3
            "web": python(f"import sys\nopen({ready!r}).read()\nprint('bye', flush=True)\nsys.exit(3)"),
            "worker": python(f"import threading\nprint('up', flush=True)\nopen({ready!r}, 'w').close()\n"
                             "threading.Event().wait()"),
        },
        out=out, grace=30,
    )

    assert supervisor.run() == 3

    assert supervisor.exited == ("web", 3)
    # stopped by SIGTERM at once, not killed after the grace period
    assert supervisor.processes["worker"].returncode == -signal.SIGTERM
    assert "[web] bye" in out.getvalue() and "[worker] up" in out.getvalue()


def test_a_child_exiting_cleanly_still_ends_the_run_as_a_failure():
    supervisor = Supervisor({"web": python("pass"), "worker": python(SLEEPER)}, out=io.StringIO(), grace=5)
    assert supervisor.run() == 1


class _StopWhenReady(io.StringIO):
    """The supervisor's output: stops it once the web child reports its own child's pid."""

    def __init__(self) -> None:
        super().__init__()
        self.supervisor: Supervisor | None = None
        self.grandchild: int | None = None

    def write(self, text: str) -> int:
        if text.startswith("[web] ready "):
            self.grandchild = int(text.split()[-1])
            self.supervisor.stop()
        return super().write(text)


def test_stop_terminates_children_and_their_own_children():
    spawner = (
        "import subprocess, sys, threading\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import threading; threading.Event().wait()'])\n"
        "print('ready', child.pid, flush=True)\n"
        "threading.Event().wait()\n"
    )
    out = _StopWhenReady()
    supervisor = Supervisor({"web": python(spawner), "worker": python(SLEEPER)}, out=out, grace=5)
    out.supervisor = supervisor

    assert supervisor.run() == 0

    assert out.grandchild is not None and wait_for_exit(out.grandchild)
    assert not alive(out.grandchild)
    assert all(p.poll() is not None for p in supervisor.processes.values())


def test_a_child_ignoring_sigterm_is_killed_after_the_grace_period(tmp_path):
    deaf = _fifo(tmp_path, "web-deaf")
    stubborn = (f"import signal, threading\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                f"open({deaf!r}, 'w').close()\nthreading.Event().wait()")
    # the worker ends the run once the web child ignores SIGTERM
    supervisor = Supervisor({"web": python(stubborn), "worker": python(f"open({deaf!r}).read()")},
                            out=io.StringIO(), grace=0.5)
    assert supervisor.run() == 1
    assert supervisor.processes["web"].returncode == -signal.SIGKILL


# --- rundev: the real command -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dev_env(tmp_path) -> dict:
    """Environment for a real ``manage.py`` in a subprocess: its own var dir and migrated database."""
    env = {**os.environ, "ARCHIVE_VAR_DIR": str(tmp_path / "devvar"), "PYTHONUNBUFFERED": "1"}
    env.pop("DATABASE_URL", None)  # a private SQLite file: never the CI database
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=settings.BASE_DIR, env=env, check=True,
        timeout=120,
    )
    return env


def _read_until(process: subprocess.Popen, wanted, seen: list[str], timeout: float = 120) -> bool:
    """Reads the process's output lines (into ``seen``) until one is ``wanted``; False at its
    end, or when nothing arrives for ``timeout`` seconds (a hang guard, not a measurement)."""
    if any(wanted(line) for line in seen):
        return True
    while select.select([process.stdout], [], [], timeout)[0]:
        line = process.stdout.readline().decode(errors="replace")
        if not line:
            return False
        seen.append(line)
        if wanted(line):
            return True
    return False


@pytest.mark.slow
def test_rundev_serves_and_stops_both_on_sigterm(dev_env):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundev", "--addr", f"127.0.0.1:{port}", "--grace", "5"],
        cwd=settings.BASE_DIR, env=dev_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=0,  # unbuffered: select sees every line
    )
    seen: list[str] = []
    try:
        # both children have said they are up: the web server listens, the cluster runs
        web_up = _read_until(process, lambda line: line.startswith("[web]") and "Quit the server" in line, seen)
        worker_up = _read_until(process, lambda line: line.startswith("[worker]") and "running" in line, seen)
        long_up = _read_until(process, lambda line: line.startswith("[long-worker]") and "running" in line, seen)
        assert web_up and worker_up and long_up, "".join(seen)
        assert any(line.startswith("[long-worker]") and "-long" in line for line in seen), "".join(seen)
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass
        children = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        assert len(children) == 3  # the web server, the default queue's cluster, the long queue's

        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        output = "".join(seen) + rest.decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    assert "[web]" in output and "[worker]" in output and "[long-worker]" in output
    assert output.count("has stopped") == 2  # django-q2 shut its workers down itself, within the grace period
    assert not any(alive(int(pid)) for pid in children)


@pytest.mark.slow
def test_rundev_with_gunicorn_serves_from_several_workers_with_debug_off(dev_env):
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "rundev", "--gunicorn", "2", "--addr", f"127.0.0.1:{port}", "--grace", "5"],
        cwd=settings.BASE_DIR, env={**dev_env, "DJANGO_DEBUG": "false"}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, bufsize=0,
    )
    seen: list[str] = []
    try:
        def both_booted(_line: str) -> bool:
            return sum(line.startswith("[web]") and "Booting worker" in line for line in seen) >= 2

        assert _read_until(process, both_booted, seen), "".join(seen)
        assert _read_until(process, lambda line: line.startswith("[worker]") and "running" in line, seen), "".join(seen)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/", timeout=30) as response:
            assert response.status == 200
        try:  # debug off: an unknown URL gets the plain 404, not the technical page
            urllib.request.urlopen(f"http://127.0.0.1:{port}/no-such-page/", timeout=30)
        except urllib.error.HTTPError as err:
            assert err.code == 404 and b"URLconf" not in err.read()
        web = subprocess.run(["pgrep", "-f", "--", f"-m gunicorn .*127.0.0.1:{port}"], capture_output=True, text=True)
        assert len(web.stdout.split()) == 3  # the master and its two workers

        process.send_signal(signal.SIGTERM)
        rest, _ = process.communicate(timeout=60)
        output = "".join(seen) + rest.decode(errors="replace")
    finally:
        if process.poll() is None:  # a failed assertion: let rundev stop its children, then make sure
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    assert process.returncode == 0, output
    assert not any(alive(int(pid)) for pid in web.stdout.split())


@pytest.mark.slow
def test_rundev_exits_non_zero_when_the_web_server_cannot_start(dev_env):
    result = subprocess.run(
        [sys.executable, "manage.py", "rundev", "--addr", "not-an-address", "--grace", "5"],
        cwd=settings.BASE_DIR, env=dev_env, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "web exited with status" in result.stdout + result.stderr
