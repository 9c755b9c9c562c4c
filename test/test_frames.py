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


def test_frame_pacer_without_lead_waits_for_the_command_made_from_the_last_frame():
    pacer = FramePacer(rate_hz=10.0, lead=False)  # a period of 0.1 s
    assert pacer.next_frame_s() == -math.inf, 'the first frame: now'
    pacer.frame(0.0)
    pacer.sent(0.0)
    assert pacer.next_frame_s() == pytest.approx(0.1), 'idle: free-running'
    pacer.command(0.05)  # a fast loop: the command came within the period
    pacer.frame(0.1)
    pacer.sent(0.1)
    pacer.command(0.15)
    assert pacer.next_frame_s() == pytest.approx(0.2), 'never faster than the rate'
    pacer.frame(0.2)
    pacer.sent(0.2)
    assert pacer.next_frame_s() == pytest.approx(0.4), 'commands flow: wait, at most 2 periods'
    pacer.command(0.33)  # a slow loop: the command for the last frame came late
    assert pacer.next_frame_s() == pytest.approx(0.33), 'the next frame right away'
    pacer.frame(0.33)
    pacer.sent(0.33)
    pacer.frame(0.53)  # no command since 0.33: the loop went idle
    pacer.frame(0.63)
    assert pacer.next_frame_s() == pytest.approx(0.73), 'idle again: free-running'
    free = FramePacer(rate_hz=10.0, sync=False)
    free.frame(0.0)
    free.sent(0.0)
    free.command(0.01)
    assert free.next_frame_s() == pytest.approx(0.1)
    with pytest.raises(ValueError, match='rate_hz'):
        FramePacer(rate_hz=0.0)


def run_camera(pacer, render_s, answer_s, frames=40, commands_from=0.0, skip=()):
    """The sim camera's thread and a newest-only control loop, event by event.

    Each frame is rendered `render_s` after its start and goes out when the pacer lets it; the
    loop takes the newest frame when it is free (an older one waiting is dropped), works
    `answer_s` on it, then commands (from `commands_from` on, and not for frames in `skip`).
    Returns the frames' start and send times (F,) and {frame: command time}."""
    starts, sends, commands = [], [], {}
    loop = {'free': 0.0, 'waiting': None}  # when the loop is free; the frame waiting for it
    arriving = []  # (time, frame) of the commands on their way

    def take(frame, now):
        loop['free'] = now + answer_s
        if now >= commands_from and frame not in skip:
            arriving.append((now + answer_s, frame))

    def until(t):  # the loop's events up to t, the commands that arrive by then
        while True:
            waiting = loop['waiting']
            if waiting is not None and loop['free'] <= t:
                loop['waiting'] = None
                take(waiting, max(loop['free'], sends[waiting]))
            elif arriving and min(arriving)[0] <= t:
                arrival, frame = min(arriving)
                arriving.remove((arrival, frame))
                commands[frame] = arrival
                pacer.command(arrival)
            else:
                return

    clock = 0.0
    for index in range(frames):
        until(max(clock, pacer.next_frame_s()))
        start = max(clock, pacer.next_frame_s())
        pacer.frame(start)
        pacer.rendered(start + render_s)
        until(max(start + render_s, pacer.send_s()))
        clock = max(start + render_s, pacer.send_s())
        pacer.sent(clock)
        starts.append(start)
        sends.append(clock)
        until(clock)
        if loop['free'] <= clock:
            take(index, clock)
        else:
            loop['waiting'] = index
    return np.array(starts), np.array(sends), commands


CASES = {
    'fast loop': (30.0, 0.024, 0.017),  # reach_fast's demo here: the render is the longest
    'slow render': (12.0, 0.060, 0.030),
    'slow loop': (12.0, 0.030, 0.100),  # the loop is slower than a period: no lead
}


@pytest.mark.parametrize('case', CASES)
@pytest.mark.parametrize('commands_from', [0.0, 0.5], ids=['flowing', 'from idle'])
def test_frame_pacer_with_lead_renders_the_next_frame_while_the_loop_works(case, commands_from):
    rate_hz, render_s, answer_s = CASES[case]
    period = 1.0 / rate_hz

    def steady(lead):
        starts, _, commands = run_camera(
            FramePacer(rate_hz, lead=lead), render_s, answer_s, commands_from=commands_from
        )
        late = [k for k in sorted(commands) if k >= 20]  # the answer and render times learnt
        assert len(late) == len(starts) - 21, 'every frame is used: none dropped'
        times = np.array([commands[k] for k in late])
        return np.diff(times), times - starts[late]

    serial = max(period, render_s + answer_s)  # a cycle without lead
    cycle, age = steady(lead=True)
    expected = max(period, render_s, answer_s) if answer_s < period else serial
    np.testing.assert_allclose(cycle, expected, atol=1e-6)
    np.testing.assert_allclose(age, render_s + answer_s, atol=1e-6), 'no frame waits'
    cycle, age = steady(lead=False)
    np.testing.assert_allclose(cycle, serial, atol=1e-6)
    np.testing.assert_allclose(age, render_s + answer_s, atol=1e-6)


def test_frame_pacer_gives_up_on_frames_the_loop_never_answers():
    rate_hz, render_s, answer_s = CASES['fast loop']
    period = 1.0 / rate_hz
    _, sends, commands = run_camera(FramePacer(rate_hz), render_s, answer_s, skip={20, 21})
    assert 20 not in commands and 21 not in commands and 22 in commands
    gaps = np.diff(sends)
    np.testing.assert_allclose(gaps[20:22], max(period, 2 * answer_s), atol=1e-6)
    late = [k for k in sorted(commands) if k >= 25]
    np.testing.assert_allclose(np.diff([commands[k] for k in late]), period, atol=1e-6)
    # Frames refused while idle (a disarmed gate: proposals, no commands) hold nothing back
    # once commands come: no gap between frames longer than a render and an answer
    _, sends, _ = run_camera(FramePacer(rate_hz), render_s, answer_s, commands_from=0.5)
    assert np.diff(sends).max() <= render_s + answer_s + 1e-6
