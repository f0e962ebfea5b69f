"""Project code the shapes suite calls: it changes the caller's objects in place, and
yields to it."""

from __future__ import annotations

from collections.abc import Iterator


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x = x
        self.y = y


def big_state() -> tuple[list[int], list[Point], list[list[int]]]:
    """A 5,000-item list, 300 small objects and 50x50 nested lists."""
    items = list(range(5000))
    points = [Point(i, -i) for i in range(300)]
    grid = [[row * column for column in range(50)] for row in range(50)]
    return items, points, grid


def tally(counts: dict[int, int], items: list[int], i: int) -> None:
    counts[i % 100] += 1
    items[i % 100] = i


def counter(n: int) -> Iterator[int]:
    """0 to n - 1, one resume and one yield each: a step per event, with no line between."""
    i = 0
    while i < n:
        yield i
        i += 1
