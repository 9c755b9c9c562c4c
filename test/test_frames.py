"""Newest-only bookkeeping: rates, skipped messages, joints at a frame's stamp."""

from __future__ import annotations

import math

import numpy as np
import pytest

from jepa_ros.frames import FrameCounter, FramePacer, JointHistory, RateMeter


def test_rate_meter_takes_the_median_interval_and_leaves_out_silences():
    meter = RateMeter(history=4, max_interval_s=1.0)
    assert meter.period_s is None and meter.hz is None
    for t in (0.0, 0.1, 0.2, 0.35, 0.45):
        meter.tick(t)
    assert meter.period_s == pytest.approx(0.1) and meter.hz == pytest.approx(10.0)
    meter.tick(5.0)  # a silence of 4.55 s: not an interval of the rate
    assert meter.period_s == pytest.approx(0.1)
    for t in (5.2, 5.4, 5.6, 5.8):  # the last 4 intervals: a slower rate
        meter.tick(t)
    assert meter.hz == pytest.approx(5.0)
    with pytest.raises(ValueError):
        RateMeter(history=0)


def test_frame_counter_counts_sequence_gaps_per_publisher():
    counter = FrameCounter()
    assert [counter.count(b'a', seq) for seq in (1, 2, 5, 6)] == [0, 0, 2, 0]
    assert counter.count(b'b', 10) == 0, 'a new publisher starts its own count'
    assert counter.count(b'a', 9) == 2
    assert counter.report('frames') == {'frames_received': 6, 'frames_skipped': 4}
    counter.count(None, None)  # a middleware without sequence numbers
    assert counter.report('frames') == {'frames_received': 7, 'frames_skipped': 'unknown'}


def test_joint_history_interpolates_at_a_stamp():
    history = JointHistory(seconds=1.0)
    assert history.at(0.0) is None and history.latest is None
    for k in range(5):
        history.add(10.0 + 0.1 * k, np.array([k, -k], dtype=float))
    np.testing.assert_allclose(history.at(10.15), [1.5, -1.5])
    np.testing.assert_allclose(history.at(10.2), [2.0, -2.0])
    np.testing.assert_array_equal(history.at(9.0), [0.0, 0.0]), 'before: the oldest'
    np.testing.assert_array_equal(history.at(11.0), [4.0, -4.0]), 'after: the newest'
    history.add(11.5, np.array([9.0, 9.0]))  # older than 1 s is forgotten
    np.testing.assert_array_equal(history.at(10.0), [9.0, 9.0])
    history.add(3.0, np.array([1.0, 1.0]))  # the clock went back: start over
    np.testing.assert_array_equal(history.at(100.0), [1.0, 1.0])


def test_frame_pacer_waits_for_the_command_made_from_the_last_frame():
    pacer = FramePacer(rate_hz=10.0)  # a period of 0.1 s
    assert pacer.next_frame_s() == -math.inf, 'the first frame: now'
    pacer.frame(0.0)
    assert pacer.next_frame_s() == pytest.approx(0.1), 'idle: free-running'
    pacer.command(0.05)  # a fast loop: the command came within the period
    pacer.frame(0.1)
    pacer.command(0.15)
    assert pacer.next_frame_s() == pytest.approx(0.2), 'never faster than the rate'
    pacer.frame(0.2)
    assert pacer.next_frame_s() == pytest.approx(0.4), 'commands flow: wait, at most 2 periods'
    pacer.command(0.33)  # a slow loop: the command for the last frame came late
    assert pacer.next_frame_s() == pytest.approx(0.33), 'the next frame right away'
    pacer.frame(0.33)
    pacer.frame(0.53)  # no command since 0.33: the loop went idle
    pacer.frame(0.63)
    assert pacer.next_frame_s() == pytest.approx(0.73), 'idle again: free-running'
    free = FramePacer(rate_hz=10.0, sync=False)
    free.frame(0.0)
    free.command(0.01)
    assert free.next_frame_s() == pytest.approx(0.1)
