"""The jobs path for colorize, upscale and style: parameters, weights per variant, recipe keys,
reference versions (visibility), each runner end to end through ``execute_job`` with tiny
checkpoints and real PNG files, the API and the admin action.

The checkpoints are untrained tiny networks saved with gan_engine's own ``checkpoints`` (as
tests/job_fixtures.py does for restore), so a job takes a fraction of a second on a CPU.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import AnonymousUser
from PIL import Image

from restoration.jobs import engine
from restoration.jobs.tasks import style as style_task
from restoration import jobs
from restoration.core import services, xmp
from restoration.models import (
    Collection,
    EventObject,
    EventOutcome,
    JobStatus,
    ProvenanceEvent,
    RestorationJob,
    VersionKind,
)
from tests.support import stored_path, TINY_UNET

pytestmark = pytest.mark.django_db

TINY_SR = {"num_feat": 8, "num_conv": 1}
COLOR_BINS = [[-20.0, 10.0], [0.0, 0.0], [20.0, -10.0]]
# gan_engine's tiny style generator (tests/gan/test_style.py): a U-Net of radius 26, multiple 4.
TINY_STYLE = {"base": 4, "mults": [1, 2, 2], "enc_blocks": [0, 1], "dec_blocks": [1, 1], "mid_blocks": 1}


# --- Tiny checkpoints (once per session) -------------------------------------------------------


def _save_upscaler(path: Path, scale: int, name: str) -> Path:
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(scale)
    model = archs.build_generator("srvgg", scale=scale, **TINY_SR)
    return checkpoints.save_checkpoint(path, model, {"task": "upscale", "model_name": name})


def _save_colorizer(path: Path) -> Path:
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(0)
    model = archs.build_generator("colorizer", bins=COLOR_BINS, unet=TINY_UNET, downsample=2)
    with torch.no_grad():  # an untrained model with a visible colour cast (towards the last bin)
        model.net.tail.bias.copy_(torch.tensor([0.0, 0.0, 3.0]))
    return checkpoints.save_checkpoint(path, model, {"task": "colorize", "model_name": "tiny-colorize"})


def _save_stylizer(path: Path) -> Path:
    import torch

    from gan_engine import archs, checkpoints

    torch.manual_seed(3)
    model = archs.build_generator("unet", **TINY_STYLE)
    torch.nn.init.normal_(model.tail.weight, std=0.05)  # not the identity: the model does something
    return checkpoints.save_checkpoint(path, model, {
        "task": "style", "model_name": "tiny-style", "reference": {"file": "sepia.png", "sha256": "0" * 64},
    })


@pytest.fixture(scope="session")
def task_weights(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("task-weights")
    return {
        "upscale_x2_faithful": _save_upscaler(folder / "upscale_x2_faithful.safetensors", 2, "tiny-x2-faithful"),
        "upscale_x2_gan": _save_upscaler(folder / "upscale_x2_gan.safetensors", 2, "tiny-x2-gan"),
        "upscale_x4_faithful": _save_upscaler(folder / "upscale_x4_faithful.safetensors", 4, "tiny-x4-faithful"),
        "colorize": _save_colorizer(folder / "colorize.safetensors"),
        "style": _save_stylizer(folder / "style.safetensors"),
    }


@pytest.fixture
def tasks_on(gan_settings, settings, task_weights, tmp_path):
    """All four tasks offered; every weights file but upscale x4 gan is there."""
    settings.GAN_TASKS = ("restore", "colorize", "upscale", "style")
    settings.GAN_WEIGHTS = {
        "restore": gan_settings,
        **task_weights,
        "upscale_x4_gan": tmp_path / "none" / "upscale_x4_gan.safetensors",
    }
    settings.GAN_VGG19_WEIGHTS = None
    settings.GAN_UPSCALE_MAX_PIXELS = 400_000_000
    return settings


# --- Images ------------------------------------------------------------------------------------


def _png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG")
    return buffer.getvalue()


def _scene(width: int = 32, height: int = 24, seed: int = 0) -> np.ndarray:
    """A smooth colour scene, 8-bit RGB."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(width, height)
    img = np.stack([np.sin(6.0 * (rng.random() * xx + rng.random() * yy) + rng.random() * 6) for _ in range(3)], 2)
    return (np.clip(img * 0.3 + 0.5, 0, 1) * 255).round().astype(np.uint8)


def _reddish(width: int = 40, height: int = 30, seed: int = 9) -> np.ndarray:
    """A warm, red-brown reference print."""
    base = _scene(width, height, seed=seed).astype(np.float32)
    base[..., 0] = np.clip(base[..., 0] * 0.4 + 150, 0, 255)
    base[..., 2] *= 0.35
    return base.round().astype(np.uint8)


def _grey(width: int = 32, height: int = 24) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return (40 + 170 * (xx / width) * 0.7 + 50 * (yy / height)).round().astype(np.uint8)


@pytest.fixture
def ingest(curator, archive_dirs):
    """``ingest(identifier, array, public=False, collection=None)`` -> the item's original version."""

    def make(identifier: str, array: np.ndarray, *, public: bool = False, collection=None):
        return services.ingest_upload(
            io.BytesIO(_png(array)), filename=f"{identifier}.png",
            metadata={"identifier": identifier, "is_public": public}, collection=collection, user=curator, route="cli",
        )

    return make


def _lab(path: Path) -> np.ndarray:
    from gan_engine.data import color

    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    return color.rgb_to_lab(rgb)


def _event(version) -> ProvenanceEvent:
    return ProvenanceEvent.objects.get(event_type="modification", outcome=EventOutcome.SUCCESS,
                                       object_links__version=version, object_links__role=EventObject.Role.OUTCOME)


def _run(job) -> RestorationJob:
    assert jobs.execute_job(job.pk).startswith(f"job {job.pk}: version"), RestorationJob.objects.get(pk=job.pk).error
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    return job


# --- Parameters ----------------------------------------------------------------------------------


def test_defaults_are_filled_in_per_task():
    assert engine.validate_params("upscale", {}) == {"tile": None, "scale": 4, "variant": "faithful", "seed": 0}
    assert engine.validate_params("colorize", {"strength": 1}) == {"tile": None, "strength": 1.0,
                                                                   "reference_version": None, "seed": 0}
    assert engine.validate_params("style", {"reference_version": 3}) == {
        "tile": None, "method": "color", "reference_version": 3, "strength": 1.0, "steps": None, "seed": 0}
    assert engine.validate_params("style", {"method": "optimize", "reference_version": 3})["steps"] == 200
    assert engine.validate_params("style", {"method": "feedforward"})["reference_version"] is None
    assert engine.validate_params("restore", {}) == {"tile": None, "strength": 1.0, "repair_damage": False, "seed": 0}


def test_the_default_step_count_is_the_engines():
    from gan_engine.inference.style import METHODS, StyleOptimizeConfig

    assert style_task.STEPS_DEFAULT == StyleOptimizeConfig().steps
    assert style_task.METHODS == METHODS


@pytest.mark.parametrize(
    "task,params,field,fragment",
    [
        ("upscale", {"scale": 3}, "scale", "one of 2, 4"),
        ("upscale", {"scale": "4"}, "scale", "must be a number"),
        ("upscale", {"scale": 2.5}, "scale", "whole number"),
        ("upscale", {"scale": True}, "scale", "must be a number"),
        ("upscale", {"variant": "sharp"}, "variant", "one of 'faithful', 'gan', not 'sharp'"),
        ("upscale", {"variant": 1}, "variant", "one of 'faithful', 'gan', not 1"),
        ("upscale", {"variant": "GAN"}, "variant", "one of"),  # exact names only
        ("upscale", {"strength": 0.5}, "strength", "Unknown parameter"),
        ("upscale", {"tile": 8}, "tile", "at least 16"),
        ("colorize", {"strength": 1.5}, "strength", "at most 1.0"),
        ("colorize", {"strength": "full"}, "strength", "must be a number"),
        ("colorize", {"reference_version": "3"}, "reference_version", "must be a number"),
        ("colorize", {"seed": -1}, "seed", "at least 0"),
        ("style", {}, "reference_version", "required for the style method color"),
        ("style", {"method": "optimize"}, "reference_version", "required for the style method optimize"),
        ("style", {"method": "feedforward", "reference_version": 3}, "reference_version", "takes no reference"),
        ("style", {"method": "gatys", "reference_version": 3}, "method", "one of 'color', 'optimize', 'feedforward'"),
        ("style", {"method": ["color"], "reference_version": 3}, "method", "one of"),
        ("style", {"reference_version": 3, "steps": 10}, "steps", "optimize only"),
        ("style", {"method": "optimize", "reference_version": 3, "steps": 0}, "steps", "at least 1"),
        ("style", {"method": "optimize", "reference_version": 3, "steps": 5000}, "steps", "at most 1000"),
        ("style", {"reference_version": "12"}, "reference_version", "must be a number"),
        ("style", {"reference_version": 2, "strength": -0.1}, "strength", "at least 0.0"),
    ],
)
def test_bad_parameters_are_refused_with_the_field_named(task, params, field, fragment):
    with pytest.raises(engine.ParameterError) as caught:
        engine.validate_params(task, params)
    assert caught.value.field == field
    assert fragment in caught.value.message and field in caught.value.message


def test_string_choices_are_documented_in_the_schema():
    upscale = engine.params_schema("upscale")
    assert upscale["properties"]["variant"]["enum"] == ["faithful", "gan"]
    assert upscale["properties"]["variant"]["type"] == "string"
    assert upscale["properties"]["scale"] == {**upscale["properties"]["scale"], "type": "integer", "enum": [2, 4],
                                              "default": 4}
    style = engine.params_schema("style")["properties"]
    assert style["method"]["enum"] == ["color", "optimize", "feedforward"] and style["steps"]["maximum"] == 1000


# --- Weights per variant, availability -----------------------------------------------------------


def test_weights_are_chosen_by_the_parameters(tasks_on, task_weights):
    assert engine.weights_info("upscale", {"scale": 2, "variant": "gan"}).path == task_weights["upscale_x2_gan"]
    x4 = engine.weights_info("upscale", None)  # the defaults: x4 faithful
    assert x4.path == task_weights["upscale_x4_faithful"] and x4.model_name == "tiny-x4-faithful"
    assert engine.weights_info("colorize").path == task_weights["colorize"]
    feedforward = engine.weights_info("style", {"method": "feedforward"})
    assert feedforward.path == task_weights["style"] and feedforward.has_weights

    with pytest.raises(engine.EngineUnavailable) as caught:
        engine.weights_info("upscale", {"scale": 4, "variant": "gan"})
    assert caught.value.field == "params" and "upscale x4 gan" in str(caught.value)


def test_style_color_and_optimize_need_no_weights_file(tasks_on, settings, tmp_path):
    color = engine.weights_info("style", {"method": "color"})
    optimize = engine.weights_info("style", {"method": "optimize"})
    assert not color.has_weights and color.path is None and color.model_name == "style-color"
    assert optimize.card["feature_network"] == {"kind": "random-multiscale", "seed": 0}
    assert len({color.sha256, optimize.sha256}) == 2 and all(len(w.sha256) == 64 for w in (color, optimize))
    assert engine.weights_info("style", {"method": "color"}).sha256 == color.sha256  # stable

    vgg = tmp_path / "vgg19.pth"
    vgg.write_bytes(b"not really VGG, but a file with a checksum")
    settings.GAN_VGG19_WEIGHTS = vgg
    with_vgg = engine.weights_info("style", {"method": "optimize"})
    assert with_vgg.sha256 != optimize.sha256 and with_vgg.card["feature_network"]["kind"] == "vgg19"
    assert engine.weights_info("style", {"method": "color"}).sha256 == color.sha256  # color uses no features

    settings.GAN_VGG19_WEIGHTS = tmp_path / "missing.pth"
    assert {"method": "optimize"} not in engine.available_variants("style")
    with pytest.raises(engine.EngineUnavailable):
        engine.weights_info("style", {"method": "optimize"})


def test_a_task_is_available_when_one_of_its_variants_can_run(tasks_on, settings, tmp_path):
    assert engine.available_tasks() == ("restore", "colorize", "upscale", "style")
    assert {"scale": 4, "variant": "gan"} not in engine.available_variants("upscale")
    assert len(engine.available_variants("upscale")) == 3

    missing = tmp_path / "missing.safetensors"
    settings.GAN_WEIGHTS = {key: missing for key in settings.GAN_WEIGHTS}
    assert engine.available_tasks() == ("style",)  # colour transfer and optimisation need no weights
    assert engine.available_variants("style") == ({"method": "color"}, {"method": "optimize"})

    settings.GAN_TASKS = ("restore",)  # an archive that does not offer style transfer
    assert engine.available_tasks() == ()
    with pytest.raises(engine.EngineUnavailable, match="GAN_TASKS"):
        engine.weights_info("style", {"method": "color"})


def test_a_card_of_another_task_or_scale_is_refused_at_submission(tasks_on, settings, task_weights, ingest, curator):
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "upscale_x4_faithful": task_weights["upscale_x2_faithful"]}
    with pytest.raises(engine.EngineUnavailable, match="upscale x2, not x4"):
        engine.weights_info("upscale", {"scale": 4})
    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "colorize": task_weights["style"]}
    source = ingest("plate", _scene())
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(source.item, task="colorize", user=curator)
    assert caught.value.code == "task_unavailable" and "'style' model, not a 'colorize' model" in caught.value.message


def test_a_missing_variant_is_refused_on_params(tasks_on, ingest, curator, enqueued):
    source = ingest("plate", _scene())
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(source.item, task="upscale", params={"variant": "gan"}, user=curator)
    assert (caught.value.code, caught.value.field) == ("task_unavailable", "params")
    assert not RestorationJob.objects.exists()


def test_an_upscale_beyond_the_pixel_limit_is_refused_when_submitted(tasks_on, settings, ingest, curator, enqueued):
    source = ingest("plate", _scene(32, 24))
    settings.GAN_UPSCALE_MAX_PIXELS = 32 * 24 * 4
    with pytest.raises(jobs.JobError) as caught:
        jobs.submit_job(source.item, task="upscale", params={"scale": 4}, user=curator)
    assert caught.value.code == "invalid_parameters" and "Choose scale 2" in caught.value.message
    assert jobs.submit_job(source.item, task="upscale", params={"scale": 2}, user=curator).created


# --- Recipe keys ---------------------------------------------------------------------------------


def test_the_recipe_differs_by_scale_variant_method_and_reference(tasks_on, ingest, curator, enqueued):
    source = ingest("plate", _scene())
    ref_a, ref_b = ingest("ref-a", _reddish()), ingest("ref-b", _scene(seed=5))

    def key(task, **params):
        return jobs.submit_job(source.item, task=task, params=params, user=curator).job.recipe_key

    keys = [
        key("upscale", scale=2), key("upscale", scale=4), key("upscale", scale=2, variant="gan"),
        key("style", reference_version=ref_a.pk), key("style", reference_version=ref_b.pk),
        key("style", method="optimize", reference_version=ref_a.pk),
        key("style", method="optimize", reference_version=ref_a.pk, steps=20),
        key("style", method="feedforward"), key("colorize"), key("colorize", strength=0.5),
    ]
    assert len(set(keys)) == len(keys) == RestorationJob.objects.count()

    # The same recipe spelled differently (defaults, 1 and 1.0, another tile size) is the same job.
    assert key("upscale", scale=2, variant="faithful", tile=32) == keys[0]
    assert key("style", reference_version=ref_a.pk, strength=1, method="color") == keys[3]
    assert RestorationJob.objects.count() == len(keys)


def test_the_recipe_includes_the_reference_content(tasks_on, ingest, curator, enqueued):
    source, reference = ingest("plate", _scene()), ingest("ref", _reddish())
    job = jobs.submit_job(source.item, task="style", params={"reference_version": reference.pk}, user=curator).job
    weights = engine.weights_info("style", job.params)
    common = dict(source_version_id=source.pk, task="style", params=job.params, weights_sha256=weights.sha256)
    assert job.recipe_key == jobs.recipe_key(**common, reference_sha256=reference.sha256)
    assert job.recipe_key != jobs.recipe_key(**common, reference_sha256="0" * 64)
    assert job.weights_sha256 == weights.sha256 and job.model_name == "style-color"


def test_restore_keys_are_unchanged_by_the_reference_slot():
    common = dict(source_version_id=1, task="restore", params={"strength": 1.0, "seed": 0, "tile": None},
                  weights_sha256="a" * 64)
    # The key of a job without a reference is computed as before this change (no "reference_sha256").
    import hashlib
    import json

    canonical = json.dumps({"params": {"seed": 0, "strength": 1.0}, "source_version": 1, "task": "restore",
                            "weights_sha256": "a" * 64}, sort_keys=True, separators=(",", ":"))
    assert jobs.recipe_key(**common) == hashlib.sha256(canonical.encode()).hexdigest()


# --- Reference versions --------------------------------------------------------------------------


def test_a_reference_of_another_item_is_accepted(tasks_on, ingest, curator, enqueued):
    source, reference = ingest("plate", _scene()), ingest("other-print", _reddish())
    submission = jobs.submit_job(source.item, task="style", params={"reference_version": reference.pk}, user=curator)
    assert submission.created and submission.job.params["reference_version"] == reference.pk


@pytest.mark.parametrize("task", ["style", "colorize"])
def test_a_reference_the_user_may_not_read_is_refused_like_an_unknown_one(task, tasks_on, ingest, curator, enqueued):
    private = Collection.objects.create(name="Private", slug="private", is_public=False)
    public = Collection.objects.create(name="Public", slug="public", is_public=True)
    source = ingest("plate", _scene(), public=True)
    hidden = ingest("hidden-print", _reddish(), public=False, collection=private)
    visible = ingest("public-print", _reddish(seed=10), public=True, collection=public)
    outsider = AnonymousUser()  # e.g. a submission made without an account

    def refusal(pk) -> jobs.JobError:
        with pytest.raises(jobs.JobError) as caught:
            jobs.submit_job(source.item, task=task, params={"reference_version": pk}, user=outsider)
        return caught.value

    unknown, invisible = refusal(999_999), refusal(hidden.pk)
    assert (invisible.code, invisible.field) == (unknown.code, unknown.field) == ("invalid_parameters", "params")
    assert invisible.message == unknown.message.replace("999999", str(hidden.pk))
    assert "hidden" not in invisible.message
    assert jobs.submit_job(source.item, task=task, params={"reference_version": visible.pk}, user=outsider).created
    # A curator may read every item: the hidden print is a reference for them.
    assert jobs.submit_job(source.item, task=task, params={"reference_version": hidden.pk}, user=curator).created


def test_a_colorize_label_names_its_reference():
    from restoration.jobs import labels

    making = labels.Making("colorized", model="semantic-colorizer", weights_sha256="ab" * 32,
                           reference=labels.reference_text("PHOTO-7", 12))
    text = labels.label(making)
    assert text.startswith("Colorized by model semantic-colorizer, weights ")
    assert "colours from reference PHOTO-7 (version 12)" in text
    assert "reference" not in labels.label(labels.Making("colorized", model="semantic-colorizer"))


# --- Runners end to end --------------------------------------------------------------------------


def test_upscale_doubles_the_size_and_is_labelled_as_enhanced(tasks_on, task_weights, ingest, curator, enqueued):
    source = ingest("plate", _scene(32, 24))
    job = _run(jobs.submit_job(source.item, task="upscale", params={"scale": 2}, user=curator).job)

    derivative = job.result_version
    assert derivative.kind == VersionKind.UPSCALED and (derivative.width, derivative.height) == (64, 48)
    with Image.open(stored_path(derivative)) as image:
        assert image.size == (64, 48) and image.mode == "RGB"
    assert job.model_name == "tiny-x2-faithful" and job.device == "cpu"
    labels = xmp.read_labels(stored_path(derivative))
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.ALGORITHMICALLY_ENHANCED
    description = labels["Xmp.dc.description"]['lang="x-default"']
    assert "Upscale of plate" in description and job.weights_sha256 in description
    assert "scale=2" in description and "variant=faithful" in description
    event = _event(derivative)
    assert event.detail["weights_file"] == task_weights["upscale_x2_faithful"].name
    assert event.detail["parameters"]["scale"] == 2 and event.detail["model"] == "tiny-x2-faithful"


def test_upscale_keeps_a_16_bit_grey_print_grey_and_16_bit(tasks_on, original, curator, enqueued):
    source = original("grey16.png", size=(20, 14), mode="L", bits=16)
    job = _run(jobs.submit_job(source.item, task="upscale", params={"scale": 4}, user=curator).job)
    with Image.open(stored_path(job.result_version)) as image:
        assert image.mode == "I;16" and image.size == (80, 56)


def test_colorize_gives_rgb_and_keeps_the_lightness(tasks_on, ingest, curator, enqueued):
    grey = _grey()
    source = ingest("grey-print", grey)
    job = _run(jobs.submit_job(source.item, task="colorize", user=curator).job)

    derivative = job.result_version
    assert derivative.kind == VersionKind.COLORIZED and (derivative.width, derivative.height) == (32, 24)
    with Image.open(stored_path(derivative)) as image:
        assert image.mode == "RGB"
    lab_out = _lab(stored_path(derivative))
    lab_in = _lab(stored_path(source))
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).max() < 1.0  # L kept (up to 8-bit rounding)
    assert np.hypot(lab_out[..., 1], lab_out[..., 2]).mean() > 3.0  # and there is colour
    labels = xmp.read_labels(stored_path(derivative))
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert "tiny-colorize" in labels["Xmp.dc.description"]['lang="x-default"']


def test_colorize_strength_zero_is_the_grey_image(tasks_on, ingest, curator, enqueued):
    source = ingest("grey-print", _grey())
    job = _run(jobs.submit_job(source.item, task="colorize", params={"strength": 0}, user=curator).job)
    lab = _lab(stored_path(job.result_version))
    assert np.hypot(lab[..., 1], lab[..., 2]).max() < 1.5


def test_colorize_from_another_items_reference_names_it_in_label_xmp_and_provenance(
        tasks_on, tmp_path, ingest, curator, enqueued):
    import torch

    from gan_engine import checkpoints
    from gan_engine.archs.colorizer import SemanticColorizer

    torch.manual_seed(0)
    model = SemanticColorizer([[-30.0, 20.0], [0.0, 0.0], [40.0, 50.0]], widths=(8, 8, 8))
    tasks_on.GAN_WEIGHTS = {**tasks_on.GAN_WEIGHTS, "colorize": checkpoints.save_checkpoint(
        tmp_path / "semantic.safetensors", model, {"task": "colorize", "model_name": "tiny-semantic"})}
    source, reference = ingest("grey-print", _grey()), ingest("warm-print", _reddish())
    job = _run(jobs.submit_job(source.item, task="colorize", params={"reference_version": reference.pk},
                               user=curator).job)

    derivative = job.result_version
    assert derivative.kind == VersionKind.COLORIZED and derivative.item == source.item
    lab_out, lab_in = _lab(stored_path(derivative)), _lab(stored_path(source))
    assert np.abs(lab_out[..., 0] - lab_in[..., 0]).max() < 1.0  # L kept (up to 8-bit rounding)
    named = f"colours from reference {reference.item.identifier} (version {reference.pk})"
    from restoration.jobs import labels as job_labels

    assert named in job_labels.labels([derivative])[derivative.pk]
    assert named in xmp.read_labels(stored_path(derivative))["Xmp.dc.description"]['lang="x-default"']
    from restoration.core.models import EventObject

    making = [link.event for link in EventObject.objects.filter(version=derivative, role=EventObject.Role.OUTCOME)
              .select_related("event") if (link.event.detail or {}).get("job") == job.pk]
    assert len(making) == 1
    assert making[0].detail["reference_version"] == reference.pk
    assert making[0].detail["reference_sha256"] == reference.sha256


def test_style_color_moves_the_colours_toward_another_items_reference(tasks_on, ingest, curator, enqueued):
    source, reference = ingest("plate", _scene()), ingest("warm-print", _reddish())
    job = _run(jobs.submit_job(source.item, task="style", params={"reference_version": reference.pk},
                               user=curator).job)

    derivative = job.result_version
    assert derivative.kind == VersionKind.STYLED and derivative.parent == source
    assert derivative.item == source.item  # the result belongs to the source's item
    before, after, target = (_lab(stored_path(v)).reshape(-1, 3).mean(axis=0) for v in (source, derivative, reference))
    assert np.linalg.norm(after[1:] - target[1:]) < 0.5 * np.linalg.norm(before[1:] - target[1:])
    assert job.device == "cpu" and job.model_name == "style-color"

    event = _event(derivative)
    links = {(link.version_id, link.role) for link in event.object_links.all()}
    assert links == {(source.pk, EventObject.Role.SOURCE), (reference.pk, EventObject.Role.SOURCE),
                     (derivative.pk, EventObject.Role.OUTCOME)}
    assert event.detail["reference_version"] == reference.pk and event.detail["reference_sha256"] == reference.sha256
    assert event.detail["reference_item"] == "warm-print"
    assert event.detail["weights_sha256"] is None and event.detail["method_sha256"] == job.weights_sha256
    assert event.detail["method"]["method"] == "color"
    program = event.agent_links.get(role="executing program").agent
    assert program.detail == {"model": "style-color", "weights_sha256": None}

    labels = xmp.read_labels(stored_path(derivative))
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.ALGORITHMICALLY_ENHANCED  # no trained model
    description = labels["Xmp.dc.description"]['lang="x-default"']
    assert "Style transfer of plate" in description and "no trained generator" in description
    assert f"reference warm-print (version {reference.pk}, sha256 {reference.sha256})" in description
    assert "method=color" in description


def test_style_feedforward_runs_the_trained_model(tasks_on, task_weights, ingest, curator, enqueued):
    source = ingest("plate", _scene(37, 29))
    job = _run(jobs.submit_job(source.item, task="style", params={"method": "feedforward", "tile": 32},
                               user=curator).job)
    derivative = job.result_version
    assert (derivative.kind, derivative.width, derivative.height) == (VersionKind.STYLED, 37, 29)
    assert job.model_name == "tiny-style" and job.weights_sha256 == engine.weights_info(
        "style", {"method": "feedforward"}).sha256
    labels = xmp.read_labels(stored_path(derivative))
    assert labels["Xmp.iptcExt.DigitalSourceType"] == xmp.COMPOSITE_WITH_TRAINED_ALGORITHMIC_MEDIA
    assert job.weights_sha256 in labels["Xmp.dc.description"]['lang="x-default"']
    assert _event(derivative).detail["weights_file"] == "style.safetensors"


def test_style_optimize_runs_a_few_steps_with_the_feature_network_recorded(tasks_on, ingest, curator, enqueued):
    source, reference = ingest("plate", _scene(24, 16)), ingest("ref", _reddish(20, 16))
    params = {"method": "optimize", "reference_version": reference.pk, "steps": 1}
    job = _run(jobs.submit_job(source.item, task="style", params=params, user=curator).job)
    derivative = job.result_version
    assert (derivative.kind, derivative.width, derivative.height) == (VersionKind.STYLED, 24, 16)
    event = _event(derivative)
    assert event.detail["method"]["feature_network"] == {"kind": "random-multiscale", "seed": 0}
    assert event.detail["parameters"]["steps"] == 1
    labels = xmp.read_labels(stored_path(derivative))
    assert "feature network random-multiscale" in labels["Xmp.dc.description"]['lang="x-default"']


def test_a_changed_feature_network_fails_a_queued_optimize_job(tasks_on, settings, ingest, curator, enqueued,
                                                               tmp_path):
    source, reference = ingest("plate", _scene(24, 16)), ingest("ref", _reddish(20, 16))
    job = jobs.submit_job(source.item, task="style", user=curator,
                          params={"method": "optimize", "reference_version": reference.pk, "steps": 1}).job
    vgg = tmp_path / "vgg19.pth"
    vgg.write_bytes(b"other features")
    settings.GAN_VGG19_WEIGHTS = vgg
    assert jobs.execute_job(job.pk) == f"job {job.pk}: failed"
    job.refresh_from_db()
    assert "changed since the job was queued" in job.error and job.result_version is None
    failure = ProvenanceEvent.objects.get(outcome=EventOutcome.FAILURE)
    assert {link.version_id for link in failure.object_links.all()} == {source.pk, reference.pk}
    assert failure.detail["weights_sha256"] is None and failure.detail["method_sha256"] == job.weights_sha256


# --- API and admin -------------------------------------------------------------------------------


def _post(client, item, body):
    return client.post(f"/api/items/{item.pk}/jobs/", body, format="json")


def test_api_upscale(tasks_on, ingest, curator_client, enqueued):
    source = ingest("plate", _scene(32, 24))
    response = _post(curator_client, source.item, {"task": "upscale", "params": {"scale": 2, "variant": "gan"}})
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["params"] == {"tile": None, "scale": 2, "variant": "gan", "seed": 0}
    jobs.execute_job(body["id"])
    result = curator_client.get(body["url"]).json()["result_version"]
    assert (result["kind"], result["width"], result["height"]) == ("upscaled", 64, 48)

    bad = _post(curator_client, source.item, {"task": "upscale", "params": {"variant": "sharp"}})
    assert bad.status_code == 400 and bad.json()["code"] == "invalid_parameters"
    assert "variant" in bad.json()["errors"]["params"][0]


def test_api_colorize(tasks_on, ingest, curator_client, enqueued):
    source = ingest("grey-print", _grey())
    response = _post(curator_client, source.item, {"task": "colorize", "params": {"strength": 0.8}})
    assert response.status_code == 202, response.json()
    jobs.execute_job(response.json()["id"])
    body = curator_client.get(response.json()["url"]).json()
    assert body["status"] == "succeeded" and body["result_version"]["kind"] == "colorized"
    again = _post(curator_client, source.item, {"task": "colorize", "params": {"strength": 0.8, "tile": 64}})
    assert again.status_code == 200 and again.json()["id"] == body["id"]  # the recipe is reused


def test_api_style(tasks_on, ingest, curator_client, enqueued):
    source, reference = ingest("plate", _scene()), ingest("warm-print", _reddish())
    missing = _post(curator_client, source.item, {"task": "style", "params": {"method": "color"}})
    assert missing.status_code == 400 and "reference_version is required" in missing.json()["detail"]
    unknown = _post(curator_client, source.item, {"task": "style", "params": {"reference_version": 999999}})
    assert unknown.status_code == 400 and unknown.json()["errors"] == {
        "params": ["reference_version 999999: there is no version 999999 that you may read."]}

    response = _post(curator_client, source.item, {"task": "style", "params": {"reference_version": reference.pk}})
    assert response.status_code == 202, response.json()
    jobs.execute_job(response.json()["id"])
    body = curator_client.get(response.json()["url"]).json()
    assert body["result_version"]["kind"] == "styled" and body["model_name"] == "style-color"
    provenance = curator_client.get(f"/api/items/{source.item.pk}/provenance/").json()["results"]
    modification = next(e for e in provenance if e["event_type"] == "modification")
    assert modification["detail"]["reference_version"] == reference.pk


def test_api_restore_still_works_beside_the_new_tasks(tasks_on, ingest, curator_client, enqueued):
    source = ingest("plate", _scene())
    response = _post(curator_client, source.item, {"task": "restore", "params": {"strength": 0.5}})
    assert response.status_code == 202
    jobs.execute_job(response.json()["id"])
    assert curator_client.get(response.json()["url"]).json()["result_version"]["kind"] == "restored"


def test_api_schema_documents_each_tasks_params(tasks_on):
    from rest_framework.test import APIClient

    from drf_spectacular.validation import validate_schema

    schema = APIClient().get("/api/schema/", {"format": "json"}).json()
    validate_schema(schema)
    body = schema["paths"]["/api/items/{id}/jobs/"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    params = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[1]]["properties"]["params"]
    titles = {option["title"]: option for option in params["anyOf"]}
    assert set(titles) == {"restore parameters", "colorize parameters", "upscale parameters", "style parameters"}
    assert titles["upscale parameters"]["properties"]["variant"]["enum"] == ["faithful", "gan"]
    assert titles["style parameters"]["properties"]["method"]["default"] == "color"


def test_admin_style_action_uses_the_trained_model(tasks_on, client, curator, ingest, enqueued, settings, tmp_path):
    source = ingest("plate", _scene())
    client.force_login(curator)
    url = "/admin/restoration/item/"
    names = [name for name, _ in client.get(url).context["action_form"].fields["action"].choices]
    assert {"queue_upscale", "queue_colorize", "queue_style"} <= set(names)
    client.post(url, {"action": "queue_style", "_selected_action": [str(source.item_id)]}, follow=True)
    job = RestorationJob.objects.get()
    assert job.task == "style" and job.params["method"] == "feedforward"

    settings.GAN_WEIGHTS = {**settings.GAN_WEIGHTS, "style": tmp_path / "missing.safetensors"}
    names = [name for name, _ in client.get(url).context["action_form"].fields["action"].choices]
    assert "queue_style" not in names  # the action has no form for a reference: only the trained model


def test_the_item_page_offers_the_new_tasks_and_their_choices(tasks_on, client, curator, ingest, enqueued):
    source = ingest("plate", _scene())
    client.force_login(curator)
    body = client.get("/items/plate/").content.decode()
    for name in ("upscale-scale", "upscale-variant", "colorize-strength", "style-method", "style-reference_version",
                 "style-steps"):
        assert f'name="{name}"' in body
    assert 'value="feedforward"' in body and 'value="gan"' in body

    response = client.post("/items/plate/", {"task": "upscale", "source_version": source.pk, "upscale-scale": "2",
                                             "upscale-variant": "gan"})
    assert response.status_code == 303
    job = RestorationJob.objects.get()
    assert (job.task, job.params["scale"], job.params["variant"]) == ("upscale", 2, "gan")


# --- One label everywhere -------------------------------------------------------------------------


@pytest.mark.parametrize("task,params", [
    ("restore", {}),
    ("colorize", {}),
    ("upscale", {"scale": 2}),
    ("style", {"method": "feedforward", "tile": 32}),
    ("style", {"method": "color", "reference_version": "REFERENCE"}),
])
def test_the_item_page_the_manifest_the_xmp_and_oai_give_one_label(tasks_on, ingest, curator, enqueued, client,
                                                                      task, params):
    """Every task's derivative carries the same sentence on the item page, in the IIIF manifest,
    in the file's XMP (which starts with it) and in the OAI-PMH record: ``labels.label``."""
    import html
    import json

    from lxml import etree

    from restoration.interop import oai
    from restoration.jobs import labels
    from restoration.jobs.tasks import TASKS

    source = ingest("plate", _scene(37, 29), public=True)
    if params.get("reference_version") == "REFERENCE":
        params = {**params, "reference_version": ingest("warm-print", _reddish()).pk}
    derivative = _run(jobs.submit_job(source.item, task=task, params=params, user=curator).job).result_version
    services.review_version(derivative, "accepted", user=curator)  # pending results are not public
    label = labels.label(labels.makings([derivative])[derivative.pk])

    assert label.startswith(TASKS[task].verb + " by ") and label.endswith("; not the original")
    if params.get("method") == "color":
        assert "the method style-color (no trained model), method sha256" in label
    else:
        assert ", weights " in label and "weights None" not in label

    page = client.get(f"/items/{source.item.identifier}/").content.decode()
    assert label in html.unescape(page)

    manifest = json.loads(client.get(f"/iiif/3/items/{source.item.identifier}/manifest.json").content)
    shown = {entry["label"]["en"][0]: entry["value"]["none"][0] for entry in manifest["metadata"]}
    assert shown[f"Version {derivative.pk} ({derivative.get_kind_display().lower()})"] == label

    description = xmp.read_labels(stored_path(derivative))["Xmp.dc.description"]['lang="x-default"']
    assert description.startswith(label + ". ")

    record = client.get("/oai", {"verb": "GetRecord", "metadataPrefix": "oai_dc",
                                 "identifier": oai.oai_identifier(source.item)}).content
    texts = etree.fromstring(record).xpath("//dc:description/text()", namespaces={"dc": oai.NS_DC})
    assert label in texts
