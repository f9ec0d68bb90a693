"""How the CLI shows progress, fed with snapshots from a Tracker on a fake clock (no media, no ffmpeg)."""

from __future__ import annotations

import io

from splitstitch.cli import LogLines, ProgressView, TerminalBar
from splitstitch.progress import SILENT, Tracker


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def play_job(tracker: Tracker, clock: FakeClock) -> None:
    """probe, then an encode of two 5 s segments + audio at 2x realtime for 3 s, then verify; finished."""
    tracker.stage("probe")
    clock.now += 0.2
    tracker.stage("encode", {"s0": 5.0, "s1": 5.0}, ("audio",))
    reports = {key: tracker.reporter(key) for key in ("s0", "s1", "audio")}
    reports["audio"](10.0)
    for tick in range(1, 7):
        clock.now += 0.5
        reports["s0"](tick * 0.5)
        reports["s1"](tick * 0.5)
    clock.now += 2.0
    tracker.stage("verify")
    clock.now += 0.3
    tracker.finish()


def test_log_lines_one_per_stage_and_no_carriage_returns() -> None:
    stream, clock = io.StringIO(), FakeClock()
    play_job(Tracker(LogLines(stream), clock=clock), clock)
    text = stream.getvalue()
    assert "\r" not in text
    assert text.splitlines() == [
        "splitstitch: probe started",
        "splitstitch: encode started (2 segments + audio, 10.0 s of video)",
        "splitstitch: encode done in 5.0 s (2.0x realtime)",
        "splitstitch: verify started",
    ]


def test_terminal_bar_shows_stage_percent_seconds_speed_and_eta() -> None:
    stream, clock = FakeTTY(), FakeClock()
    bar = TerminalBar(stream)
    play_job(Tracker(bar, clock=clock), clock)
    frames = [frame.strip() for frame in stream.getvalue().split("\r") if frame.strip()]
    assert frames[0].startswith("probe")
    encode = [frame for frame in frames if frame.startswith("encode")]
    # 3.0 s of 5 s in each segment after 3 wall s: 60%, 2x realtime, (10 - 6) / 2 = 2 s left
    assert any("60%" in f and "6.0/10.0 s" in f and "2.00x realtime" in f and "ETA 00:02" in f for f in encode)
    assert any(" 0%" in f and "0.0/10.0 s" in f and "ETA ?" in f and "audio 0%" in f for f in encode)
    assert encode[-1].startswith("encode 100%") and encode[-1].endswith("ETA 00:00, audio 100%")
    assert any(frame.startswith("verify") for frame in frames)
    bar.close()  # leave=False: the bar clears its line
    assert stream.getvalue().endswith("\r")


def test_progress_view_picks_bar_lines_or_nothing() -> None:
    assert isinstance(ProgressView(False, FakeTTY()).render, TerminalBar)
    assert isinstance(ProgressView(False, io.StringIO()).render, LogLines)
    quiet_stream = FakeTTY()
    quiet = ProgressView(True, quiet_stream)
    assert quiet.progress is SILENT
    quiet.finish()
    quiet.close()
    assert quiet_stream.getvalue() == ""
