"""Fixtures of the several-machines tests: an S3 server (moto in server mode, started by the test
run) for media, and the Redis broker and PostgreSQL that CI provides (``.ci/run``).

The S3 server is a real HTTP endpoint on a free local port: the test process and any ``qcluster``
it starts talk to it through boto3 and django-storages exactly as they would to a real store.
"""

from __future__ import annotations

import io
import itertools
import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

# Credentials of the moto server (it accepts any); never real ones.
S3_ACCESS_KEY = "test-access-key"
S3_SECRET_KEY = "test-secret-key"
S3_REGION = "us-east-1"
_buckets = itertools.count(1)


@dataclass(frozen=True)
class S3Media:
    """Where this test's media live: the bucket on the moto server, and a boto3 client on it."""

    endpoint_url: str
    bucket: str
    client: object  # a boto3 S3 client

    def keys(self) -> set[str]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
        return {entry["Key"] for page in pages for entry in page.get("Contents", [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def write(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def env(self) -> dict[str, str]:
        """The environment that points a subprocess (``qcluster``) at this bucket (settings.py)."""
        return {
            "ARCHIVE_STORAGE": "s3",
            "AWS_STORAGE_BUCKET_NAME": self.bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint_url,
            "AWS_S3_REGION_NAME": S3_REGION,
            "AWS_ACCESS_KEY_ID": S3_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_SECRET_KEY,
        }


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server in a thread of this test run, on a free port of 127.0.0.1."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per S3 request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_media(s3_endpoint, settings, archive_dirs) -> S3Media:
    """Default storage on a fresh bucket of the moto server, configured as ``ARCHIVE_STORAGE=s3``
    configures it (settings.py), for this test."""
    import boto3

    bucket = f"archive-test-{next(_buckets)}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name=S3_REGION,
                          aws_access_key_id=S3_ACCESS_KEY, aws_secret_access_key=S3_SECRET_KEY)
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket, "endpoint_url": s3_endpoint, "region_name": S3_REGION,
                "access_key": S3_ACCESS_KEY, "secret_key": S3_SECRET_KEY,
                "file_overwrite": False, "default_acl": None, "querystring_auth": True,
            },
        },
    }
    return S3Media(endpoint_url=s3_endpoint, bucket=bucket, client=client)


@pytest.fixture
def s3_ingest(s3_media, curator):
    """``s3_ingest(identifier, data=None, collection=None, **metadata)``: a new item's original,
    ingested through the service into the bucket."""
    from restoration.core import services
    from tests.support import image_bytes

    def _ingest(identifier: str, *, data: bytes | None = None, collection=None, **metadata):
        return services.ingest_upload(
            io.BytesIO(image_bytes() if data is None else data), filename=f"{identifier}.png",
            metadata={"identifier": identifier, **metadata}, collection=collection, user=curator, route="api",
        )

    return _ingest
