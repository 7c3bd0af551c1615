"""Benchmarks of the job queue with real ``qcluster`` processes: the overhead of the queue path
(``--scenario overhead``, the default), and how long short jobs wait behind a long one
(``--scenario long-short``).

``overhead``:

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

``long-short``: one long job (``--long-size`` wide, a U-Net of base 32 made here) is submitted,
and once it runs, ``--short`` short jobs (``--size`` wide); printed per configuration, side by
side: how long the short jobs waited before a worker took them (``started_at - created_at``),
their latency, and the long job's run time. Configurations, each on the same machine, one after
the other, with the same total of torch threads:

- ``one worker``: one cluster, ``Q_WORKERS=1``, ``GAN_THREADS=2``, every job on one queue (before);
- ``two workers``: one cluster, ``Q_WORKERS=2``, ``GAN_THREADS=1``, one queue;
- ``long queue``: the default cluster (``Q_WORKERS=1``, ``GAN_THREADS=1``) and the long queue's
  (``Q_QUEUE=long``, the same), jobs split by ``JOB_LONG_WORK`` (what ``make run`` starts).

    .venv/bin/python bench/jobs.py --scenario long-short             # 1 long (2400 x 1800), 6 short
    .venv/bin/python bench/jobs.py --scenario long-short --long 2    # two long ones first

"long run" is the longest run (``finished_at - started_at``) of the long jobs.
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
    parser.add_argument("--scenario", choices=("overhead", "long-short"), default="overhead")
    parser.add_argument("--long-size", type=int, default=2400, help="Width of the long job's image (long-short).")
    parser.add_argument("--short", type=int, default=6, help="Short jobs behind the long one (long-short).")
    parser.add_argument("--long", type=int, default=1, help="Long jobs submitted first (long-short).")
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
    if args.scenario == "long-short":
        return long_short(args, work, env)
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


def _smooth_image(width: int, height: int, seed: int) -> bytes:
    """A gradient with a little noise: a photograph's PNG size, not random noise's."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = (x / width * 160 + y / height * 60)[..., None] + np.array([0, 20, 40], np.float32)
    pixels = np.clip(base + rng.normal(0, 3, (height, width, 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _start(work: Path, name: str, extra: dict[str, str]) -> tuple[subprocess.Popen, object]:
    log = open(work / f"qcluster-{name}.log", "wb")
    process = subprocess.Popen([sys.executable, str(ROOT / "manage.py"), "qcluster"], cwd=ROOT,
                               env={**os.environ, **extra}, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    return process, log


def _stop(process: subprocess.Popen, log) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    log.close()


def _wait(job_ids: list[int], processes: list[subprocess.Popen], work: Path, timeout: float = 900) -> list:
    from restoration.models import JobStatus, RestorationJob

    deadline = time.monotonic() + timeout
    while True:
        rows = list(RestorationJob.objects.filter(pk__in=job_ids).order_by("pk"))
        if all(job.status not in (JobStatus.QUEUED, JobStatus.RUNNING) for job in rows):
            failed = [(job.pk, job.status, job.error) for job in rows if job.status != JobStatus.SUCCEEDED]
            if failed:
                raise SystemExit(f"jobs did not succeed: {failed}; see the logs in {work}")
            return rows
        if any(p.poll() is not None for p in processes) or time.monotonic() > deadline:
            raise SystemExit(f"jobs {job_ids} did not finish; see the logs in {work}")
        time.sleep(0.05)


def long_short(args, work: Path, env: dict[str, str]) -> int:
    """One long job, then ``args.short`` short ones, under three worker configurations."""
    import torch
    from django.conf import settings

    from gan_engine import archs, checkpoints
    from restoration import jobs
    from restoration.core import services
    from restoration.models import JobStatus, RestorationJob

    torch.manual_seed(0)
    medium = {"base": 32, "mults": [1, 2], "enc_blocks": [0], "mid_blocks": 1, "dec_blocks": [0]}
    checkpoints.save_checkpoint(env["GAN_WEIGHTS_RESTORE"], archs.build_generator("unet", **medium),
                                {"task": "restore", "model_name": "bench-medium"})
    long_items = [
        services.ingest_upload(
            io.BytesIO(_smooth_image(args.long_size, args.long_size * 3 // 4, seed)), filename=f"long-{seed}.png",
            metadata={"identifier": f"long-{seed}"}, collection=None, user=None, route="cli").item
        for seed in range(args.long)
    ]
    short_items = [
        services.ingest_upload(io.BytesIO(_image(args.size, seed)), filename=f"short-{seed}.png",
                               metadata={"identifier": f"short-{seed}"}, collection=None, user=None, route="cli").item
        for seed in range(args.short + 2)  # two for warming up the workers
    ]
    long_work = args.long_size * (args.long_size * 3 // 4) / 1e6
    configurations = [
        ("one worker", [{"Q_WORKERS": "1", "GAN_THREADS": "2"}], 0.0),
        ("two workers", [{"Q_WORKERS": "2", "GAN_THREADS": "1"}], 0.0),
        ("long queue", [{"Q_WORKERS": "1", "GAN_THREADS": "1"},
                        {"Q_WORKERS": "1", "GAN_THREADS": "1", "Q_QUEUE": "long"}], long_work / 2),
    ]
    results = []
    for seed, (name, clusters, threshold) in enumerate(configurations, start=1):
        settings.JOB_LONG_WORK = threshold
        started = [_start(work, f"{seed}-{i}", extra) for i, extra in enumerate(clusters)]
        processes = [p for p, _ in started]
        try:
            # Warm-up: every worker imports torch and loads the model before the measurement.
            warm = [jobs.submit_job(item, task="restore", params={"seed": 100 + seed}, user=None).job.pk
                    for item in short_items[-2:]]
            if threshold:
                settings.JOB_LONG_WORK = 1e-9  # this one to the long queue's worker
                warm.append(jobs.submit_job(short_items[0], task="restore", params={"seed": 200 + seed},
                                            user=None).job.pk)
                settings.JOB_LONG_WORK = threshold
            _wait(warm, processes, work)

            long_jobs = [jobs.submit_job(item, task="restore", params={"seed": seed}, user=None).job.pk
                         for item in long_items]
            while RestorationJob.objects.filter(pk=long_jobs[0], status=JobStatus.QUEUED).exists():
                time.sleep(0.02)  # the (first) long job runs: now the short ones come
            short = [jobs.submit_job(item, task="restore", params={"seed": seed}, user=None).job.pk
                     for item in short_items[:args.short]]
            rows = {job.pk: job for job in _wait([*long_jobs, *short], processes, work)}
        finally:
            for process, log in started:
                _stop(process, log)
        waits = [(rows[pk].started_at - rows[pk].created_at).total_seconds() for pk in short]
        latencies = [(rows[pk].finished_at - rows[pk].created_at).total_seconds() for pk in short]
        long_run = max(rows[pk].duration.total_seconds() for pk in long_jobs)
        results.append((name, rows[long_jobs[0]].queue, long_run, waits, latencies))

    print(f"{args.long} long job(s) ({args.long_size} x {args.long_size * 3 // 4}, {long_work:.1f} MP) then {args.short} short "
          f"({args.size} x {args.size * 3 // 4}) restore jobs, U-Net base 32, Q_POLL={args.poll} s, "
          f"{os.cpu_count()} CPUs")
    print(f"{'configuration':<14} {'long run':>9} {'short: wait median':>19} {'max':>8} "
          f"{'latency median':>15} {'max':>8}")
    for name, queue, long_run, waits, latencies in results:
        print(f"{name:<14} {long_run:8.1f}s {statistics.median(waits):18.2f}s {max(waits):7.2f}s "
              f"{statistics.median(latencies):14.2f}s {max(latencies):7.2f}s   (long jobs on the {queue} queue)")
    if args.keep:
        print(f"kept {work}")
    else:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
