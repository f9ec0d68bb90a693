"""Progress from real ffmpeg runs: `run_ffmpeg(on_progress=...)`, and a whole transcode that moves within segments."""

from __future__ import annotations

import io
import sys
import threading
import time
from pathlib import Path

import pytest

from splitstitch import ffmpeg
from splitstitch.cli import main
from splitstitch.errors import ToolError
from splitstitch.ffmpeg import run_ffmpeg
from splitstitch.pipeline import transcode
from splitstitch.progress import Snapshot, Tracker
from splitstitch.samples import make_clip
from splitstitch.settings import Settings

STAGE_ORDER = ("prepare", "encode", "finish", "verify")


def lavfi(seconds: float | None, realtime: bool = False) -> list[str]:
    duration = f":duration={seconds}" if seconds else ""
    return [*(["-re"] if realtime else []), "-f", "lavfi", "-i", f"testsrc2=size=320x240:rate=30{duration}"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """8 s of 640x360, GOP 2 s: two segments at --segment-seconds 4."""
    return make_clip(tmp_path_factory.mktemp("progress") / "clip.mp4", 8.0, "640x360")


def test_run_ffmpeg_reports_media_seconds_as_it_goes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(ffmpeg, "PROGRESS_PERIOD_S", 0.1)
    seen: list[tuple[float, float]] = []
    done = run_ffmpeg([*lavfi(2.0, realtime=True), "-c:v", "libx264", "-preset", "ultrafast", str(tmp_path / "o.mp4")],
                      on_progress=lambda s: seen.append((time.monotonic(), s)), timeout=60)  # fmt: skip
    assert "-progress" in done.argv and done.stdout == ""
    values = [s for _, s in seen]
    assert values == sorted(values)
    assert 2.0 - 1 / 30 - 1e-3 <= values[-1] <= 2.0  # the end, or the last frame's time
    # read while ffmpeg runs (read in realtime, -re): reports spread over the 2 s, not all at the exit
    assert sum(0 < s < 1.5 for s in values) >= 3
    assert seen[-1][0] - seen[0][0] > 1.0


def test_run_ffmpeg_with_progress_keeps_tool_errors(tmp_path: Path) -> None:
    with pytest.raises(ToolError) as failed:
        run_ffmpeg(["-i", f"file:{tmp_path / 'missing.mp4'}", str(tmp_path / "o.mp4")], on_progress=lambda s: None)
    assert failed.value.returncode not in (0, None) and not failed.value.timed_out
    assert "-progress" in failed.value.argv
    assert "No such file or directory" in failed.value.stderr_tail
    assert "No such file or directory" in str(failed.value)


def test_run_ffmpeg_with_progress_times_out(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ToolError) as failed:
        run_ffmpeg([*lavfi(None, realtime=True), "-f", "null", "-"], on_progress=lambda s: None, timeout=1.5)
    assert failed.value.timed_out and failed.value.returncode is None
    assert "timed out" in str(failed.value)
    assert time.monotonic() - started < 10


def test_a_failing_callback_stops_ffmpeg() -> None:
    def stop(seconds: float) -> None:
        raise RuntimeError("enough")

    started, before = time.monotonic(), threading.active_count()
    with pytest.raises(RuntimeError, match="enough"):
        run_ffmpeg([*lavfi(None, realtime=True), "-f", "null", "-"], on_progress=stop, timeout=60)
    assert time.monotonic() - started < 10  # ffmpeg (endless input) was killed, not waited for
    assert threading.active_count() == before  # the stderr reader and the timer are gone


def test_transcode_progress_moves_within_segments(monkeypatch: pytest.MonkeyPatch, clip: Path, tmp_path: Path) -> None:
    monkeypatch.setattr(ffmpeg, "PROGRESS_PERIOD_S", 0.1)
    seen: list[Snapshot] = []
    tracker = Tracker(seen.append)
    result = transcode(clip, tmp_path / "out.mp4", Settings(preset="medium", segment_seconds=4.0), workers=2,
                       progress=tracker)  # fmt: skip
    tracker.finish()
    segments = result.report["plan"]["segments"]
    assert len(segments) >= 2

    started = [s.stage for s in seen if s.state == "started"]
    assert started == list(STAGE_ORDER)
    assert started == sorted(started, key=STAGE_ORDER.index)  # in order, each once
    assert [s.stage for s in seen if s.state == "done"] == started

    encode = [s for s in seen if s.stage == "encode"]
    total = sum(s["duration_s"] for s in segments)
    assert encode[0].state == "started" and encode[0].done_s == 0 and encode[0].total_s == pytest.approx(total)
    assert encode[-1].state == "done" and encode[-1].done_s == pytest.approx(total)
    running = [s.done_s for s in encode if s.state == "running"]
    # moving within segments: values short of the shortest segment, and many more distinct values than
    # whole segments could give
    shortest = min(s["duration_s"] for s in segments)
    assert any(0 < done < shortest for done in running), running
    assert len({round(done, 3) for done in running if 0 < done < total}) > 2 * len(segments), running
    assert any(s.speed and s.eta_s for s in encode if s.state == "running")


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [False, True])
def test_cli_progress_on_a_terminal_and_in_a_log(terminal: bool, monkeypatch, clip: Path, tmp_path: Path) -> None:
    stderr = FakeTTY() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    out = tmp_path / "out.mp4"
    assert main(["transcode", str(clip), "-o", str(out), "--segment-seconds", "4", "--preset", "ultrafast"]) == 0
    text = stderr.getvalue()
    if terminal:
        frames = [frame.strip() for frame in text.split("\r")]
        assert any(frame.startswith("encode") and "% |" in frame and " s, " in frame for frame in frames)
        assert any(frame.startswith("verify") for frame in frames)
    else:
        assert "\r" not in text
        lines = text.splitlines()
        assert lines[0] == "splitstitch: prepare started"
        assert lines[1].startswith("splitstitch: encode started (2 segments + audio, 8.0 s of video)")
        assert lines[2].startswith("splitstitch: encode done in ") and lines[2].endswith("x realtime)")
        assert lines[3:5] == ["splitstitch: finish started", "splitstitch: verify started"]
        assert lines[5].startswith(f"{out}: 2 segments")
        assert len(lines) == 6
