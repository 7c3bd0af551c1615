"""The web process reads which weights a job would use without importing PyTorch."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import save_tiny_checkpoint

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys, django
django.setup()
from restoration.jobs import engine
info = engine.weights_info("restore")
print(info.sha256, engine.available_tasks(), "torch" in sys.modules)
"""


def test_weights_info_and_available_tasks_do_not_import_torch(tmp_path):
    # Given a checkpoint named by the settings' environment variable
    weights = save_tiny_checkpoint(tmp_path / "restore.safetensors")
    env = {**os.environ, "GAN_WEIGHTS_RESTORE": str(weights), "ARCHIVE_VAR_DIR": str(tmp_path / "var"),
           "DJANGO_SETTINGS_MODULE": "archive_site.settings"}

    # When a fresh process asks the engine for the weights it would use
    done = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)

    # Then it knows the checksum and the task, and PyTorch was never imported
    assert done.returncode == 0, done.stderr
    sha, rest = done.stdout.split(" ", 1)
    assert len(sha) == 64 and "'restore'" in rest
    assert rest.strip().endswith("False")
