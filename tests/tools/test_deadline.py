"""Deadline: what is left, when it has passed, and loops that look at the clock now and then."""

from __future__ import annotations

import math

import pytest

from devbot.tools.deadline import NO_DEADLINE, Deadline, OutOfTime


class Clock:
    def __init__(self) -> None:
        self.now = 100.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        return self.now


def test_remaining_and_passed_follow_the_clock() -> None:
    clock = Clock()
    deadline = Deadline(105.0, clock)
    assert deadline.remaining() == 5.0
    assert not deadline.passed()
    clock.now = 106.0
    assert deadline.remaining() == 0.0
    assert deadline.passed()
    with pytest.raises(OutOfTime):
        deadline.check()


def test_no_deadline_never_passes() -> None:
    assert NO_DEADLINE.remaining() == math.inf
    assert not NO_DEADLINE.passed()
    NO_DEADLINE.check()


def test_paced_reads_the_clock_once_per_stretch_and_stops_when_passed() -> None:
    clock = Clock()
    deadline = Deadline(105.0, clock)
    assert list(deadline.paced(range(10), every=4)) == list(range(10))
    assert clock.reads == 3
    seen = []
    with pytest.raises(OutOfTime):
        for item in deadline.paced(range(10), every=4):
            seen.append(item)
            clock.now += 1.0
    assert seen == list(range(8))
