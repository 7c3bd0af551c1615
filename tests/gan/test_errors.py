"""gan_engine.errors: every deliberate error of the library shares one base class."""

from __future__ import annotations

import pytest

from gan_engine.archs.features import FeatureWeightsError
from gan_engine.cards import CheckpointError
from gan_engine.cli import CLIError
from gan_engine.data.imageio import ImageReadError
from gan_engine.errors import GanEngineError


@pytest.mark.parametrize("error", [CheckpointError, ImageReadError, FeatureWeightsError, CLIError])
def test_library_errors_share_the_base(error: type[Exception]) -> None:
    assert issubclass(error, GanEngineError)


@pytest.mark.parametrize("error", [CheckpointError, ImageReadError, FeatureWeightsError])
def test_library_errors_stay_value_errors(error: type[Exception]) -> None:
    # callers (the archive's job worker, older scripts) catch ValueError
    assert issubclass(error, ValueError)


def test_a_bug_is_not_a_library_error() -> None:
    assert not issubclass(TypeError, GanEngineError) and not issubclass(ValueError, GanEngineError)
