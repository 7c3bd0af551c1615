"""Admin forms: ingest on the Item add form, metadata on the change form."""

from __future__ import annotations

from django import forms

from restoration.core import services
from restoration.core.models import DUBLIN_CORE_FIELDS, Item
from restoration.delivery import uploads

ITEM_FORM_FIELDS = ["identifier", "title", "collection", "is_public", *DUBLIN_CORE_FIELDS]


class ItemIngestForm(forms.ModelForm):
    """A new item: an image upload plus its metadata, ingested through ``services.ingest_upload``.

    The ingest is the form's last validation step, run only once every other field is valid,
    so that a refused file (empty, not an image, corrupt, too large, a duplicate, ...) is shown
    on the form like any invalid field. A refused file leaves nothing behind; an accepted one
    becomes ``self.instance`` (already saved, with its original version and events), so the
    admin must not save it again. ``user`` and ``request`` are set by the admin on the form class
    (``request`` to show why an upload was stopped at its first bytes: ``delivery.uploads``).
    """

    upload = forms.FileField(
        label="Image",
        allow_empty_file=True,  # an empty file is refused by the service, with the same error everywhere
        help_text="JPEG, PNG, TIFF or WebP; stored unchanged as the item's original.",
    )

    user = None
    request = None
    version = None

    class Meta:
        model = Item
        fields = ITEM_FORM_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if "identifier" in self.fields:
            self.fields["identifier"].required = False
            self.fields["identifier"].help_text = (
                "The archival identifier, unique and unchangeable; derived from the file name when empty."
            )
        if "format" in self.fields:
            self.fields["format"].help_text = "Defaults to the file's MIME type."

    def _post_clean(self) -> None:
        super()._post_clean()
        stopped = uploads.refusal(self.request) if self.request is not None else None
        if stopped is not None:  # not "required": the file was refused from its first bytes
            self.errors["upload"] = self.error_class([stopped[1].message])
        if self.errors:
            return
        data = self.cleaned_data
        upload = data["upload"]
        metadata = {
            field: data[field]
            for field in self._meta.fields
            if field in services.INGEST_METADATA_FIELDS and field in data and data[field] not in (None, "")
        }
        try:
            self.version = services.ingest_upload(
                upload,
                filename=upload.name,
                metadata=metadata,
                collection=data.get("collection"),
                user=self.user,
                route="admin",
            )
        except services.IngestError as exc:
            field = exc.field if exc.field in self.fields else "upload"
            self.add_error(field, exc.message)
            return
        self.instance = self.version.item


class ItemChangeForm(forms.ModelForm):
    """An item's metadata; the admin saves it through ``services.update_item_metadata``."""

    class Meta:
        model = Item
        fields = ITEM_FORM_FIELDS
