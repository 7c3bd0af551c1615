"""The API's single error shape, for refusals raised below the serializers too."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIRequestFactory

from restoration.delivery.api.exceptions import exception_handler
from restoration.models import ImmutableError


def handle(exc: Exception):
    request = APIRequestFactory().get("/api/items/")
    return exception_handler(exc, {"request": request, "view": None})


def test_model_refusal_becomes_400_with_its_code():
    response = handle(ImmutableError("An item's identifier cannot be changed once set.", code="identifier_immutable"))

    assert response.status_code == 400
    assert response.data == {
        "code": "identifier_immutable",
        "detail": "An item's identifier cannot be changed once set.",
        "errors": {"non_field_errors": ["An item's identifier cannot be changed once set."]},
    }


def test_service_field_errors_keep_their_fields():
    response = handle(ValidationError({"title": "title is longer than 500 characters.", "date": "Bad."}))

    assert response.status_code == 400
    assert response.data["code"] == "invalid"
    assert response.data["errors"] == {"title": ["title is longer than 500 characters."], "date": ["Bad."]}
    assert response.data["detail"] == "title: title is longer than 500 characters."


def test_unexpected_errors_are_left_to_django():
    assert handle(RuntimeError("boom")) is None


@pytest.mark.django_db
def test_unsupported_media_type_has_the_shape(curator_client):
    response = curator_client.post("/api/items/", data="<xml/>", content_type="application/xml")

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
    assert response.json()["detail"]
