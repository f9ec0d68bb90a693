"""Progress without media: ffmpeg's `-progress` text parsed from literals, the stage meter on a fake clock."""

from __future__ import annotations

import threading

import pytest

from splitstitch.ffmpeg import ProgressBlock, ffmpeg_argv, parse_progress
from splitstitch.progress import MIN_SPAN_S, SILENT, Snapshot, StageMeter, Tracker

# two blocks as ffmpeg 8.1 writes them (-progress pipe:1), then the last one
BLOCKS = """frame=4
fps=0.00
stream_0_0_q=29.0
bitrate=   5.8kbits/s
total_size=48
out_time_us=66667
out_time_ms=66667
out_time=00:00:00.066667
dup_frames=0
drop_frames=0
speed=0.132x
progress=continue
frame=13
out_time_us=366667
out_time_ms=366667
out_time=00:00:00.366667
speed=0.365x
progress=continue
frame=180
out_time_us=5933333
out_time_ms=5933333
out_time=00:00:05.933333
speed=1.03x
progress=end
"""


def test_parse_progress_blocks_in_seconds() -> None:
    assert list(parse_progress(BLOCKS.splitlines())) == [
        ProgressBlock(0.066667, False),
        ProgressBlock(0.366667, False),
        ProgressBlock(5.933333, True),
    ]


def test_parse_progress_not_available_and_negative_times() -> None:
    text = "out_time_us=N/A\nout_time_ms=N/A\nout_time=N/A\nprogress=continue\nout_time_us=-23220\nprogress=continue\n"
    assert list(parse_progress(text.splitlines(keepends=True))) == [
        ProgressBlock(None, False),
        ProgressBlock(0.0, False),
    ]


def test_parse_progress_fallbacks_and_partial_input() -> None:
    # without out_time_us: out_time, then out_time_ms (microseconds despite the name); an unclosed block is dropped
    text = "out_time=01:02:03.500000\nprogress=continue\nout_time_ms=2500000\nprogress=end\nout_time_us=9000000\n"
    assert list(parse_progress(text.splitlines())) == [ProgressBlock(3723.5, False), ProgressBlock(2.5, True)]
    assert list(parse_progress(["", "garbage", "progress=end"])) == [ProgressBlock(None, True)]


def test_ffmpeg_argv_asks_for_progress_only_when_wanted() -> None:
    plain = ffmpeg_argv(["-i", "in", "out"], program="ff")
    assert plain == ["ff", "-nostdin", "-hide_banner", "-nostats", "-loglevel", "error", "-y", "-i", "in", "out"]
    assert ffmpeg_argv(["-i", "in", "out"], program="ff", progress=True) == [
        "ff", "-nostdin", "-hide_banner", "-nostats", "-progress", "pipe:1", "-stats_period", "0.5",
        "-loglevel", "error", "-y", "-i", "in", "out",
    ]  # fmt: skip


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_meter_sums_parts_clamped_to_their_length() -> None:
    clock = FakeClock()
    meter = StageMeter("encode", {"a": 4.0, "b": 6.0}, clock=clock)
    assert meter.started() == Snapshot("encode", "started", 0.0, 10.0, 0.0, None, None, 2)
    clock.now += 0.5
    snap = meter.report("a", 1.5)
    assert (snap.state, snap.done_s, snap.total_s, snap.elapsed_s) == ("running", 1.5, 10.0, 0.5)
    assert snap.speed is None and snap.eta_s is None  # not measured before MIN_SPAN_S
    meter.report("b", 2.0)
    assert meter.report("a", 4.2).done_s == pytest.approx(6.0)  # a's last frame time past its length: 4.0
    assert meter.report("b", -1.0).done_s == pytest.approx(4.0)  # negative: 0
    with pytest.raises(KeyError):
        meter.report("c", 1.0)


def test_meter_speed_and_eta_over_a_sliding_window() -> None:
    clock = FakeClock()
    meter = StageMeter("encode", {"a": 30.0, "b": 30.0}, clock=clock, window_s=4.0)
    for second in range(1, 5):  # both parts at 1 media s per wall s: 2x realtime
        clock.now += 1.0
        meter.report("a", second)
        snap = meter.report("b", second)
    assert snap.speed == pytest.approx(2.0)
    assert snap.eta_s == pytest.approx((60.0 - 8.0) / 2.0)
    for second in range(5, 9):  # then only a moves, at 1x: after one window the speed is 1x, not the average
        clock.now += 1.0
        snap = meter.report("a", second)
    assert snap.done_s == pytest.approx(12.0)
    assert snap.speed == pytest.approx(1.0)
    assert snap.eta_s == pytest.approx(48.0)
    clock.now += 2.0
    done = meter.finish()
    assert (done.state, done.done_s, done.elapsed_s, done.eta_s) == ("done", 60.0, 10.0, 0.0)
    assert done.speed == pytest.approx(6.0)  # the whole stage: 60 media s in 10 wall s


def test_meter_retry_going_back_gives_no_speed_and_side_jobs_are_not_summed() -> None:
    clock = FakeClock()
    meter = StageMeter("encode", {"a": 10.0}, ("audio",), clock=clock, window_s=MIN_SPAN_S)
    clock.now += MIN_SPAN_S
    meter.report("a", 5.0)
    snap = meter.report("audio", 4.0)
    assert snap.done_s == 5.0 and snap.side == (("audio", 0.4),)
    clock.now += MIN_SPAN_S
    snap = meter.report("a", 0.0)  # the segment failed and starts again
    assert snap.done_s == 0.0 and snap.speed is None and snap.eta_s is None
    assert meter.report("audio", 11.0).side == (("audio", 1.0),)
    assert meter.finish().side == (("audio", 1.0),)


def test_meter_is_thread_safe() -> None:
    parts = {f"s{n}": 100.0 for n in range(8)}
    meter = StageMeter("encode", parts)

    def work(key: str) -> None:
        for tenth in range(1, 1001):
            meter.report(key, tenth / 10)

    threads = [threading.Thread(target=work, args=(key,)) for key in parts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert meter.report("s0", 100.0).done_s == pytest.approx(800.0)


def test_tracker_stages_in_order_and_stale_reports_dropped() -> None:
    clock, seen = FakeClock(), []
    tracker = Tracker(seen.append, clock=clock)
    tracker.stage("probe")
    clock.now += 1.0
    tracker.stage("encode", {"a": 2.0, "b": 2.0}, ("audio",))
    report_a, report_audio = tracker.reporter("a"), tracker.reporter("audio")
    assert report_a and report_audio
    with pytest.raises(KeyError):
        tracker.reporter("z")
    report_a(1.0)
    report_audio(4.0)
    tracker.stage("verify")
    report_a(2.0)  # late: the encode stage is over
    tracker.finish()
    assert [(s.stage, s.state) for s in seen] == [
        ("probe", "started"), ("probe", "done"), ("encode", "started"), ("encode", "running"),
        ("encode", "running"), ("encode", "done"), ("verify", "started"), ("verify", "done"),
    ]  # fmt: skip
    assert seen[1].elapsed_s == 1.0 and seen[1].total_s == 0.0
    assert [s.done_s for s in seen if s.stage == "encode"] == [0.0, 1.0, 1.0, 4.0]
    assert seen[4].side == (("audio", 1.0),)


def test_silent_progress_gives_no_reporters() -> None:
    SILENT.stage("encode", {"a": 1.0})
    assert SILENT.reporter("a") is None
