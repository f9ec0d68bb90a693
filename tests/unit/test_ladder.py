"""Ladder rungs are named by the short side of the displayed picture (ladder.py, plan.output_size)."""

from __future__ import annotations

import pytest

from splitstitch.errors import UsageError
from splitstitch.ladder import plan_ladder
from splitstitch.plan import output_size
from splitstitch.settings import Settings

from .factories import media, video


@pytest.mark.parametrize(
    ("display", "names"),
    [
        ((1920, 1080), ["1080p", "720p", "480p", "360p"]),
        ((1080, 1920), ["1080p", "720p", "480p", "360p"]),  # portrait: 1080 names the short side, 1080x1920
        ((720, 1280), ["720p", "480p", "360p"]),
        ((1440, 1080), ["1080p", "720p", "480p", "360p"]),  # 4:3 is labelled like 16:9 of the same height
        ((300, 200), ["200p"]),  # below every auto height: the source's own
        ((200, 300), ["200p"]),
    ],
)
def test_auto_rungs_are_named_by_the_short_side(display: tuple[int, int], names: list[str]) -> None:
    assert [r.name for r in plan_ladder("auto", display, "h264")] == names


def test_a_portrait_rung_never_upscales_and_keeps_its_cap() -> None:
    rungs = plan_ladder("1440,1080,720", (1080, 1920), "h264")
    assert [(r.name, r.height) for r in rungs] == [("1080p", 1080), ("720p", 720)]
    landscape = plan_ladder("1080,720", (1920, 1080), "h264")
    assert [r.maxrate_kbps for r in rungs] == [r.maxrate_kbps for r in landscape]  # same pixels, same cap
    with pytest.raises(UsageError, match="above the source's 1080p"):
        plan_ladder("1440", (1080, 1920), "h264")


@pytest.mark.parametrize(
    ("fields", "height", "size"),
    [
        ({"width": 1920, "height": 1080}, 720, (1280, 720)),
        ({"width": 1080, "height": 1920}, 720, (720, 1280)),  # portrait pixels
        ({"width": 1920, "height": 1080, "rotation": 90}, 720, (720, 1280)),  # landscape pixels shown portrait
        ({"width": 1920, "height": 1080, "rotation": 270}, 1080, (1080, 1920)),  # its own short side: kept
        ({"width": 1080, "height": 1920}, 1440, (1080, 1920)),  # never upscales
    ],
)
def test_output_size_scales_the_short_side(fields: dict, height: int, size: tuple[int, int]) -> None:
    assert output_size(media(video_info=video(**fields)), Settings(height=height)) == size
