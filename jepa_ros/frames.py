"""Keeping a control loop on the newest data: rates, skipped frames, joints at a frame's time.

A stage that takes only the newest message (depth-1 queues) skips the ones that arrived while it
was busy; `FrameCounter` counts them from the publisher's sequence numbers. `RateMeter` measures
the rate a stream really comes at, so the actor can say what it sustains and the watchdog can tell
a slow input from a dead one. `JointHistory` gives the joints measured when a camera frame was
taken, so the actor knows how far the arm moved since. `FramePacer` paces a simulated camera by
the control loop, so no frame is rendered that nobody will use, each one ready when the loop
is. ROS-free.

Glossary: A controlled joints.
"""

from __future__ import annotations

from collections import deque
import math
import threading

import numpy as np


class RateMeter:
    """Event times -> the rate they come at: the median of the last `history` intervals.

    Intervals longer than `max_interval_s` are silences, not the rate, and are left out.
    """

    def __init__(self, history: int = 8, max_interval_s: float = math.inf) -> None:
        if history < 1:
            raise ValueError(f'history must be >= 1, got {history}')
        if not max_interval_s > 0:
            raise ValueError(f'max_interval_s must be > 0, got {max_interval_s!r}')
        self.max_interval_s = max_interval_s
        self.intervals: deque[float] = deque(maxlen=history)
        self.last: float | None = None
        self.events = 0

    def tick(self, now: float) -> None:
        if self.last is not None and 0 < now - self.last <= self.max_interval_s:
            self.intervals.append(now - self.last)
        self.last = now
        self.events += 1

    @property
    def period_s(self) -> float | None:
        """The median interval, or None before two events."""
        return float(np.median(self.intervals)) if self.intervals else None

    @property
    def hz(self) -> float | None:
        period = self.period_s
        return None if period is None else 1.0 / period


class FrameCounter:
    """Messages a newest-only subscriber received and skipped.

    `count(publisher, sequence)` for each message taken: `sequence` is the publisher's sequence
    number (None where the middleware gives none). Returns how many messages of that publisher
    came in between and were never taken.
    """

    def __init__(self) -> None:
        self.received = 0
        self.skipped = 0
        self.counted = True  # False once a message came without a sequence number
        self._last: dict[bytes, int] = {}

    def count(self, publisher: bytes | None, sequence: int | None) -> int:
        self.received += 1
        if sequence is None or publisher is None:
            self.counted = False
            return 0
        last = self._last.get(publisher)
        self._last[publisher] = sequence
        skipped = max(0, sequence - last - 1) if last is not None else 0
        self.skipped += skipped
        return skipped

    def report(self, prefix: str) -> dict[str, int | str]:
        """`{prefix}_received` and `{prefix}_skipped` (or 'unknown') for a status message."""
        skipped = self.skipped if self.counted else 'unknown'
        return {f'{prefix}_received': self.received, f'{prefix}_skipped': skipped}


class JointHistory:
    """The last `seconds` of measured joints: `add(stamp, joints)`, `at(stamp)`."""

    def __init__(self, seconds: float = 2.0) -> None:
        if not seconds > 0:
            raise ValueError(f'seconds must be > 0, got {seconds!r}')
        self.seconds = seconds
        self._stamps: deque[float] = deque()
        self._joints: deque[np.ndarray] = deque()

    def add(self, stamp: float, joints: np.ndarray) -> None:
        """A joint reading (A,) taken at `stamp` (s); readings must come in time order."""
        if self._stamps and stamp < self._stamps[-1]:
            self.clear()  # the clock went back (a restarted simulation): start over
        self._stamps.append(stamp)
        self._joints.append(np.asarray(joints, dtype=float))
        while self._stamps[-1] - self._stamps[0] > self.seconds:
            self._stamps.popleft()
            self._joints.popleft()

    def clear(self) -> None:
        self._stamps.clear()
        self._joints.clear()

    @property
    def latest(self) -> np.ndarray | None:
        return self._joints[-1] if self._joints else None

    def at(self, stamp: float) -> np.ndarray | None:
        """The joints (A,) at `stamp`, interpolated between the readings around it; the oldest
        or newest reading outside them; None if there is none."""
        if not self._stamps:
            return None
        stamps = np.fromiter(self._stamps, dtype=float)
        k = int(np.searchsorted(stamps, stamp, side='right'))  # stamps[k-1] <= stamp < stamps[k]
        if k == 0:
            return self._joints[0].copy()
        if k == len(stamps):
            return self._joints[-1].copy()
        before, after = self._joints[k - 1], self._joints[k]
        fraction = (stamp - stamps[k - 1]) / (stamps[k] - stamps[k - 1])
        return before + fraction * (after - before)


class FramePacer:
    """When a camera paced by the control loop takes its next frame, and when it sends it.

    Free-running, a camera takes a frame every `1 / rate_hz` whether or not anyone can use it;
    when the loop is slower than that, the frames between are rendered, encoded and dropped. With
    `sync`, while commands are flowing a frame goes out only once the loop has answered the frames
    sent before it (a command each, in order): one frame per command, none wasted, none waiting
    in the loop's queues. Without `lead`, the next frame is only then started (never sooner than
    a period after the last one, never later than two), so a cycle takes the render and the loop
    one after the other. With `lead` (the default), while the loop answers within a period, the
    next frame starts early enough to be rendered when the loop is expected to answer: the send
    time plus the loop's answer time, less the render time (medians of the last `window`), never
    sooner than a period after the last start. A cycle then takes the longest of the render, the
    loop and the period, and a frame is no older for it; a loop that stops keeping that pace
    (`_update_leading`) gets its frames as without `lead`. A frame the loop does not answer (it
    skipped or refused it) is given up on after twice the answer time while leading (within one
    and two periods), else after two periods. When no command has come for two periods (nothing
    is being controlled), it free-runs; the first command after that answers every frame sent
    before it. Times in seconds on one clock; the methods may be called from several threads.
    """

    def __init__(
        self, rate_hz: float, sync: bool = True, lead: bool = True, window: int = 9
    ) -> None:
        if not rate_hz > 0:
            raise ValueError(f'rate_hz must be > 0, got {rate_hz!r}')
        if window < 1:
            raise ValueError(f'window must be >= 1, got {window}')
        self.period_s = 1.0 / rate_hz
        self.sync, self.lead = sync, lead
        self.last_frame = -math.inf  # the last frame started (its exposure)
        self.last_command = -math.inf
        self.unanswered: deque[float] = deque()  # when the frames not yet answered were sent
        self.renders: deque[float] = deque(maxlen=window)  # seconds from start to rendered
        self.answers: deque[float] = deque(maxlen=window)  # seconds from sent to its command
        self.intervals: deque[float] = deque(maxlen=window)  # seconds between commands
        self.leading = False  # starting frames before the last one is answered
        self._lock = threading.Lock()

    def command(self, now: float) -> None:
        """A command came: the loop's answer to the oldest frame it has not answered (to all of
        them after a pause)."""
        with self._lock:
            if self._flowing:
                self.intervals.append(now - self.last_command)
            else:
                self.unanswered.clear()
            self.last_command = now
            self._forget(now)
            if self.unanswered:
                self.answers.append(now - self.unanswered.popleft())
            self._update_leading()

    def frame(self, now: float) -> None:
        """A frame starts."""
        with self._lock:
            self.last_frame = now

    def rendered(self, now: float) -> None:
        """The frame started last is rendered (it may still be held: `send_s`)."""
        with self._lock:
            self.renders.append(now - self.last_frame)

    def sent(self, now: float) -> None:
        """The frame rendered last went out."""
        with self._lock:
            self._forget(now)
            self.unanswered.append(now)

    def send_s(self) -> float:
        """The time the frame rendered last may go out: once the frames sent before it are
        answered, or given up on."""
        with self._lock:
            if not self.unanswered or not self._flowing:
                return -math.inf
            return self.unanswered[-1] + self._give_up_s()

    def next_frame_s(self) -> float:
        """The time of the next frame."""
        with self._lock:
            earliest = self.last_frame + self.period_s
            if not self._flowing:
                return earliest  # nothing is being controlled: free-run
            if not self.unanswered:  # the loop has answered every frame
                return max(earliest, self.last_command)
            latest = self.last_frame + 2 * self.period_s  # wait, not forever
            answer = self._answer_s()
            if answer is None:
                return latest
            answered = -math.inf  # when the loop should answer the last frame sent
            for sent in self.unanswered:
                answered = max(sent, answered) + answer
            due = answered - float(np.median(self.renders))
            return min(max(earliest, due), latest)

    @property
    def _flowing(self) -> bool:
        return self.sync and self.last_frame - self.last_command <= 2 * self.period_s

    def _update_leading(self) -> None:
        """Start or stop leading, from the answer, render and command times measured so far.

        Leading starts once the loop answers within a period, measured one frame at a time
        while the commands come at the pace that implies (within 10% of the longer of the period
        and the render plus the answer; slower, the answers were matched to the wrong frames).
        It stops when it no longer pays: the commands come no faster than the render plus the
        answer (the loop is the slowest stage, and the frames started early wait for it); the
        times are then measured anew."""
        if not (
            self.lead and self.renders and len(self.answers) >= 3 and len(self.intervals) >= 3
        ):
            return  # (too few to tell yet)
        answer, render = float(np.median(self.answers)), float(np.median(self.renders))
        interval = float(np.median(self.intervals))
        if self.leading and interval > 0.95 * (render + answer):
            self.leading = False
            self.answers.clear()
            self.intervals.clear()
        elif not self.leading and answer < self.period_s:
            self.leading = interval <= 1.1 * max(self.period_s, render + answer)
            if self.leading:
                self.intervals.clear()  # the pace it gives is measured from now on

    def _answer_s(self) -> float | None:
        """The loop's answer time (median) while leading, else None."""
        return float(np.median(self.answers)) if self.leading and self.answers else None

    def _give_up_s(self) -> float:
        """How long after it was sent a frame's command is waited for."""
        answer = self._answer_s()
        if answer is None:
            return 2 * self.period_s
        return min(2 * self.period_s, max(self.period_s, 2 * answer))

    def _forget(self, now: float) -> None:
        """Give up on the frames sent too long ago to be answered still."""
        give_up = self._give_up_s()
        while self.unanswered and now - self.unanswered[0] > give_up:
            self.unanswered.popleft()
