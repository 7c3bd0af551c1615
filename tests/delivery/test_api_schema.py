"""The OpenAPI schema, the Swagger UI page, and JSON 404s for unknown ids."""

from __future__ import annotations

import pytest
from drf_spectacular.validation import validate_schema


pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema() -> dict:
    """Generated once for the module (it needs no database)."""
    from rest_framework.test import APIClient

    response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_schema_is_valid_openapi(schema):
    validate_schema(schema)  # raises on an invalid document
    assert schema["openapi"].startswith("3.")
    assert schema["info"]["title"] == "Photo archive restoration API"


def test_schema_names_every_endpoint(schema):
    assert {
        "/api/collections/": {"get", "post"},
        "/api/collections/{id}/": {"get"},
        "/api/items/": {"get", "post"},
        "/api/items/{id}/": {"get", "patch"},
        "/api/items/{id}/versions/": {"get"},
        "/api/items/{id}/provenance/": {"get"},
        "/api/versions/{id}/": {"get"},
        "/api/versions/{id}/file/": {"get"},
        "/api/versions/{id}/thumbnail/": {"get"},
        "/api/versions/{id}/access/": {"get"},
        "/api/versions/{id}/review/": {"post"},
        "/api/versions/{id}/prefer/": {"post"},
        "/api/versions/{id}/notes/": {"post"},
        "/api/items/{id}/notes/": {"post"},
        "/api/token/": {"post"},
        "/api/items/{id}/jobs/": {"post"},
        "/api/jobs/": {"get"},
        "/api/jobs/{id}/": {"get"},
        "/api/jobs/{id}/cancel/": {"post"},
    } == {path: set(ops) - {"parameters"} for path, ops in schema["paths"].items()}


def test_schema_describes_the_multipart_upload_and_the_download(schema):
    post = schema["paths"]["/api/items/"]["post"]
    assert list(post["requestBody"]["content"]) == ["multipart/form-data"]
    upload = schema["components"]["schemas"]["ItemIngestRequest"]
    assert upload["properties"]["file"] == {
        "type": "string", "format": "binary", "writeOnly": True, "description": upload["properties"]["file"]["description"],
    }
    assert "file" in upload["required"]
    assert {"201", "400", "401", "403", "409"} <= set(post["responses"])

    download = schema["paths"]["/api/versions/{id}/file/"]["get"]
    assert download["responses"]["200"]["content"]["image/tiff"]["schema"]["format"] == "binary"
    assert "304" in download["responses"]
    assert any(p["name"] == "If-None-Match" and p["in"] == "header" for p in download["parameters"])


def test_schema_lists_filters_and_ordering(schema):
    names = {p["name"] for p in schema["paths"]["/api/items/"]["get"]["parameters"]}
    assert {"collection", "q", "kind", "ordering", "page", "page_size"} <= names


def test_swagger_ui_page(client):
    response = client.get("/api/docs/")

    assert response.status_code == 200
    assert b"swagger" in response.content.lower()


def test_api_root_lists_the_list_endpoints(anon_client):
    response = anon_client.get("/api/", HTTP_ACCEPT="application/json")

    assert response.status_code == 200
    assert response.json() == {
        "collections": "http://testserver/api/collections/",
        "items": "http://testserver/api/items/",
        "jobs": "http://testserver/api/jobs/",
    }


@pytest.mark.parametrize(
    "url",
    [
        "/api/items/999999/",
        "/api/items/not-a-number/",
        "/api/items/999999/versions/",
        "/api/items/999999/provenance/",
        "/api/versions/999999/",
        "/api/versions/999999/file/",
        "/api/collections/999999/",
    ],
)
def test_unknown_ids_answer_404_json(reader_client, url):
    response = reader_client.get(url)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"code": "not_found", "detail": "Not found."}


# --- What clients read from the schema (issue 15) ------------------------------------------------


def test_values_that_may_be_null_are_marked_nullable(schema):
    components = schema["components"]["schemas"]
    for component, field in [("Job", "cancel_url"), ("Job", "duration_seconds"), ("Job", "result_version"),
                             ("Job", "requested_by"), ("Version", "thumbnail_url"), ("Version", "access_url"),
                             ("Version", "created_by"), ("Version", "parent"), ("Item", "collection"),
                             ("Item", "original")]:
        assert components[component]["properties"][field].get("nullable") is True, (component, field)


@pytest.mark.parametrize(
    ("path", "method", "anonymous"),
    [
        ("/api/collections/", "get", True),
        ("/api/collections/{id}/", "get", True),
        ("/api/items/", "get", True),
        ("/api/items/{id}/", "get", True),
        ("/api/items/{id}/versions/", "get", True),
        ("/api/items/{id}/provenance/", "get", True),
        ("/api/versions/{id}/", "get", True),
        ("/api/versions/{id}/file/", "get", True),
        ("/api/token/", "post", True),
        ("/api/items/", "post", False),
        ("/api/items/{id}/", "patch", False),
        ("/api/collections/", "post", False),
        ("/api/jobs/", "get", False),
        ("/api/jobs/{id}/", "get", False),
        ("/api/items/{id}/jobs/", "post", False),
    ],
)
def test_anonymous_access_is_declared_where_it_is_allowed(schema, path, method, anonymous):
    security = schema["paths"][path][method]["security"]
    assert ({} in security) is anonymous
    assert {"tokenAuth": []} in security or path == "/api/token/"


@pytest.mark.parametrize(
    ("path", "types"),
    [
        ("/api/versions/{id}/file/", {"image/jpeg", "image/png", "image/tiff", "image/webp"}),
        ("/api/versions/{id}/thumbnail/", {"image/jpeg"}),
        ("/api/versions/{id}/access/", {"image/jpeg"}),
    ],
)
def test_downloads_declare_their_image_types(schema, path, types):
    assert set(schema["paths"][path]["get"]["responses"]["200"]["content"]) == types


def test_query_parameters_carry_their_bounds(schema):
    def parameters(path):
        return {p["name"]: p["schema"] for p in schema["paths"][path]["get"]["parameters"] if p["in"] == "query"}

    items = parameters("/api/items/")
    assert items["collection"]["type"] == "integer" and items["collection"]["maximum"] == 2**63 - 1
    assert items["q"]["maxLength"] == 200 and items["is_public"]["type"] == "boolean"
    for path in ("/api/items/", "/api/collections/", "/api/jobs/", "/api/items/{id}/versions/"):
        assert parameters(path)["page_size"] == {"type": "integer", "minimum": 1, "maximum": 200}
        assert parameters(path)["page"]["minimum"] == 1
    assert parameters("/api/jobs/")["item"]["type"] == "integer"
    for path in ("/api/items/", "/api/collections/", "/api/jobs/"):
        assert "400" in schema["paths"][path]["get"]["responses"]
