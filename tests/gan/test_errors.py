"""gan_engine.errors: every deliberate error of the library shares one base class."""

from __future__ import annotations

import pytest

from gan_engine.archs.features import FeatureWeightsError
from gan_engine.cards import CheckpointError
from gan_engine.cli import CLIError
from gan_engine.data.imageio import ImageReadError
from gan_engine.errors import GanEngineError, InvalidInputError
from gan_engine.pretrained.mobilenet import MobileNetWeightsError
from gan_engine.pretrained.tflite_reader import TFLiteError

LIBRARY_ERRORS = [CheckpointError, ImageReadError, FeatureWeightsError, MobileNetWeightsError, TFLiteError,
                  InvalidInputError]


@pytest.mark.parametrize("error", [*LIBRARY_ERRORS, CLIError])
def test_library_errors_share_the_base(error: type[Exception]) -> None:
    assert issubclass(error, GanEngineError)


@pytest.mark.parametrize("error", LIBRARY_ERRORS)
def test_library_errors_stay_value_errors(error: type[Exception]) -> None:
    # callers (the archive's job worker, older scripts) catch ValueError
    assert issubclass(error, ValueError)


def test_a_bug_is_not_a_library_error() -> None:
    assert not issubclass(TypeError, GanEngineError) and not issubclass(ValueError, GanEngineError)


def test_bad_user_input_is_a_library_error_and_a_value_error() -> None:
    from gan_engine.devices import resolve_device
    from gan_engine.inference.base import check_strength

    for bad in (lambda: resolve_device("quantum"), lambda: check_strength(1.5)):
        with pytest.raises(InvalidInputError) as caught:
            bad()
        assert isinstance(caught.value, ValueError)


def test_the_cli_reports_a_library_error_in_one_line(tmp_path, capsys) -> None:
    from gan_engine.cli import main

    assert main(["degrade", str(tmp_path / "absent.png"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.strip() == f"error: no such file: {tmp_path / 'absent.png'}"


@pytest.mark.parametrize("bug", [ValueError, OSError, KeyError, RuntimeError])
def test_an_unexpected_exception_propagates_from_the_cli(tmp_path, monkeypatch, bug) -> None:
    # A bug hours into a run must show its traceback, not one line: the CLI catches only
    # GanEngineError, not every ValueError or OSError as it once did.
    import numpy as np

    from gan_engine.cli import main
    from gan_engine.data import imageio
    from gan_engine.data.degradations import pipeline

    src = imageio.save_image(tmp_path / "a.png", np.full((8, 8, 3), 0.5, np.float32))

    def broken(*args, **kwargs):
        raise bug("a bug")

    monkeypatch.setattr(pipeline, "age_image", broken)
    with pytest.raises(bug, match="a bug"):
        main(["degrade", str(src), "--out", str(tmp_path / "o")])
