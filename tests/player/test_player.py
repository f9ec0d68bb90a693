"""Real players: the HLS output played by hls.js and Shaka Player, the DASH output by dash.js and Shaka Player,
in headless Chromium, served from 127.0.0.1, start to end and across forced rung switches, with no player errors. Every frame shown is
read back (requestVideoFrameCallback): it must be a source frame, the first and last source frames must be
among them, and a switch at a segment boundary must show each segment in one rung only.

Skipped, with the reason, where Chromium, Playwright, npm or the packages are absent (`make player-libs`)."""

from __future__ import annotations

import contextlib
import itertools
import json
from pathlib import Path

import pytest

from splitstitch.cli import main
from splitstitch.samples import make_sample
from tests.player.support import CHROMIUM_FLAGS, PACKAGES, chromium, ensure_libs, serve
from tests.stream_probe import frame_times

SECONDS = 6.0  # four 1.5 s segments per rung
HALF_MS = 0.0005
STATE = """() => {
  const v = document.getElementById("video"), q = v.getVideoPlaybackQuality();
  const played = Array.from({length: v.played.length}, (_, i) => [v.played.start(i), v.played.end(i)]);
  return {...window.state, currentTime: v.currentTime, duration: v.duration, played,
          frames: {total: q.totalVideoFrames, dropped: q.droppedVideoFrames, corrupted: q.corruptedVideoFrames}};
}"""
DONE = "window.state && (window.state.ended || window.state.errors.length > 0)"


@pytest.fixture(scope="module")
def libs() -> Path:
    try:
        return ensure_libs()
    except RuntimeError as exc:
        pytest.skip(f"no hls.js/dash.js/Shaka Player: {exc}")


@pytest.fixture(scope="module")
def browser():
    executable = chromium()
    if executable is None:
        pytest.skip("Chromium is not installed (apt-get install chromium, or set SPLITSTITCH_CHROMIUM)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, list[float]]:
    folder = tmp_path_factory.mktemp("player")
    source = make_sample("cfr", folder, SECONDS)
    report = folder / "report.json"
    code = main(["transcode", str(source), "-o", str(folder / "out"), "--format", "cmaf", "--ladder", "240,120",
                 "--segment-seconds", "1.5", "--preset", "veryfast", "--report", str(report), "--quiet"])  # fmt: skip
    assert code == 0
    return folder / "out", json.loads(report.read_text()), [float(t) for t in frame_times(source)]


def play(browser, base: str, page: str, entry: str) -> tuple[dict, list[str], list[str]]:
    tab = browser.new_page()
    page_errors: list[str] = []
    console: list[str] = []
    tab.on("pageerror", lambda e: page_errors.append(str(e)))
    tab.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None)
    try:
        tab.goto(f"{base}/{page}?src=/media/{entry}")
        with contextlib.suppress(Exception):  # a page that never ends: the assertions say what it did
            tab.wait_for_function(DONE, timeout=60_000)
        return tab.evaluate(STATE), page_errors, console
    finally:
        tab.close()


@pytest.mark.parametrize(
    ("page", "entry", "library", "down_at_boundary"),
    [("hls.html", "master.m3u8", "hls.js", False), ("dash.html", "manifest.mpd", "dashjs", True),
     ("shaka.html", "master.m3u8", "shaka-player", True), ("shaka.html", "manifest.mpd", "shaka-player", True)],
)  # fmt: skip
def test_player_plays_to_the_end_across_rung_switches(
    page: str, entry: str, library: str, down_at_boundary: bool, libs: Path, browser, package
) -> None:
    out, report, source_times = package
    with serve({"/lib/": libs, "/media/": out}) as base:
        state, page_errors, console = play(browser, base, page, entry)
    shown = state.pop("shown")
    why = json.dumps(state) + "\n" + "\n".join(console[:20])
    assert state["library"] == PACKAGES[library]
    assert state["errors"] == [] and page_errors == [], why
    assert sorted(level[1] for level in state["levels"]) == [120, 240]
    # start to end: playback ended at the end, one played range from 0, first and last source frames shown
    assert state["ended"], why
    assert abs(state["duration"] - report["source"]["video"]["duration_s"]) <= 0.05, why  # longest track buffered
    assert state["currentTime"] >= state["duration"] - 0.001, why
    assert len(state["played"]) == 1 and state["played"][0][0] <= 0.05, why
    assert abs(shown[0][0] - source_times[0]) <= HALF_MS and abs(shown[-1][0] - source_times[-1]) <= HALF_MS, why
    # every frame shown is a source frame; every source frame decoded (a count: the frame callback can miss
    # frames on a busy machine, so it is no census), none corrupted
    off_grid = [t for t, _ in shown if min(abs(t - s) for s in source_times) > HALF_MS]
    assert off_grid == [], off_grid[:5]
    assert state["frames"]["total"] >= len(source_times) and state["frames"]["corrupted"] == 0, why
    # both rungs shown, up then down; the new rung from a segment's first frame (not so where hls.js switched
    # at once): the last frame shown before the change lies in an earlier segment
    runs = [height for height, _ in itertools.groupby(shown, key=lambda f: f[1])]
    assert runs == [120, 240, 120], why
    starts = [s["start_s"] for s in report["plan"]["segments"]]

    def segment(t: float) -> int:
        return max(n for n, start in enumerate(starts) if start <= t + HALF_MS)

    changes = [n for n in range(1, len(shown)) if shown[n][1] != shown[n - 1][1]]  # first frame of a new height
    boundary = [segment(shown[n][0]) > segment(shown[n - 1][0]) for n in changes]
    expected = [True, True] if down_at_boundary else [True, boundary[1]]
    assert boundary == expected, [shown[n - 1 : n + 1] for n in changes]
