"""Settings for the photo archive.

Every setting comes from an environment variable with an embedded default, so that a fresh
clone runs with nothing else: SQLite under ``var/``, media under ``var/media/``, django-q2's
ORM broker. ``DATABASE_URL`` selects PostgreSQL, ``Q_REDIS_URL`` a Redis broker and
``ARCHIVE_STORAGE=s3`` (with the ``AWS_*`` variables of django-storages) S3-compatible storage.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("ARCHIVE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def _secret_key() -> str:
    """The secret from the environment, else one generated once and kept under var/.

    A development secret is generated on the machine that uses it, never committed.
    """
    if os.environ.get("DJANGO_SECRET_KEY"):
        return os.environ["DJANGO_SECRET_KEY"]
    path = VAR_DIR / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = _secret_key()
# Off unless asked for (DJANGO_DEBUG=1): the debug page shows settings and the environment. With
# debug off, static files are still served (WhiteNoise below) and media only through the app's
# views, so `make run` works the same either way.
DEBUG = env_bool("DJANGO_DEBUG", False)
ALLOWED_HOSTS = [
    h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1],testserver").split(",")
    if h.strip()
]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: runserver leaves static files to WhiteNoise, as production does.
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_q",
    "axes",
    "restoration",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (the pages' CSS and JS, the admin's, Swagger UI's) in every mode, debug off included.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # A NUL in the path is a 400 before any view (archive_site/errors.py).
    "archive_site.errors.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as axes asks: turns a locked-out login into restoration.delivery.auth.lockout_response.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "archive_site.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "archive_site.wsgi.application"
ASGI_APPLICATION = "archive_site.asgi.application"

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'archive.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The web server and the workers (two clusters: the default queue's and the long one's) write
    # to the same file: wait for the lock rather than fail. Transactions take the write lock when
    # they begin (IMMEDIATE): a deferred one that reads, then writes while another process writes,
    # fails at once with "database is locked" whatever the timeout (bench/jobs.py --scenario
    # long-short showed it with two workers).
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=30, transaction_mode="IMMEDIATE")
    # Tests use an in-memory database unless a file is named (a worker process started by a
    # test needs a file it can open too).
    if os.environ.get("SQLITE_TEST_NAME"):
        DATABASES["default"]["TEST"] = {"NAME": os.environ["SQLITE_TEST_NAME"]}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

# --- Files ----------------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise reads it (empty until collectstatic)
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("ARCHIVE_MEDIA_ROOT", VAR_DIR / "media"))

# Local disk by default; ARCHIVE_STORAGE=s3 switches media to any S3-compatible store through
# django-storages, configured by its own AWS_* variables (bucket, endpoint, keys).
ARCHIVE_STORAGE = os.environ.get("ARCHIVE_STORAGE", "local")
if ARCHIVE_STORAGE == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": os.environ.get("AWS_STORAGE_BUCKET_NAME", "archive"),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL") or None,
            "region_name": os.environ.get("AWS_S3_REGION_NAME") or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_auth": True,
        },
    }
else:
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT), "base_url": "/" + MEDIA_URL},
    }
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# WhiteNoise serves STATIC_ROOT (filled by `manage.py collectstatic`, as in the production recipe)
# and, with finders on, the apps' static folders directly, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = env_bool("WHITENOISE_USE_FINDERS", True)
WHITENOISE_AUTOREFRESH = DEBUG
# Media are never served from MEDIA_URL: every stored file goes through a view that checks who asks
# (API downloads, IIIF), so nothing depends on Django's debug-only static serving.

# Uploads larger than this many bytes stream to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = env_int("ARCHIVE_UPLOAD_MEMORY_BYTES", 10 * 1024 * 1024)
FILE_UPLOAD_TEMP_DIR = os.environ.get("ARCHIVE_UPLOAD_TEMP_DIR") or None
# The first handler refuses a non-image from its first 64 KiB, before the rest is written anywhere
# (restoration/delivery/uploads.py); Django's two handlers follow.
FILE_UPLOAD_HANDLERS = [
    "restoration.delivery.uploads.ImageSniffingUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("ARCHIVE_DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# --- Archive policy ---------------------------------------------------------------------------
# Largest accepted image, in pixels (width x height of the first page): bigger files are refused
# as decompression bombs before any pixel is decoded.
ARCHIVE_MAX_IMAGE_PIXELS = env_int("ARCHIVE_MAX_IMAGE_PIXELS", 250_000_000)
# Largest accepted upload, in bytes.
ARCHIVE_MAX_UPLOAD_BYTES = env_int("ARCHIVE_MAX_UPLOAD_BYTES", 2 * 1024**3)
# Long side of thumbnails and of access JPEGs, in pixels.
ARCHIVE_THUMBNAIL_SIZE = env_int("ARCHIVE_THUMBNAIL_SIZE", 256)
ARCHIVE_ACCESS_SIZE = env_int("ARCHIVE_ACCESS_SIZE", 2048)
ARCHIVE_ACCESS_QUALITY = env_int("ARCHIVE_ACCESS_QUALITY", 88)
# Whether derivatives no curator has reviewed yet ("pending") of public items are shown to the
# public; accepted ones always are, rejected and withdrawn ones never (curators see all).
ARCHIVE_PUBLIC_PENDING_DERIVATIVES = env_bool("ARCHIVE_PUBLIC_PENDING_DERIVATIVES", False)
# TIFF structure refused at ingest (core.imaging.TiffLimits): directory entries per page, strips
# or tiles per page, pages. Files beyond these are built to be slow to open, not archival scans.
ARCHIVE_MAX_TIFF_TAGS = env_int("ARCHIVE_MAX_TIFF_TAGS", 1000)
ARCHIVE_MAX_TIFF_CHUNKS = env_int("ARCHIVE_MAX_TIFF_CHUNKS", 100_000)
ARCHIVE_MAX_TIFF_PAGES = env_int("ARCHIVE_MAX_TIFF_PAGES", 1000)

# --- REST API ---------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "restoration.delivery.api.filters.StrictOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": env_int("ARCHIVE_API_PAGE_SIZE", 50),
    "DEFAULT_SCHEMA_CLASS": "restoration.delivery.api.schema.ArchiveAutoSchema",
    "EXCEPTION_HANDLER": "restoration.delivery.api.exceptions.exception_handler",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Photo archive restoration API",
    "DESCRIPTION": "Archival items, their image versions and PREMIS provenance.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Background work (django-q2) ---------------------------------------------------------------
# One machine: the ORM broker in the default database, nothing else to run. Several worker
# machines: set Q_REDIS_URL (and DATABASE_URL to a shared PostgreSQL).
Q_CLUSTER = {
    "name": os.environ.get("Q_CLUSTER_NAME", "archive"),
    "workers": env_int("Q_WORKERS", 1),
    "recycle": env_int("Q_RECYCLE", 50),
    "timeout": env_int("Q_TIMEOUT", 3600),
    "retry": env_int("Q_RETRY", 3700),
    "max_attempts": env_int("Q_MAX_ATTEMPTS", 1),
    "queue_limit": env_int("Q_QUEUE_LIMIT", 4),
    "catch_up": False,
    "save_limit": env_int("Q_SAVE_LIMIT", 250),
    "poll": float(os.environ.get("Q_POLL", "0.5")),
    "label": "Django Q2",
}
if os.environ.get("Q_REDIS_URL"):
    Q_CLUSTER["redis"] = os.environ["Q_REDIS_URL"]
else:
    Q_CLUSTER["orm"] = "default"
# Jobs predicted long (JOB_LONG_WORK) go to a queue of their own, "<name>-long", so a long job
# never holds the short ones. A qcluster started with Q_QUEUE=long serves it (`make run` starts
# both); it leaves the schedules (the reaper) to the default cluster, whose queue stays short.
JOB_LONG_QUEUE_NAME = f"{Q_CLUSTER['name']}-long"
if os.environ.get("Q_QUEUE", "default") == "long":
    Q_CLUSTER.update(cluster_name=JOB_LONG_QUEUE_NAME, scheduler=False)
elif os.environ.get("Q_QUEUE", "default") != "default":
    raise ImproperlyConfigured(f"Q_QUEUE is 'default' or 'long', not {os.environ['Q_QUEUE']!r}.")

# --- Restoration jobs (restoration.jobs.engine, restoration.jobs) ------------------------------------
# Where the GAN runs: "auto" (first CUDA device, else CPU), "cpu" or "cuda:N" (one worker machine
# per GPU: start each qcluster with its own GAN_DEVICE).
GAN_DEVICE = os.environ.get("GAN_DEVICE", "auto")
# torch.set_num_threads in each worker process; 0 leaves PyTorch's default (all cores).
GAN_THREADS = env_int("GAN_THREADS", 0)
# Default tile side in pixels (a job's "tile" parameter overrides it; it never changes the result).
GAN_TILE = env_int("GAN_TILE", 512)
# The tasks this installation offers (comma-separated; an archive may leave style transfer out, say).
# A task offered here is available when one of its variants can run (restoration.jobs.engine).
GAN_TASKS = tuple(t.strip() for t in os.environ.get("GAN_TASKS", "restore,colorize,upscale,style").split(",")
                  if t.strip())
# Weights files: GAN_WEIGHTS_<KEY> names a file, else <GAN_WEIGHTS_DIR>/<key>.safetensors (its model
# card beside it, <key>.json). One key per task, and one per scale and variant for the upscaler
# (e.g. GAN_WEIGHTS_UPSCALE_X4_FAITHFUL). "style" is the feed-forward style model; the style
# methods "color" and "optimize" use no weights file.
GAN_WEIGHTS_DIR = Path(os.environ.get("GAN_WEIGHTS_DIR", BASE_DIR / "gan_engine" / "weights"))
GAN_WEIGHTS = {
    key: Path(os.environ.get(f"GAN_WEIGHTS_{key.upper()}") or GAN_WEIGHTS_DIR / f"{key}.safetensors")
    for key in (
        "restore", "colorize", "style",
        "upscale_x2_faithful", "upscale_x2_gan", "upscale_x4_faithful", "upscale_x4_gan",
        # restore's damage stage (repair_damage): gan_engine's shipped detector and inpainter.
        "damage_detector", "damage_inpainter",
    )
}
# The feature network of the style method "optimize": a torchvision VGG19 state dict, else (unset)
# gan_engine's seeded random multi-scale filters. Same variable as gan_engine's own.
GAN_VGG19_WEIGHTS = Path(os.environ["GAN_VGG19_WEIGHTS"]) if os.environ.get("GAN_VGG19_WEIGHTS") else None
# Largest upscaled image a job may produce (pixels); a larger request is refused when submitted.
GAN_UPSCALE_MAX_PIXELS = env_int("GAN_UPSCALE_MAX_PIXELS", 400_000_000)
# Runs of a job (first run included) before a transient failure (out of memory, I/O error, a
# worker that died) fails it for good.
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
# A running job whose worker has written no progress for this long is taken as dead by the
# reaper (scheduled every minute, and `manage.py reap_jobs`): re-queued, or failed when out of
# attempts. Longer than the slowest tile strip of the largest image on the slowest device.
JOB_STALE_SECONDS = env_int("JOB_STALE_SECONDS", 900)
# Least seconds between two progress writes of a running job (also its heartbeat).
JOB_PROGRESS_INTERVAL = float(os.environ.get("JOB_PROGRESS_INTERVAL", "2.0"))
# A job whose predicted work (restore-megapixels: source megapixels x the task's cost, see
# docs/jobs.md "Long jobs") reaches this goes to the long queue; 0 sends every job to one queue.
JOB_LONG_WORK = float(os.environ.get("JOB_LONG_WORK", "16"))
# Jobs one account may have queued or running at once (0: no limit); more is refused (API: 429).
JOB_MAX_ACTIVE_PER_USER = env_int("JOB_MAX_ACTIVE_PER_USER", 20)

# --- Interoperability: IIIF, OAI-PMH, BagIt (docs/interop.md) ----------------------------------
# Scheme and host of the absolute URLs in IIIF documents and OAI-PMH responses, e.g.
# "https://archive.example.org"; empty: taken from each request.
ARCHIVE_BASE_URL = os.environ.get("ARCHIVE_BASE_URL", "")
# Organisation named in OAI-PMH Identify and in bag-info.txt (Source-Organization).
ARCHIVE_ORGANIZATION = os.environ.get("ARCHIVE_ORGANIZATION", "Photo archive")
# IIIF Image API: tile side, largest output (pixels; 0 = no limit), JPEG quality, where cut
# images are cached (empty: <ARCHIVE_VAR_DIR>/cache/iiif; safe to delete at any time) and how
# long clients may keep them (seconds).
IIIF_TILE_SIZE = env_int("IIIF_TILE_SIZE", 512)
IIIF_MAX_AREA = env_int("IIIF_MAX_AREA", 16_777_216)
IIIF_MAX_WIDTH = env_int("IIIF_MAX_WIDTH", 0)
IIIF_JPEG_QUALITY = env_int("IIIF_JPEG_QUALITY", 85)
IIIF_MAX_HEIGHT = env_int("IIIF_MAX_HEIGHT", 0)
IIIF_CACHE_DIR = os.environ.get("IIIF_CACHE_DIR", "")
IIIF_CACHE_MAX_AGE = env_int("IIIF_CACHE_MAX_AGE", 86400)
# Size cap of that disk cache in bytes: past it, the least recently used images are removed.
IIIF_CACHE_MAX_BYTES = env_int("IIIF_CACHE_MAX_BYTES", 2 * 1024**3)
# Image decodes at once in one web process; a request that waits longer than IIIF_DECODE_WAIT
# seconds for a turn is answered 503 with Retry-After (IIIF_RETRY_AFTER seconds).
IIIF_MAX_CONCURRENT_DECODES = env_int("IIIF_MAX_CONCURRENT_DECODES", 4)
IIIF_DECODE_WAIT = float(os.environ.get("IIIF_DECODE_WAIT", "10"))
IIIF_RETRY_AFTER = env_int("IIIF_RETRY_AFTER", 5)
# Access copies (restoration.core.pyramid): tiled, pyramidal TIFFs made at ingest, served from.
# Tile side, compression ("jpeg", the default: lossy, for viewing; "deflate": lossless, twice the
# disk, 8 times slower to make; see docs/interop.md) and the JPEG quality.
IIIF_PYRAMID_TILE = env_int("IIIF_PYRAMID_TILE", 256)
# False: cut every image from the stored file itself (the direct path; bench/iiif_tiles.py compares).
IIIF_ACCESS_COPIES = env_bool("IIIF_ACCESS_COPIES", True)
IIIF_PYRAMID_COMPRESSION = os.environ.get("IIIF_PYRAMID_COMPRESSION", "jpeg")
IIIF_PYRAMID_QUALITY = env_int("IIIF_PYRAMID_QUALITY", 90)
# When media storage has no local path (S3), access copies are read from local copies kept here
# (empty: <ARCHIVE_VAR_DIR>/cache/access; safe to delete) up to this many bytes, LRU.
IIIF_ACCESS_CACHE_DIR = os.environ.get("IIIF_ACCESS_CACHE_DIR", "")
IIIF_ACCESS_CACHE_MAX_BYTES = env_int("IIIF_ACCESS_CACHE_MAX_BYTES", 20 * 1024**3)
# OAI-PMH: repository name, administrator's address, the domain of oai: identifiers, records per
# list response (then a resumption token), and how long a resumption token stays valid (seconds).
OAI_REPOSITORY_NAME = os.environ.get("OAI_REPOSITORY_NAME", "Photo archive")
OAI_ADMIN_EMAIL = os.environ.get("OAI_ADMIN_EMAIL", "archive@example.org")
OAI_REPOSITORY_IDENTIFIER = os.environ.get("OAI_REPOSITORY_IDENTIFIER", "photo-archive.example.org")
OAI_PAGE_SIZE = env_int("OAI_PAGE_SIZE", 100)
OAI_TOKEN_MAX_AGE = env_int("OAI_TOKEN_MAX_AGE", 86400)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("ARCHIVE_LOG_LEVEL", "INFO")},
    "loggers": {
        "django": {"level": os.environ.get("DJANGO_LOG_LEVEL", "INFO"), "propagate": True},
        # axes logs every login at INFO; failures and lockouts are warnings.
        "axes": {"level": os.environ.get("AXES_LOG_LEVEL", "WARNING"), "propagate": True},
        # libvips reports every finished thread pool at INFO.
        "pyvips": {"level": "WARNING"},
    },
}

LOGIN_URL = "/admin/login/"

# --- Logins: failed ones are throttled (django-axes; restoration/delivery/auth.py) ------------
# axes' backend first: a locked-out caller is refused before any password is compared.
AUTHENTICATION_BACKENDS = [
    "restoration.delivery.auth.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Failures of one account from one address before it is locked out (the next try, even with the
# right password, is refused) ...
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# ... of one address whatever the accounts, and of one account whatever the addresses.
LOGIN_FAILURE_LIMIT_PER_ADDRESS = env_int("LOGIN_FAILURE_LIMIT_PER_ADDRESS", 20)
LOGIN_FAILURE_LIMIT_PER_ACCOUNT = env_int("LOGIN_FAILURE_LIMIT_PER_ACCOUNT", 50)
# How long a lockout lasts (failures older than this no longer count), in minutes.
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_COOLOFF_MINUTES", 15))
# A successful login clears that account's failures from its address.
AXES_RESET_ON_SUCCESS = True
AXES_HANDLER = "restoration.delivery.auth.LoginThrottleHandler"
AXES_LOCKOUT_CALLABLE = "restoration.delivery.auth.lockout_response"
# The client address is REMOTE_ADDR. Behind a reverse proxy, name the header it sets, e.g.
# LOGIN_CLIENT_IP_HEADER=HTTP_X_FORWARDED_FOR (never a header clients can set themselves).
AXES_IPWARE_META_PRECEDENCE_ORDER = tuple(
    h for h in (os.environ.get("LOGIN_CLIENT_IP_HEADER", ""), "REMOTE_ADDR") if h
)
AXES_IPWARE_PROXY_COUNT = env_int("LOGIN_PROXY_COUNT", 0) or None
# The debug page and error reports mask connection strings (DATABASE_URL, Q_REDIS_URL, any URL
# with a password) besides Django's KEY/SECRET/PASS/TOKEN names (archive_site/errors.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "archive_site.errors.SecretMaskingFilter"
