"""Keeping a control loop on the newest data: rates, skipped frames, joints at a frame's time.

A stage that takes only the newest message (depth-1 queues) skips the ones that arrived while it
was busy; `FrameCounter` counts them from the publisher's sequence numbers. `RateMeter` measures
the rate a stream really comes at, so the actor can say what it sustains and the watchdog can tell
a slow input from a dead one. `JointHistory` gives the joints measured when a camera frame was
taken, so the actor knows how far the arm moved since. `FramePacer` paces a simulated camera by
the control loop, so no frame is rendered that nobody will use. ROS-free.

Glossary: A controlled joints.
"""

from __future__ import annotations

from collections import deque
import math

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
    """When a camera paced by the control loop takes its next frame.

    Free-running, a camera takes a frame every `1 / rate_hz` whether or not anyone can use it;
    when the loop is slower than that, the frames between are rendered, encoded and dropped. With
    `sync`, while commands are flowing the next frame waits for the command made from the last
    one (never sooner than a period after it, never later than two): one frame per command, none
    wasted. When no command has come for two periods (nothing is being controlled), it
    free-runs. Times in seconds on one clock.
    """

    def __init__(self, rate_hz: float, sync: bool = True) -> None:
        if not rate_hz > 0:
            raise ValueError(f'rate_hz must be > 0, got {rate_hz!r}')
        self.period_s = 1.0 / rate_hz
        self.sync = sync
        self.last_frame = -math.inf
        self.last_command = -math.inf

    def command(self, now: float) -> None:
        self.last_command = now

    def frame(self, now: float) -> None:
        self.last_frame = now

    def next_frame_s(self) -> float:
        """The time of the next frame."""
        earliest = self.last_frame + self.period_s
        flowing = self.last_frame - self.last_command <= 2 * self.period_s
        if not self.sync or not flowing:
            return earliest
        if self.last_command > self.last_frame:  # the loop has acted on the last frame
            return max(earliest, self.last_command)
        return self.last_frame + 2 * self.period_s  # still working on it: wait, not forever
