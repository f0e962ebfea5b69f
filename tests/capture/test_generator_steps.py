"""A generator's resume and yield: recorded natively where the compiled build can
(``_steps.c``), the same as the Python recorder records them.

Each scenario is recorded twice in this process: with the callbacks the recorder registers
(on the compiled build, the native steps in front of the Python ones), and with the Python
recorder's own callbacks registered in their place. Both must record the same events, and
leave the same shadow of each suspended frame.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from support.modules import module_from_source

from pytest_scope.capture import event_path
from pytest_scope.capture.buffer import RingBuffer
from pytest_scope.capture.plan import Plan
from pytest_scope.capture.recorder import Recorder
from pytest_scope.capture.values import ValueEncoder
from pytest_scope.trace.codec import unpack_chunk
from pytest_scope.trace.schema import Kind, Payload

# Project code, not a test file: planned at the calls level, so its generators' steps
# compare their bindings and walk their parameters.
GENERATORS = """
from itertools import islice


def counter(n):
    i = 0
    while i < n:
        yield i
        i += 1


def rebinding(n):
    total = 0
    for i in range(n):
        total += i
        text = "t" * (i % 3)
        yield total
    big = 2**70  # not a scalar of msgpack's range
    yield len(text)
    del big
    yield -0.0
    return total


def big_numbers(n):  # ints beyond msgpack's range, in its locals and yielded
    power = 2**64
    for i in range(n):
        power = power * 3 if i % 2 else power
        same = 2**70 + i - i  # another int of the same form at each step
        yield -power
    yield 2**700  # more digits than a form shows
    yield 2**900  # more bits than are worth their digits


def walking(items):  # a parameter holding an object, walked at each step
    for item in items:
        if len(items) < 6:
            items.append(item)
        yield item


def keeping_a_secret(n):
    api_token = "not shown"
    for i in range(n):
        yield i
    return api_token


def yielding_objects(n):
    for i in range(n):
        yield [i]


def long_text():
    yield "x" * 1000
    yield 2**64
    yield 2**64 - 1


def finder(data, value, start, stop):  # as more-itertools' iter_index
    find = data.find  # a builtin method: a leaf, told unchanged by its key
    i = start - 1
    while (i := find(value, i + 1, stop)) >= 0:
        yield i


def sieve_like(n):
    data = bytearray((0, 1)) * (n // 2)
    span = range(3, n)  # a leaf
    yield from finder(data, 1, 3, n)  # resumed again from the same instruction
    data[5:n:6] = bytes(len(range(5, n, 6)))  # changed in place: the walk finds it
    yield from finder(data, 1, 3, n)


def nth(iterable, n):  # a caller without line events, resuming through a C function
    return next(islice(iterable, n, None), None)


def growing(items):
    for item in items:
        yield item


def feeding(items):  # a caller whose parameter changes between two resumes
    for value in growing(items):
        if len(items) < 8:
            items.append(value + 10)
        yield value


def batches(n):  # as more-itertools' _random_ordered_indices
    iterable = range(n)
    for start in iterable:
        yield from (start, start)


def ordered(*args):  # resumes its generator from its loop's line, not its yield's
    span = range(*args)
    for index in batches(len(span)):
        yield span[index]


class Box:
    def __init__(self, items):
        self.items = items

    def total(self):  # a scalar, with its parameter walked
        return sum(self.items)

    def same(self):  # an object the table knows
        return self.items

    def fresh(self):  # a new object
        return list(self.items)

    def weighed(self, value):  # called with a scalar, its ``self`` known
        if value == 3:
            self.seen = self.probe()  # the stack as the native call left it
        return value * len(self.items)


def weigh_all(box, values):  # a caller without line events, rebinding scalars as it calls
    total = 0
    for value in values:
        total += box.weighed(value)
    return total


def describe_all(kinds, n):  # a caller without line events, rebinding a local to classes
    total = 0
    for i in range(n):
        kind = kinds[i % 2]
        total += describe(kind)
    return total


def describe(kind):  # called with a class: a leaf, whose form its key tells
    return len(kind.__name__)


def tally(counts, items, i):  # changes its caller's objects, in their first items or not
    counts[i % 45] = counts.get(i % 45, 0) + 1
    items[i % 40] = i


def holding():  # a list its locals alone hold, recorded at a yield: it dies at the return
    items = [1]
    yield len(items)
    yield len(items) + 1


def scratch(n):  # a list that only its own locals hold: it dies with the frame
    made = list(range(n))
    kept = made
    return len(kept)


# The exceptions raised are kept (``misses``): one that died could leave its address, and
# its args' (which tell it), to the next of equal args, by chance in one recording and not
# in the other (exceptions take no weak reference).
def lookup(table, key, default, misses):  # a KeyError raised and handled in the same frame
    try:
        return table[key]
    except KeyError as error:
        misses.append(error)
        return default


def first_of(tables, key, misses):  # handled in a caller, from a callee that let it go
    for table in tables:
        try:
            return pick(table, key)
        except LookupError as error:
            misses.append(error)
    return None


def pick(table, key):
    return table[key]


def scaled(items, factor):  # a generator expression reading a cell of its frame
    return list(item * factor for item in items)


def with_cell(n):  # a generator whose local a nested function reads
    total = 0

    def peek():
        return total

    for i in range(n):
        total += i
        yield peek()


def hooks_like(names, tables, misses):  # handles KeyErrors in a frame with a cell
    found = []
    for name in names:
        for table in tables:
            try:
                value = table[name]
            except KeyError as error:
                misses.append(error)
                continue
            else:
                break
        else:
            continue
        found.extend((name, each) for each in [value])
    return found
"""

# The test file: its frames are stepped line by line, and resume the generators (``gens``,
# a global, names no local).
CALLERS = """
def by_a_builtin(probe):
    total = sum(gens.counter(40))
    return total, probe()


def in_a_loop(probe):
    seen = []
    count = 0
    for value in gens.rebinding(12):
        count += 1
        seen.append((value, probe()))
    return count, seen


def big_numbers(probe):
    return list(gens.big_numbers(6)), probe()


def the_rest(probe):
    walked = list(gens.walking([1, 2, 3]))
    secret = list(gens.keeping_a_secret(3))
    # Kept alive: a list that died unrecorded would leave its number to the next list made
    # at its address, by chance in one recording and not in the other.
    yielded = list(gens.yielding_objects(4))
    objects = [each[0] for each in yielded]
    text = list(gens.long_text())
    held = gens.counter(3)
    first = next(held)
    return walked, secret, objects, len(text), first, probe()


def calling(probe):
    box = gens.Box([1, 2, 3])
    totals = [box.total() for _ in range(5)]
    same = [len(box.same()) for _ in range(3)]
    box.items.append(4)
    after = box.total()
    copies = [box.fresh() for _ in range(2)]
    sizes = [gens.scratch(n) for n in range(4)]
    counted = list(gens.counter(2)) + list(gens.holding())  # generators' returns
    return totals, same, after, copies, sizes + counted, probe()


def weighing(probe):
    box = gens.Box([1, 2])
    box.probe = probe
    return gens.weigh_all(box, gens.counter(5)), box.seen, probe()


def mutating(probe):
    counts = dict.fromkeys(range(40), 0)
    items = list(range(40))
    seen = []
    for i in range(60):
        gens.tally(counts, items, i)
        alias = items  # a line that only reads an object
        if i % 20 == 0:
            seen.append(probe())
        if i == 30:
            items = list(items)  # bound to another object
    return counts, items, alias is items, seen


def classes(probe):
    return gens.describe_all((int, gens.Box), 6), probe()


def handling(probe):
    table = {"a": 1}
    misses = []
    found = [gens.lookup(table, key, 0, misses) for key in "abab"]
    first = gens.first_of([{}, {"b": 2}, table], "a", misses)
    return found, first, len(misses), probe()


def with_cells(probe):
    doubled = gens.scaled([1, 2, 3], 2)
    peeked = list(gens.with_cell(4))
    hooks = gens.hooks_like("abc", [{"a": 1}, {"b": 2}], [])
    return doubled, peeked, hooks, probe()


def through_project_callers(probe):
    found = list(gens.sieve_like(40))
    primes = gens.sieve_like(60)
    tenth = gens.nth(primes, 10)
    # Run to its end: closed early, it would raise GeneratorExit, which takes a number by
    # its address alone (no weak reference), and the two recordings could differ by chance.
    rest = list(primes)
    fed = list(gens.feeding([1, 2, 3]))
    orders = [tuple(gens.ordered(4)) for _ in range(3)]
    return found, (tenth, rest), fed, orders, probe()
"""


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ModuleType, ModuleType]]:
    root = tmp_path_factory.mktemp("generators")
    gens = module_from_source(root / "gens.py", GENERATORS)
    callers = module_from_source(root / "test_generator_callers.py", CALLERS)
    callers.gens = gens  # type: ignore[attr-defined]
    yield gens, callers


def _record(
    root: Path,
    run: Callable[[Callable[[], Any]], Any],
    python_callbacks: bool,
    events_per_chunk: int,
) -> tuple[Any, list[list[Any]], dict[str, int]]:
    """The result of ``run(probe)``, the events recorded, and the steps the native steps
    took (their ``line``, ``call``, ``generator``, ``return`` and ``handled`` steps); with
    ``python_callbacks``, the Python recorder's callbacks take every event. ``probe()`` tells the
    shadow of each suspended frame (its line, its locals, the references to its frame
    object counted as it was last resumed) and of each frame on the stack (its line, the
    instruction it last resumed a generator from, and the references to its frame object
    counted as it was entered)."""
    recorder = Recorder(Plan(root, ["test_*.py"]), ValueEncoder(), lambda *_: None)
    buffer = RingBuffer(2**30, recorder.take_keyframe, events_per_chunk=events_per_chunk)
    if python_callbacks:
        recorder._fast_line = recorder._on_line_fast
    recorder.start()

    def probe() -> list[Any]:
        suspended = [
            [entry.frame_no, entry.line, dict(entry.values), entry.frame_refs]
            for entry in recorder._suspended.values()
        ]
        stacks = [
            [entry.frame_no, entry.line, entry.calling_at, entry.frame_refs]
            for thread in recorder._threads
            for entry in thread.stack
        ]
        return [suspended, stacks]

    try:
        if python_callbacks:
            tool_id = next(t for t in range(6) if sys.monitoring.get_tool(t) == "pytest-scope")
            events = sys.monitoring.events
            sys.monitoring.register_callback(tool_id, events.PY_START, recorder._on_start)
            sys.monitoring.register_callback(tool_id, events.PY_RESUME, recorder._on_resume)
            sys.monitoring.register_callback(tool_id, events.PY_YIELD, recorder._on_yield)
            sys.monitoring.register_callback(tool_id, events.PY_RETURN, recorder._on_return)
            sys.monitoring.register_callback(
                tool_id, events.EXCEPTION_HANDLED, recorder._on_handled
            )
        recorder.begin_test(buffer, None)
        result = run(probe)
        steps = recorder.end_test()
    finally:
        recorder.stop()
    buffer.close_chunk()
    recorded = [event for chunk in buffer.chunks() for event in unpack_chunk(chunk.data)[1]]
    assert [event[0] for event in recorded] == list(range(1, steps.steps + 1))
    native = recorder._native_steps
    kinds = ("line", "call", "generator", "return", "handled")
    taken = {kind: getattr(native, f"{kind}_steps") if native else 0 for kind in kinds}
    return result, recorded, taken


def _record_natively(
    modules: tuple[ModuleType, ModuleType], scenario: str
) -> tuple[Any, list[list[Any]], dict[str, int]]:
    """``scenario`` recorded with the callbacks the recorder registers: the native steps in
    front of the Python ones. A test of them is skipped where they are not built."""
    if not event_path.compiled():
        pytest.skip("the native steps come with the compiled event path")
    gens, callers = modules
    root = Path(str(gens.__file__)).parent
    return _record(root, lambda probe: getattr(callers, scenario)(probe), False, 10**6)


SCENARIOS = [
    "by_a_builtin",
    "in_a_loop",
    "the_rest",
    "through_project_callers",
    "calling",
    "weighing",
    "mutating",
    "classes",
    "handling",
    "with_cells",
    "big_numbers",
]


@pytest.mark.parametrize("events_per_chunk", [10**6, 7])
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_native_and_python_generator_steps_record_the_same(
    modules: tuple[ModuleType, ModuleType], scenario: str, events_per_chunk: int
) -> None:
    """The same events (a chunk of 7 events makes many steps open or close a chunk, which
    the native steps leave to the Python recorder) and the same suspended frames."""
    gens, callers = modules
    root = Path(str(gens.__file__)).parent

    def run(probe: Callable[[], Any]) -> Any:
        return getattr(callers, scenario)(probe)

    native = _record(root, run, python_callbacks=False, events_per_chunk=events_per_chunk)
    python = _record(root, run, python_callbacks=True, events_per_chunk=events_per_chunk)
    assert native[0] == python[0]
    assert native[1] == python[1]
    assert {Kind.CALL, Kind.RETURN} <= {event[1] for event in python[1]}


def test_the_compiled_build_records_scalar_generators_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A generator whose locals are scalars, resumed by a builtin or by a loop whose line
    names only scalars: its resumes and yields are recorded natively, and so are those
    that see an int beyond msgpack's range bound (its form made natively). A deleted
    local leaves the step that sees it to Python."""
    _, events, native = _record_natively(modules, "by_a_builtin")
    generator_steps = [event for event in events if event[1] in (Kind.RESUME, Kind.YIELD)]
    assert len(generator_steps) == 80  # after its call: 40 yields, 40 resumes
    assert native["generator"] == 80
    _, events, native = _record_natively(modules, "in_a_loop")
    generator_steps = [event for event in events if event[1] in (Kind.RESUME, Kind.YIELD)]
    assert len(generator_steps) == 28  # 14 yields, 14 resumes
    # Python's: the yield after ``del big``.
    assert native["generator"] == 27
    (numbers, _), events, native = _record_natively(modules, "big_numbers")
    assert numbers[-3:] == [-(2**64) * 27, 2**700, 2**900]
    generator_steps = [event for event in events if event[1] in (Kind.RESUME, Kind.YIELD)]
    assert native["generator"] == len(generator_steps) == 16
    shown = [event[6][Payload.RETURNED] for event in events if event[1] == Kind.YIELD]
    assert shown[-2:] == [
        {"$type": "int", "repr": str(2**700)[:200] + "…"},
        {"$type": "int", "repr": "<901-bit int>"},
    ]


def test_the_compiled_build_records_generators_resumed_by_project_code_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """Generators resumed by project code (without line events), with objects in their
    parameters and leaves in their locals, as more-itertools' sieve: each step whose
    caller has not moved and whose parameters' walk finds no change is native; a step
    whose walk finds one (the bytearray changed between the two ``yield from``, the list
    a caller grows) is the Python recorder's, which records the change."""
    (found, tenth, fed, orders, _), events, native = _record_natively(
        modules, "through_project_callers"
    )
    assert found[:4] == [3, 5, 7, 9] and tenth[0] is not None and tenth[1] and len(fed) == 8
    assert orders == [(0, 0, 1, 1, 2, 2, 3, 3)] * 3
    generator_steps = [event for event in events if event[1] in (Kind.RESUME, Kind.YIELD)]
    assert native["generator"] >= 0.8 * len(generator_steps)
    changed_data = [
        event
        for event in events
        if event[6] and any(entry[1] == "bytearray" for entry in event[6].get(Payload.OBJECTS, ()))
    ]
    assert changed_data


def test_the_compiled_build_records_returns_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A method of project code returning a scalar or an object the table knows, its
    parameter walked unchanged: its return is native. One whose walk finds a change, one
    returning a new object, and one whose locals alone hold an object (which dies with the
    frame, and which the Python recorder forgets) are the Python recorder's."""
    (totals, same, after, copies, sizes, _), events, native = _record_natively(modules, "calling")
    assert totals == [6] * 5 and same == [3] * 3 and after == 10
    assert sizes == [0, 1, 2, 3, 0, 1, 1, 2]
    assert copies == [[1, 2, 3, 4]] * 2
    returned = [event for event in events if event[1] == Kind.RETURN]
    assert len(returned) == 19
    # Native: the six totals, the three ``same`` and the counter's end. The Python
    # recorder's: ``Box.__init__`` (its ``self`` new), the copies (new objects), the four
    # ``scratch`` (new locals), the end of ``holding`` (whose list dies with its frame,
    # and is forgotten) and the test's own return.
    assert native["return"] == 10


def test_the_compiled_build_records_calls_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A method of project code called in a loop of project code, with an object the table
    knows and a scalar: each call is native, its parameters' forms in its event and the
    caller's rebound loop variable with them, its frame on the shadow stack (the
    equivalence test compares that stack, seen from within the call, with the Python
    recorder's). The first call of a code (which adopts it), a call from a test line that
    names an object, and ``__init__`` (its ``self`` new) are the Python recorder's."""
    (total, seen, _), events, native = _record_natively(modules, "weighing")
    assert total == 20
    calls = [event for event in events if event[1] == Kind.CALL]
    assert len(calls) == 9  # the test, ``__init__``, ``weigh_all``, ``counter``, 5 ``weighed``
    assert native["call"] == 4  # the calls of ``weighed`` but its first
    weighed = calls[4:]
    box = weighed[0][6][Payload.LOCALS]["self"]
    assert [event[6][Payload.LOCALS] for event in weighed] == [
        {"self": box, "value": value} for value in range(5)
    ]
    caller, line = calls[2][3], weighed[0][6][Payload.OTHER_FRAMES][0][1]
    assert [event[6][Payload.OTHER_FRAMES] for event in weighed] == [
        [[caller, line, {"value": value}, []]] for value in range(5)
    ]
    *_, (frame_no, _, _, frame_refs) = seen[1]  # the top of the stack (``probe``'s is not)
    assert frame_no == weighed[3][3] and frame_refs > 0


def test_the_compiled_build_steps_lines_naming_objects_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A test's loop calling project code that changes the test's dict and list: each line
    naming them is native while the walk of the objects it names finds no change (the
    callee's return records each change), and so is each call, its caller's line walked
    the same way. The lines after a change the walk finds (``seen`` grown by a probe, and
    ``items`` bound to a new list) are Python's."""
    (counts, items, aliased, _), events, native = _record_natively(modules, "mutating")
    assert sum(counts.values()) == 60 and items[:2] == [40, 41] and aliased
    lines = [event for event in events if event[1] == Kind.LINE]
    # Five each pass, three probes, the rebinding; three before the loop, two after.
    assert len(lines) == 60 * 5 + 3 + 1 + 3 + 2
    assert native["line"] >= len(lines) - 12
    calls = [event for event in events if event[1] == Kind.CALL]
    assert native["call"] == len(calls) - 2 == 59  # all but the test's and ``tally``'s first
    # Each return records what ``tally`` changed within the first 32 items of the dict or
    # the list; the eight passes that change neither there (``i`` from 32 to 39) are native.
    returns = [event for event in events if event[1] == Kind.RETURN and event[4] == calls[1][4]]
    assert sum(1 for event in returns if event[6] and Payload.OBJECTS in event[6]) == 52
    assert native["return"] == 8


def test_the_compiled_build_records_calls_with_classes_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A class is a leaf: once the Python recorder has recorded its form in a test, a
    native step gives that form to a parameter or a caller's local bound to it again.
    The first call of ``describe`` (which adopts the code) and the first with ``Box`` (a
    class not yet met) are the Python recorder's; the four others are native."""
    (total, _), events, native = _record_natively(modules, "classes")
    assert total == 3 * len("int") + 3 * len("Box")
    calls = [event for event in events if event[1] == Kind.CALL][2:]
    forms = [event[6][Payload.LOCALS]["kind"] for event in calls]
    assert forms == [{"$type": "type", "repr": "int"}, {"$type": "type", "repr": "gens.Box"}] * 3
    rebound = [event[6][Payload.OTHER_FRAMES][0][2]["kind"] for event in calls]
    assert rebound == forms
    assert native["call"] == 4


def test_the_compiled_build_records_handled_exceptions_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A frame without line events handling an exception the table numbered at its raise,
    unchanged since: the handler's step is native, its exception a ref."""
    (found, first, missed, _), events, native = _record_natively(modules, "handling")
    assert found == [1, 0, 1, 0] and first == 1 and missed == 4
    handled = [event for event in events if event[1] == Kind.HANDLED]
    # ``lookup``'s two, and ``first_of``'s two (the empty table's, then the one without "a").
    assert len(handled) == 4
    assert all(set(event[6]) == {Payload.EXCEPTION} for event in handled)
    assert native["handled"] == 4


def test_the_compiled_build_steps_frames_with_cells_natively(
    modules: tuple[ModuleType, ModuleType],
) -> None:
    """A generator expression reading its frame's cell, a generator whose local a nested
    function reads, and a frame with a cell handling KeyErrors: their resumes, yields,
    handled exceptions and returns are native, the cells read through."""
    (doubled, peeked, hooks, _), events, native = _record_natively(modules, "with_cells")
    assert doubled == [2, 4, 6] and peeked == [0, 1, 3, 6] and hooks == [("a", 1), ("b", 2)]
    handled = [event for event in events if event[1] == Kind.HANDLED]
    assert len(handled) == 3  # "b" and "c" missing from the first table, "c" from the second
    assert native["handled"] == 3
    generator_steps = [event for event in events if event[1] in (Kind.RESUME, Kind.YIELD)]
    assert native["generator"] >= len(generator_steps) // 2
    # Native: the ends of the three generator expressions and of ``with_cell``, and the
    # four returns of ``peek``, all frames with cells. The Python recorder's: the lists
    # that ``scaled`` and ``hooks_like`` return (new objects) and the test's own return.
    assert len([event for event in events if event[1] == Kind.RETURN]) == 11
    assert native["return"] == 8
