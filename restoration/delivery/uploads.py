"""An upload handler that refuses a non-image from its first bytes, before the rest arrives.

Django's default handlers copy a whole upload to a temporary file before any view runs, and the
ingest service then copies it once more while hashing: a 1.5 GB non-image took 21 s and twice its
size in temporary space to be refused. ``ImageSniffingUploadHandler`` (first in
``FILE_UPLOAD_HANDLERS``) looks at each file's first chunk (``core.imaging.refuse_head``: the
signatures of JPEG, PNG, TIFF and WebP); on a refusal it stops the upload, so the handlers after
it receive no more data and the rest of the body is read and discarded, never written. The
refusal is kept on the request for the view (``refusal``) to answer with its code.
"""

from __future__ import annotations

from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest

from restoration.core import imaging

_ATTRIBUTE = "upload_refusal"


class ImageSniffingUploadHandler(FileUploadHandler):
    """Passes chunks through to the next handlers until the file's head shows it is no image."""

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self._head = b""
        self._decided = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if not self._decided:
            self._head += raw_data
            if len(self._head) >= imaging.HEAD_BYTES:
                self._decide()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        if not self._decided:
            self._decide()  # a file shorter than the head: the next handler has it all already
        return None  # the next handler builds the file

    def _decide(self) -> None:
        self._decided = True
        rejected = imaging.refuse_head(self._head[: imaging.HEAD_BYTES])
        if rejected is not None:
            if self.request is not None:
                setattr(self.request, _ATTRIBUTE, (self.field_name, rejected))
            # connection_reset=False: the parser reads the rest of the body and drops it, so the
            # client still gets the answer (no reset while it is sending).
            raise StopUpload(connection_reset=False)


def refusal(request: HttpRequest) -> tuple[str, imaging.ImageRejected] | None:
    """(form field, refusal) when the sniffing handler stopped an upload of this request."""
    return getattr(request, _ATTRIBUTE, None)
