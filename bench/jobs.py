"""Benchmark: the overhead of the job queue path, with a real ``qcluster``.

Sets up a throwaway archive (SQLite file, media folder, ORM broker) in a temporary folder, a
tiny checkpoint made with gan_engine, and ``--jobs`` small images; starts ``manage.py
qcluster`` (one worker) on it, then submits the jobs one after the other (each waits for the
previous one to finish, so no job waits behind another) and prints, per job:

- latency: ``finished_at - created_at`` (the row is committed and the message sent at once);
- model time: loading the model (first job of the worker only) plus inference, as measured by
  ``restoration.jobs.engine``;
- overhead = latency - model time: broker polling and pickup, the claim, fetching the original
  with its fixity check, XMP labels, the second fixity check, storing the derivative with its
  thumbnail, access copy and events, and the final update.

    .venv/bin/python bench/jobs.py                  # 20 jobs of 256 x 192 RGB
    .venv/bin/python bench/jobs.py --jobs 50 --size 512 --poll 0.2

The first job also pays for importing PyTorch and loading the model in the worker: it is
reported, and left out of the summary of the overhead (its model time includes the load).
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TINY_UNET = {"base": 8, "mults": [1, 2], "enc_blocks": [0], "mid_blocks": 1, "dec_blocks": [0]}


def _image(size: int, seed: int) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    height = size * 3 // 4
    pixels = rng.integers(0, 255, (height, size, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20, help="Jobs to run (default 20).")
    parser.add_argument("--size", type=int, default=256, help="Width of the images in pixels (default 256).")
    parser.add_argument("--poll", type=float, default=0.5, help="Q_POLL of the worker, seconds (default 0.5).")
    parser.add_argument("--keep", action="store_true", help="Keep the temporary folder.")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-jobs-"))
    env = {
        "DJANGO_SETTINGS_MODULE": "archive_site.settings",
        "ARCHIVE_VAR_DIR": str(work / "var"),
        "ARCHIVE_MEDIA_ROOT": str(work / "media"),
        "ARCHIVE_UPLOAD_TEMP_DIR": str(work),
        "DATABASE_URL": f"sqlite:///{work / 'bench.sqlite3'}",
        "ARCHIVE_STORAGE": "local",
        "GAN_WEIGHTS_RESTORE": str(work / "weights" / "restore.safetensors"),
        "GAN_DEVICE": "cpu",
        "GAN_THREADS": "1",
        "Q_WORKERS": "1",
        "Q_POLL": str(args.poll),
        "ARCHIVE_LOG_LEVEL": os.environ.get("ARCHIVE_LOG_LEVEL", "WARNING"),
    }
    env.pop("SQLITE_TEST_NAME", None)
    os.environ.update(env)
    os.environ.pop("Q_REDIS_URL", None)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    import torch
    from django.core.management import call_command

    from gan_engine import archs, checkpoints
    from restoration import jobs
    from restoration.core import services
    from restoration.models import JobStatus

    call_command("migrate", verbosity=0)
    torch.manual_seed(0)
    checkpoints.save_checkpoint(env["GAN_WEIGHTS_RESTORE"], archs.build_generator("unet", **TINY_UNET),
                                {"task": "restore", "model_name": "bench-tiny"})
    items = [
        services.ingest_upload(io.BytesIO(_image(args.size, seed)), filename=f"bench-{seed}.png",
                               metadata={"identifier": f"bench-{seed}"}, collection=None, user=None, route="cli").item
        for seed in range(args.jobs)
    ]

    log = open(work / "qcluster.log", "wb")
    worker = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT,
                              env=dict(os.environ), stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    rows = []
    try:
        for item in items:
            job = jobs.submit_job(item, task="restore", user=None).job
            deadline = time.monotonic() + 300
            while True:
                job.refresh_from_db()
                if job.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                    break
                if worker.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"job {job.pk} is {job.status}; see {work / 'qcluster.log'}")
                time.sleep(0.02)
            if job.status != JobStatus.SUCCEEDED:
                raise SystemExit(f"job {job.pk} {job.status}: {job.error}")
            latency = (job.finished_at - job.created_at).total_seconds()
            model = job.timings.get("load_model", 0.0) + job.timings.get("inference", 0.0)
            pickup = (job.started_at - job.created_at).total_seconds()
            rows.append((job.pk, latency, model, latency - model, pickup, job.timings))
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
        log.close()

    print(f"{args.jobs} jobs, {args.size} x {args.size * 3 // 4} RGB, 1 worker, Q_POLL={args.poll} s, "
          f"torch threads 1, {os.cpu_count()} CPUs")
    print(f"{'job':>4} {'latency':>9} {'model':>8} {'overhead':>9} {'pickup':>8}  steps (s)")
    for pk, latency, model, overhead, pickup, timings in rows:
        steps = ", ".join(f"{k} {v:.3f}" for k, v in timings.items())
        print(f"{pk:>4} {latency:9.3f} {model:8.3f} {overhead:9.3f} {pickup:8.3f}  {steps}")
    warm = [r[3] for r in rows[1:]] or [rows[0][3]]
    pickups = [r[4] for r in rows[1:]] or [rows[0][4]]
    print(f"first job (imports torch, loads the model): latency {rows[0][1]:.3f} s, model {rows[0][2]:.3f} s")
    print(f"overhead of the queue path, jobs 2..{len(rows)}: median {statistics.median(warm):.3f} s, "
          f"mean {statistics.fmean(warm):.3f} s, max {max(warm):.3f} s "
          f"(of which pickup median {statistics.median(pickups):.3f} s)")
    if args.keep:
        print(f"kept {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
