"""Five shapes of test: the per-step cost of each should not grow with the state it holds
or the depth it runs at (``bench/run.py`` compares each with the first, per step). The
last is made of other events than lines: a generator of the project resumed and yielding
in a loop, so that its per-step cost is that of a resume and a yield."""

from shapes import big_state, counter, tally

PASSES = 20_000


def test_one_int_loop():
    x = 0
    for _ in range(PASSES):
        x += 1
    assert x == PASSES


def test_loop_beside_big_state():
    items, points, grid = big_state()
    x = 0
    for _ in range(PASSES):
        x += 1
    assert x == PASSES
    assert len(items) + len(points) + len(grid) == 5350


def descend(depth, shared, passes):
    if depth:
        return descend(depth - 1, shared, passes)
    x = 0
    for _ in range(passes):
        x += 1
    return x


def test_loop_at_the_bottom_of_a_deep_recursion():
    shared = list(range(1000))
    assert descend(60, shared, PASSES) == PASSES


def test_big_state_with_a_loop_that_mutates_in_place():
    items, points, grid = big_state()
    counts = dict.fromkeys(range(5000), 0)
    for i in range(PASSES // 4):
        tally(counts, items, i)
    assert sum(counts.values()) == PASSES // 4
    assert items[:3] == [4900, 4901, 4902]
    assert len(points) + len(grid) == 350


def test_generator_resumed_in_a_loop():
    total = sum(counter(PASSES))
    for i in counter(PASSES):
        total -= i
    assert total == 0
