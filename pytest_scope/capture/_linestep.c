/* The native line step: the recorder's most frequent event, done in C when it is simple.
 *
 * A line step of a frame the recorder already follows, in the state where the recorder
 * registers its fast line callback (docs/pages/design.md, "The native line step"), reads
 * the locals that the line that ran and the line that starts name (capture/linenames.py),
 * by index from the interpreter's frame, compares them by identity with the forms last
 * recorded, and when each one that changed is a scalar (an int in msgpack's range, a bool,
 * None, a finite float, a str too short to hold a secret), records the step: it updates
 * the frame's shadow as the Python recorder would and appends the packed event to the
 * open chunk.
 *
 * Anything else goes to the Python recorder's fast callback, before anything is changed:
 * an object, a deleted local, a cell, a secret name, a line that lets go of a numbered
 * object, a chunk to open or to close, another thread or frame than the last step's,
 * tracemalloc, the recorder's lock held by another thread. The Python recorder stays the
 * one place that decides what a step means; this file takes only the steps whose meaning
 * is the forms of a few scalars, and records them as the Python recorder does (the event
 * path's equivalence tests run the same recordings through both).
 *
 * It reads the recorder's objects by attribute, so it is used only with the recorder
 * compiled from the sources it was built with (capture/event_path.py), and it reads the
 * interpreter's frame through the internal headers of 3.12 and 3.13, which it is built for.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030E0000
#error "the native line step reads the frames of CPython 3.12 and 3.13 only"
#endif

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

#include <math.h>
#include <stdint.h>
#include <string.h>

/* Locals looked at by one step; a line naming more goes to Python. */
#define MAX_NAMES 32

/* -- names of the attributes read and written ----------------------------------------- */

static PyObject *s_line_buffer, *s_keyframe_due, *s_last_thread, *s_ident, *s_stack,
    *s_frame, *s_code, *s_cell_names, *s_dropping, *s_line, *s_values, *s_ids,
    *s_calling_at, *s_step, *s_events, *s_data, *s_count, *s_events_per_chunk,
    *s_number, *s_frame_no, *s_objects, *s_by_id, *s_shortest;

static int
intern_names(void)
{
#define NAME(var, text) if (!(var = PyUnicode_InternFromString(text))) return -1
    NAME(s_line_buffer, "_line_buffer");
    NAME(s_keyframe_due, "keyframe_due");
    NAME(s_last_thread, "_last_thread");
    NAME(s_ident, "ident");
    NAME(s_stack, "stack");
    NAME(s_frame, "frame");
    NAME(s_code, "code");
    NAME(s_cell_names, "cell_names");
    NAME(s_dropping, "dropping");
    NAME(s_line, "line");
    NAME(s_values, "values");
    NAME(s_ids, "ids");
    NAME(s_calling_at, "calling_at");
    NAME(s_step, "_step");
    NAME(s_events, "_events");
    NAME(s_data, "data");
    NAME(s_count, "count");
    NAME(s_events_per_chunk, "events_per_chunk");
    NAME(s_number, "number");
    NAME(s_frame_no, "frame_no");
    NAME(s_objects, "_objects");
    NAME(s_by_id, "_by_id");
    NAME(s_shortest, "shortest");
#undef NAME
    return 0;
}

/* -- what each line of a code object names, by local index ------------------------------ */

typedef struct {
    int python;          /* the line names a cell, a secret or a name that is not a local */
    int n_deep, n_shallow, n_drops;
    int *deep, *shallow, *drops; /* indices into the frame's locals, in linenames' order */
} LineTable;

typedef struct {
    uint64_t generation; /* of the stepper that made it: another one makes its own */
    int unsupported;     /* not a function's code: its locals are not in the frame */
    int first_line, n_lines;
    LineTable *lines;    /* by line - first_line */
    PyObject *varnames;  /* the names, by index (the code's co_varnames) */
} CodeTable;

static Py_ssize_t code_extra_index = -1;
static uint64_t next_generation = 1;
static const LineTable NO_NAMES = {0, 0, 0, 0, NULL, NULL, NULL};

static void
free_code_table(void *pointer)
{
    CodeTable *table = pointer;
    if (table == NULL)
        return;
    for (int i = 0; i < table->n_lines; i++) {
        PyMem_RawFree(table->lines[i].deep);
        PyMem_RawFree(table->lines[i].shallow);
        PyMem_RawFree(table->lines[i].drops);
    }
    PyMem_RawFree(table->lines);
    Py_XDECREF(table->varnames);
    PyMem_RawFree(table);
}

/* What one step read of the recorder, the frame's shadow and the open chunk. The Python
 * recorder changes none of it but at a step of its own (which changes its step count) or
 * when a test begins or ends (``forget``), so while its step count is still the last one
 * this stepper wrote, the next step may take it as it was. */
typedef struct {
    PyObject *buffer, *entry, *values, *ids, *events, *data, *by_id; /* owned when cached */
    PyObject *frame, *code;     /* compared only: the entry's frame holds its frame */
    const CodeTable *table;     /* the code's, as of this step */
    unsigned long ident;
    long step, line, count, per_chunk;
    char header[32];            /* the event's thread, frame and code numbers, packed */
    Py_ssize_t header_size;
} View;

typedef struct {
    int valid;
    View view;
} Cache;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *recorder;
    PyObject *fallback;     /* the Python recorder's fast line callback */
    PyObject *locked;       /* the recorder's lock's ``locked`` */
    PyObject *is_tracing;   /* tracemalloc.is_tracing */
    PyObject *line_names;   /* linenames.line_names */
    PyObject *names_secret; /* Redaction.names_secret */
    PyObject *redaction;
    Py_ssize_t max_str;
    Py_ssize_t chunk_target_bytes;
    long line_kind;       /* Kind.LINE */
    PyObject *locals_key; /* Payload.LOCALS */
    uint64_t generation;
    Cache cache;
} LineStepper;

/* The indices of ``names`` (a tuple) among the code's plain locals; -1 if one is another
 * kind of name (a cell, a free variable, a global) or a secret one. */
static int
name_indices(LineStepper *self, PyObject *names, PyObject *varnames, PyObject *cells,
             int **out, int *count)
{
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    *count = (int)n;
    *out = NULL;
    if (n == 0)
        return 0;
    if (n > MAX_NAMES)
        return -1;
    int *indices = PyMem_RawMalloc(sizeof(int) * n);
    if (indices == NULL)
        return -1;
    *out = indices;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        int found = PySequence_Contains(cells, name);
        if (found != 0)
            return -1;
        PyObject *secret = PyObject_CallOneArg(self->names_secret, name);
        if (secret == NULL)
            return -1;
        int is_secret = PyObject_IsTrue(secret);
        Py_DECREF(secret);
        if (is_secret != 0)
            return -1;
        indices[i] = -1;
        for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(varnames); j++) {
            int same = PyUnicode_Compare(PyTuple_GET_ITEM(varnames, j), name);
            if (same == 0) {
                indices[i] = (int)j;
                break;
            }
        }
        if (indices[i] < 0)
            return -1;
    }
    return 0;
}

/* A line's names, by index; a line that names another kind of name is marked ``python``. */
static void
fill_line(LineStepper *self, LineTable *entry, PyObject *names, PyObject *varnames,
          PyObject *cells)
{
    PyObject *deep = PyObject_GetAttrString(names, "deep");
    PyObject *shallow = PyObject_GetAttrString(names, "shallow");
    PyObject *drops = PyObject_GetAttrString(names, "drops");
    int ok = deep && shallow && drops && PyTuple_Check(deep) && PyTuple_Check(shallow)
             && PyTuple_Check(drops)
             && name_indices(self, deep, varnames, cells, &entry->deep, &entry->n_deep) == 0
             && name_indices(self, shallow, varnames, cells, &entry->shallow,
                             &entry->n_shallow) == 0
             && name_indices(self, drops, varnames, cells, &entry->drops,
                             &entry->n_drops) == 0;
    Py_XDECREF(deep);
    Py_XDECREF(shallow);
    Py_XDECREF(drops);
    PyErr_Clear();
    if (!ok)
        entry->python = 1;
}

static CodeTable *
build_code_table(LineStepper *self, PyCodeObject *code)
{
    CodeTable *table = PyMem_RawCalloc(1, sizeof(CodeTable));
    if (table == NULL)
        return NULL;
    table->generation = self->generation;
    if (!(code->co_flags & CO_OPTIMIZED)) {
        table->unsupported = 1;
        return table;
    }
    PyObject *named = PyObject_CallOneArg(self->line_names, (PyObject *)code);
    PyObject *varnames = PyCode_GetVarnames(code);
    PyObject *cellvars = PyCode_GetCellvars(code);
    PyObject *freevars = PyCode_GetFreevars(code);
    PyObject *cells = (cellvars && freevars) ? PySequence_Concat(cellvars, freevars) : NULL;
    Py_XDECREF(cellvars);
    Py_XDECREF(freevars);
    if (named == NULL || varnames == NULL || cells == NULL || !PyDict_Check(named))
        goto unsupported;
    long first = LONG_MAX, last = LONG_MIN;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(named, &position, &key, &value)) {
        long line = PyLong_AsLong(key);
        if (line == -1 && PyErr_Occurred())
            goto unsupported;
        first = line < first ? line : first;
        last = line > last ? line : last;
    }
    if (first <= last) {
        if (last - first > 1000000)
            goto unsupported;
        table->first_line = (int)first;
        table->lines = PyMem_RawCalloc(last - first + 1, sizeof(LineTable));
        if (table->lines == NULL)
            goto unsupported;
        table->n_lines = (int)(last - first + 1);
        position = 0;
        while (PyDict_Next(named, &position, &key, &value)) {
            LineTable *entry = &table->lines[PyLong_AsLong(key) - first];
            fill_line(self, entry, value, varnames, cells);
        }
    }
    table->varnames = varnames;
    Py_DECREF(named);
    Py_DECREF(cells);
    return table;
unsupported:
    PyErr_Clear();
    Py_XDECREF(named);
    Py_XDECREF(varnames);
    Py_XDECREF(cells);
    table->unsupported = 1;
    return table;
}

/* This stepper's table of ``code``, made on first use; NULL if none can be had. */
static CodeTable *
code_table(LineStepper *self, PyObject *code)
{
    void *extra = NULL;
    if (PyUnstable_Code_GetExtra(code, code_extra_index, &extra) < 0) {
        PyErr_Clear();
        return NULL;
    }
    CodeTable *table = extra;
    if (table != NULL && table->generation == self->generation)
        return table->unsupported ? NULL : table;
    CodeTable *made = build_code_table(self, (PyCodeObject *)code);
    if (made == NULL)
        return NULL;
    /* Setting it frees the table it replaces (another stepper's). */
    if (PyUnstable_Code_SetExtra(code, code_extra_index, made) < 0) {
        PyErr_Clear();
        free_code_table(made);
        return NULL;
    }
    return made->unsupported ? NULL : made;
}

static const LineTable *
line_table(const CodeTable *table, long line)
{
    long at = line - table->first_line;
    if (at < 0 || at >= table->n_lines)
        return &NO_NAMES;
    return &table->lines[at];
}

/* -- the forms of scalars, and their msgpack ------------------------------------------- */

typedef struct {
    char *bytes;
    Py_ssize_t size, capacity;
    char inline_bytes[512];
} Packed;

static int
reserve(Packed *packed, Py_ssize_t more)
{
    Py_ssize_t need = packed->size + more;
    if (need <= packed->capacity)
        return 0;
    Py_ssize_t capacity = need * 2;
    char *bytes = PyMem_Malloc(capacity);
    if (bytes == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    memcpy(bytes, packed->bytes, packed->size);
    if (packed->bytes != packed->inline_bytes)
        PyMem_Free(packed->bytes);
    packed->bytes = bytes;
    packed->capacity = capacity;
    return 0;
}

static void
put_be(Packed *packed, uint8_t marker, uint64_t value, int width)
{
    unsigned char *at = (unsigned char *)packed->bytes + packed->size;
    at[0] = marker;
    for (int i = 0; i < width; i++)
        at[1 + i] = (unsigned char)(value >> (8 * (width - 1 - i)));
    packed->size += 1 + width;
}

/* msgpack's smallest form of an int, as msgpack-python packs it. */
static int
pack_long(Packed *packed, long long value)
{
    if (reserve(packed, 9) < 0)
        return -1;
    if (value >= 0) {
        uint64_t v = (uint64_t)value;
        if (v < 128)
            packed->bytes[packed->size++] = (char)v;
        else if (v <= 0xff)
            put_be(packed, 0xcc, v, 1);
        else if (v <= 0xffff)
            put_be(packed, 0xcd, v, 2);
        else if (v <= 0xffffffffULL)
            put_be(packed, 0xce, v, 4);
        else
            put_be(packed, 0xcf, v, 8);
    }
    else if (value >= -32)
        packed->bytes[packed->size++] = (char)(0xe0 | (value + 32));
    else if (value >= -128)
        put_be(packed, 0xd0, (uint64_t)value, 1);
    else if (value >= -32768)
        put_be(packed, 0xd1, (uint64_t)value, 2);
    else if (value >= -2147483648LL)
        put_be(packed, 0xd2, (uint64_t)value, 4);
    else
        put_be(packed, 0xd3, (uint64_t)value, 8);
    return 0;
}

/* An int in msgpack's range (a scalar's form, or a number of the recorder's). */
static int
pack_int(Packed *packed, PyObject *value)
{
    int overflow = 0;
    long long signed_value = PyLong_AsLongLongAndOverflow(value, &overflow);
    if (overflow == 0)
        return (signed_value == -1 && PyErr_Occurred()) ? -1 : pack_long(packed, signed_value);
    unsigned long long big = PyLong_AsUnsignedLongLong(value);
    if ((big == (unsigned long long)-1 && PyErr_Occurred()) || reserve(packed, 9) < 0)
        return -1;
    put_be(packed, 0xcf, big, 8);
    return 0;
}

static int
pack_str(Packed *packed, PyObject *text)
{
    Py_ssize_t size;
    const char *utf8 = PyUnicode_AsUTF8AndSize(text, &size);
    if (utf8 == NULL || reserve(packed, size + 5) < 0)
        return -1;
    if (size < 32)
        packed->bytes[packed->size++] = (char)(0xa0 | size);
    else if (size <= 0xff)
        put_be(packed, 0xd9, (uint64_t)size, 1);
    else if (size <= 0xffff)
        put_be(packed, 0xda, (uint64_t)size, 2);
    else
        put_be(packed, 0xdb, (uint64_t)size, 4);
    memcpy(packed->bytes + packed->size, utf8, size);
    packed->size += size;
    return 0;
}

static int
pack_scalar(Packed *packed, PyObject *value)
{
    if (reserve(packed, 9) < 0)
        return -1;
    if (value == Py_None)
        packed->bytes[packed->size++] = (char)0xc0;
    else if (value == Py_False)
        packed->bytes[packed->size++] = (char)0xc2;
    else if (value == Py_True)
        packed->bytes[packed->size++] = (char)0xc3;
    else if (PyFloat_CheckExact(value)) {
        double number = PyFloat_AS_DOUBLE(value);
        uint64_t bits;
        memcpy(&bits, &number, sizeof bits);
        put_be(packed, 0xcb, bits, 8);
    }
    else if (PyLong_CheckExact(value))
        return pack_int(packed, value);
    else
        return pack_str(packed, value);
    return 0;
}

/* Whether ``value`` is its own form (ObjectTable.form): 1, 0 if not, -1 on error. A str
 * as long as the shortest secret value known is not: the Python recorder looks in it. */
static int
is_scalar(LineStepper *self, PyObject *value, Py_ssize_t *shortest)
{
    if (value == Py_None || PyBool_Check(value))
        return 1;
    if (PyLong_CheckExact(value)) {
        int overflow = 0;
        long long signed_value = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (signed_value == -1 && PyErr_Occurred())
            return -1;
        if (overflow > 0) {
            PyLong_AsUnsignedLongLong(value);
            if (PyErr_Occurred()) {
                PyErr_Clear();
                return 0;
            }
        }
        return overflow >= 0;
    }
    if (PyFloat_CheckExact(value))
        return isfinite(PyFloat_AS_DOUBLE(value));
    if (PyUnicode_CheckExact(value)) {
        Py_ssize_t length = PyUnicode_GET_LENGTH(value);
        if (length > self->max_str)
            return 0;
        if (*shortest < 0) {
            PyObject *boxed = PyObject_GetAttr(self->redaction, s_shortest);
            if (boxed == NULL)
                return -1;
            *shortest = PyLong_AsSsize_t(boxed);
            Py_DECREF(boxed);
            if (*shortest == -1 && PyErr_Occurred())
                return -1;
        }
        return length < *shortest;
    }
    return 0;
}

/* Whether the locals a line names may all be scalars (a str's secrets are not looked
 * for yet): a line naming an object is the Python recorder's. */
static int
may_be_scalars(LineStepper *self, const LineTable *names, PyObject **locals)
{
    if (names->python)
        return 0;
    const int *groups[2] = {names->deep, names->shallow};
    int sizes[2] = {names->n_deep, names->n_shallow};
    Py_ssize_t any_length = PY_SSIZE_T_MAX;
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < sizes[g]; i++) {
            PyObject *value = locals[groups[g][i]];
            if (value != NULL && is_scalar(self, value, &any_length) <= 0) {
                PyErr_Clear();
                return 0;
            }
        }
    }
    return 1;
}

/* Whether two scalar forms record the same value (recorder._same_form). */
static int
same_form(PyObject *form, PyObject *old)
{
    if (Py_TYPE(form) != Py_TYPE(old))
        return 0;
    if (PyFloat_CheckExact(form)) {
        double a = PyFloat_AS_DOUBLE(form), b = PyFloat_AS_DOUBLE(old);
        return a == b && signbit(a) == signbit(b);
    }
    return PyObject_RichCompareBool(form, old, Py_EQ);
}

/* -- the step -------------------------------------------------------------------------- */

static void
forget_view(View *view)
{
    Py_CLEAR(view->buffer);
    Py_CLEAR(view->entry);
    Py_CLEAR(view->values);
    Py_CLEAR(view->ids);
    Py_CLEAR(view->events);
    Py_CLEAR(view->data);
    Py_CLEAR(view->by_id);
}

static void
forget_cache(LineStepper *self)
{
    self->cache.valid = 0;
    forget_view(&self->cache.view);
}

static int
long_attribute(PyObject *owner, PyObject *name, long *value)
{
    PyObject *boxed = PyObject_GetAttr(owner, name);
    if (boxed == NULL)
        return -1;
    *value = PyLong_AsLong(boxed);
    Py_DECREF(boxed);
    return (*value == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
set_long(PyObject *owner, PyObject *name, long value)
{
    PyObject *boxed = PyLong_FromLong(value);
    if (boxed == NULL)
        return -1;
    int result = PyObject_SetAttr(owner, name, boxed);
    Py_DECREF(boxed);
    return result;
}

static int
pack_attribute(Packed *packed, PyObject *owner, PyObject *name)
{
    PyObject *boxed = PyObject_GetAttr(owner, name);
    if (boxed == NULL)
        return -1;
    int result = pack_int(packed, boxed);
    Py_DECREF(boxed);
    return result;
}

/* Read what a step needs from the recorder's objects into ``view`` (which then owns its
 * references): 1, or 0 if the step is the Python recorder's (see the top of this file). */
static int
read_view(LineStepper *self, PyObject *code, PyFrameObject *frame, const CodeTable *table,
          PyObject *buffer, View *view)
{
    PyObject *thread = NULL, *stack = NULL, *known = NULL, *cells = NULL, *objects = NULL,
             *attribute = NULL;
    int result = 0;
    long calling_at;
    view->buffer = Py_NewRef(buffer);
    if (!(attribute = PyObject_GetAttr(buffer, s_keyframe_due)) || attribute != Py_False)
        goto done;
    Py_CLEAR(attribute);
    if (!(thread = PyObject_GetAttr(self->recorder, s_last_thread)) || thread == Py_None)
        goto done;
    if (!(attribute = PyObject_GetAttr(thread, s_ident)))
        goto done;
    view->ident = PyLong_AsUnsignedLong(attribute);
    Py_CLEAR(attribute);
    if (view->ident != PyThread_get_thread_ident())
        goto done;
    if (!(stack = PyObject_GetAttr(thread, s_stack)) || !PyList_CheckExact(stack)
        || PyList_GET_SIZE(stack) == 0)
        goto done;
    view->entry = Py_NewRef(PyList_GET_ITEM(stack, PyList_GET_SIZE(stack) - 1));
    if (!(attribute = PyObject_GetAttr(view->entry, s_frame))
        || attribute != (PyObject *)frame)
        goto done;
    Py_CLEAR(attribute);
    view->frame = (PyObject *)frame;
    view->code = code;
    if (!(known = PyObject_GetAttr(view->entry, s_code))
        || !(cells = PyObject_GetAttr(known, s_cell_names)) || !PyTuple_CheckExact(cells)
        || PyTuple_GET_SIZE(cells) != 0)
        goto done;
    if (!(attribute = PyObject_GetAttr(view->entry, s_dropping)) || attribute != Py_None)
        goto done;
    Py_CLEAR(attribute);
    view->table = table;
    if (!(view->values = PyObject_GetAttr(view->entry, s_values))
        || !PyDict_CheckExact(view->values)
        || !(view->ids = PyObject_GetAttr(view->entry, s_ids))
        || !PyDict_CheckExact(view->ids)
        || !(view->events = PyObject_GetAttr(buffer, s_events))
        || !(view->data = PyObject_GetAttr(view->events, s_data))
        || !PyByteArray_CheckExact(view->data)
        || !(objects = PyObject_GetAttr(self->recorder, s_objects))
        || !(view->by_id = PyObject_GetAttr(objects, s_by_id))
        || !PyDict_CheckExact(view->by_id))
        goto done;
    if (long_attribute(view->entry, s_line, &view->line) < 0
        || long_attribute(self->recorder, s_step, &view->step) < 0
        || long_attribute(view->events, s_count, &view->count) < 0
        || long_attribute(buffer, s_events_per_chunk, &view->per_chunk) < 0
        || long_attribute(view->entry, s_calling_at, &calling_at) < 0)
        goto done;
    /* Unset by a line step (Recorder._line_names): set once, before the first. */
    if (calling_at != -1 && set_long(view->entry, s_calling_at, -1) < 0)
        goto done;
    Packed header = {NULL, 0, sizeof header.inline_bytes, {0}};
    header.bytes = header.inline_bytes;
    if (pack_attribute(&header, thread, s_number) < 0
        || pack_attribute(&header, view->entry, s_frame_no) < 0
        || pack_attribute(&header, known, s_number) < 0)
        goto done;
    memcpy(view->header, header.bytes, header.size);
    view->header_size = header.size;
    result = 1;
done:
    Py_XDECREF(thread);
    Py_XDECREF(stack);
    Py_XDECREF(known);
    Py_XDECREF(cells);
    Py_XDECREF(objects);
    Py_XDECREF(attribute);
    return result;
}

/* The names that changed among those the step looks at: the names of the line that ran
 * (deep, then shallow), then those of the new line, in the order of
 * Recorder._line_names. Their count, or -1 if the step is the Python recorder's. */
static int
changed_names(LineStepper *self, const View *view, long line, PyObject **locals,
              int *changed)
{
    const LineTable *ran = line_table(view->table, view->line);
    const LineTable *now = line == view->line ? ran : line_table(view->table, line);
    if (ran->python || now->python)
        return -1;
    const int *groups[4] = {ran->deep, ran->shallow, now->deep, now->shallow};
    int sizes[4] = {ran->n_deep, ran->n_shallow, now->n_deep, now->n_shallow};
    int n_groups = now == ran ? 2 : 4;
    int any = 0;
    for (int g = 0; g < n_groups; g++)
        any |= sizes[g] != 0;
    if (!any)
        return 0; /* nor any drop: a line drops only locals it names */
    /* A local that the new line drops, if it alone holds a numbered object: the Python
     * recorder notes it (Recorder._drops). */
    for (int i = 0; i < now->n_drops; i++) {
        PyObject *value = locals[now->drops[i]];
        if (value == NULL || Py_REFCNT(value) != 1)
            continue;
        PyObject *key = PyLong_FromVoidPtr(value);
        int known = key ? PyDict_Contains(view->by_id, key) : -1;
        Py_XDECREF(key);
        if (known != 0)
            return -1;
    }
    int n_changed = 0;
    Py_ssize_t shortest = -1;
    for (int g = 0; g < n_groups; g++) {
        for (int i = 0; i < sizes[g]; i++) {
            int index = groups[g][i];
            PyObject *name = PyTuple_GET_ITEM(view->table->varnames, index);
            PyObject *value = locals[index];
            PyObject *old = PyDict_GetItemWithError(view->values, name);
            if (old == NULL && PyErr_Occurred())
                return -1;
            if (value == old)
                continue;
            if (value == NULL)
                return -1; /* deleted */
            int seen = 0;
            for (int c = 0; c < n_changed; c++)
                seen |= changed[c] == index;
            if (seen)
                continue;
            if (is_scalar(self, value, &shortest) <= 0)
                return -1;
            if (old != NULL) {
                int same = same_form(value, old);
                if (same < 0)
                    return -1;
                if (same)
                    continue;
            }
            if (n_changed == MAX_NAMES)
                return -1;
            changed[n_changed++] = index;
        }
    }
    return n_changed;
}

/* The event, packed as msgpack-python packs [step, kind, thread, frame, code, line,
 * payload]: the payload None, or {Payload.LOCALS: {name: form}} of the names changed. */
static int
pack_event(LineStepper *self, Packed *packed, const View *view, PyObject *line,
           PyObject **locals, const int *changed, int n_changed)
{
    if (reserve(packed, 1) < 0)
        return -1;
    packed->bytes[packed->size++] = (char)0x97;
    if (pack_long(packed, view->step + 1) < 0 || pack_long(packed, self->line_kind) < 0
        || reserve(packed, view->header_size) < 0)
        return -1;
    memcpy(packed->bytes + packed->size, view->header, view->header_size);
    packed->size += view->header_size;
    if (pack_int(packed, line) < 0 || reserve(packed, 1) < 0)
        return -1;
    if (n_changed == 0) {
        packed->bytes[packed->size++] = (char)0xc0;
        return 0;
    }
    packed->bytes[packed->size++] = (char)0x81;
    if (pack_str(packed, self->locals_key) < 0 || reserve(packed, 3) < 0)
        return -1;
    if (n_changed < 16)
        packed->bytes[packed->size++] = (char)(0x80 | n_changed);
    else
        put_be(packed, 0xde, (uint64_t)n_changed, 2);
    for (int c = 0; c < n_changed; c++) {
        if (pack_str(packed, PyTuple_GET_ITEM(view->table->varnames, changed[c])) < 0
            || pack_scalar(packed, locals[changed[c]]) < 0)
            return -1;
    }
    return 0;
}

/* Record the step: change the shadow and the open chunk as the Python recorder would. */
static int
commit(LineStepper *self, View *view, PyObject *line, PyObject **locals, const int *changed,
       int n_changed, const Packed *packed)
{
    for (int c = 0; c < n_changed; c++) {
        PyObject *name = PyTuple_GET_ITEM(view->table->varnames, changed[c]);
        if (PyDict_SetItem(view->values, name, locals[changed[c]]) < 0)
            return -1;
        int had = PyDict_Contains(view->ids, name);
        if (had < 0 || (had && PyDict_DelItem(view->ids, name) < 0))
            return -1;
    }
    Py_ssize_t size = PyByteArray_GET_SIZE(view->data);
    long step = view->step + 1;
    if (PyObject_SetAttr(view->entry, s_line, line) < 0
        || set_long(self->recorder, s_step, step) < 0
        || set_long(view->events, s_count, view->count + 1) < 0
        || PyByteArray_Resize(view->data, size + packed->size) < 0)
        return -1;
    memcpy(PyByteArray_AS_STRING(view->data) + size, packed->bytes, packed->size);
    view->step = step;
    view->count += 1;
    view->line = PyLong_AsLong(line);
    return 0;
}

/* One line step: 1 recorded; 0 for the Python recorder (nothing changed yet); -1 on an
 * error after the step began to change state (its exception set). */
static int
try_step(LineStepper *self, PyObject *code, PyObject *line, PyFrameObject *frame)
{
    if (frame == NULL || !PyCode_Check(code) || !PyLong_CheckExact(line))
        return 0;
    long line_no = PyLong_AsLong(line);
    if (line_no == -1 && PyErr_Occurred())
        return 0;
    PyCodeObject *running = PyFrame_GetCode(frame);
    Py_DECREF(running);
    if ((PyObject *)running != code)
        return 0;
    const CodeTable *table = code_table(self, code);
    if (table == NULL)
        return 0;
    /* Most lines that the Python recorder must step name an object: told before reading
     * anything of the recorder. */
    PyObject **locals = _PyFrame_GetLocalsArray(frame->f_frame);
    if (!may_be_scalars(self, line_table(table, line_no), locals))
        return 0;
    PyObject *buffer = PyObject_GetAttr(self->recorder, s_line_buffer);
    if (buffer == NULL)
        return 0;
    Py_DECREF(buffer); /* the recorder holds it: compared or read below, kept by a view */
    if (buffer == Py_None)
        return 0;
    PyObject *busy = PyObject_CallNoArgs(self->locked);
    Py_XDECREF(busy);
    if (busy != Py_False)
        return 0;
    PyObject *tracing = PyObject_CallNoArgs(self->is_tracing);
    Py_XDECREF(tracing);
    if (tracing != Py_False)
        return 0;

    View fresh;
    memset(&fresh, 0, sizeof fresh);
    View *view = &self->cache.view;
    long step = -1;
    int cached = self->cache.valid && view->buffer == buffer && view->frame == (PyObject *)frame
                 && view->code == code && view->ident == PyThread_get_thread_ident()
                 && long_attribute(self->recorder, s_step, &step) == 0 && step == view->step;
    if (!cached) {
        PyErr_Clear();
        view = &fresh;
        if (!read_view(self, code, frame, table, buffer, view)) {
            forget_view(view);
            return 0;
        }
    }
    /* Another stepper (another recorder's) may have replaced the table since it was read. */
    view->table = table;
    int changed[MAX_NAMES];
    int n_changed = changed_names(self, view, line_no, locals, changed);
    Packed packed = {NULL, 0, sizeof packed.inline_bytes, {0}};
    packed.bytes = packed.inline_bytes;
    int result = 0;
    /* A step that would close the chunk goes to Python, which closes it under its lock
     * (RingBuffer.append); so does one into a chunk that no step opened. */
    if (n_changed < 0 || pack_event(self, &packed, view, line, locals, changed, n_changed) < 0
        || view->count < 1 || view->count + 1 >= view->per_chunk
        || ((n_changed || !((view->count + 1) & 63))
            && PyByteArray_GET_SIZE(view->data) + packed.size >= self->chunk_target_bytes))
        goto done;
    result = commit(self, view, line, locals, changed, n_changed, &packed) < 0 ? -1 : 1;
done:
    if (result == 0)
        PyErr_Clear();
    if (packed.bytes != packed.inline_bytes)
        PyMem_Free(packed.bytes);
    if (view == &fresh && result == 1) {
        forget_cache(self);
        self->cache.view = fresh;
        self->cache.valid = 1;
    }
    else if (view == &fresh)
        forget_view(&fresh);
    else if (result != 1)
        forget_cache(self);
    return result;
}

static PyObject *
stepper_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    LineStepper *self = (LineStepper *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs < 2 || nargs > 3 || kwnames != NULL) {
        PyErr_SetString(PyExc_TypeError, "a line step takes (code, line[, frame])");
        return NULL;
    }
    /* The event's frame: the caller's when it is called by another callback (a jump). */
    PyFrameObject *frame = PyEval_GetFrame();
    if (nargs == 3)
        frame = PyFrame_Check(args[2]) ? (PyFrameObject *)args[2] : NULL;
    int result = try_step(self, args[0], args[1], frame);
    if (result == 1)
        Py_RETURN_NONE;
    if (result < 0) {
        /* Half a step: the recorder stops recording the test, as at any fault. */
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *called = PyObject_CallMethod(self->recorder, "_fault", "O", exc);
        Py_XDECREF(exc);
        if (called == NULL)
            PyErr_Clear();
        Py_XDECREF(called);
        Py_RETURN_NONE;
    }
    PyErr_Clear();
    return PyObject_Vectorcall(self->fallback, args, nargs, NULL);
}

static PyObject *
stepper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"recorder", "fallback", "locked", "is_tracing", "line_names",
                               "names_secret", "redaction", "max_str", "chunk_target_bytes",
                               "line_kind", "locals_key", NULL};
    PyObject *recorder, *fallback, *locked, *is_tracing, *line_names, *names_secret,
        *redaction, *locals_key;
    Py_ssize_t max_str, chunk_target_bytes;
    long line_kind;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOnnlU:LineStepper", keywords,
                                     &recorder, &fallback, &locked, &is_tracing, &line_names,
                                     &names_secret, &redaction, &max_str, &chunk_target_bytes,
                                     &line_kind, &locals_key))
        return NULL;
    LineStepper *self = (LineStepper *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->vectorcall = stepper_vectorcall;
    self->recorder = Py_NewRef(recorder);
    self->fallback = Py_NewRef(fallback);
    self->locked = Py_NewRef(locked);
    self->is_tracing = Py_NewRef(is_tracing);
    self->line_names = Py_NewRef(line_names);
    self->names_secret = Py_NewRef(names_secret);
    self->redaction = Py_NewRef(redaction);
    self->max_str = max_str;
    self->chunk_target_bytes = chunk_target_bytes;
    self->line_kind = line_kind;
    self->locals_key = Py_NewRef(locals_key);
    self->generation = next_generation++;
    return (PyObject *)self;
}

static int
stepper_traverse(LineStepper *self, visitproc visit, void *arg)
{
    Py_VISIT(self->recorder);
    Py_VISIT(self->fallback);
    Py_VISIT(self->locked);
    Py_VISIT(self->is_tracing);
    Py_VISIT(self->line_names);
    Py_VISIT(self->names_secret);
    Py_VISIT(self->redaction);
    Py_VISIT(self->locals_key);
    Py_VISIT(self->cache.view.buffer);
    Py_VISIT(self->cache.view.entry);
    Py_VISIT(self->cache.view.values);
    Py_VISIT(self->cache.view.ids);
    Py_VISIT(self->cache.view.events);
    Py_VISIT(self->cache.view.data);
    Py_VISIT(self->cache.view.by_id);
    return 0;
}

static int
stepper_clear(LineStepper *self)
{
    Py_CLEAR(self->recorder);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->locked);
    Py_CLEAR(self->is_tracing);
    Py_CLEAR(self->line_names);
    Py_CLEAR(self->names_secret);
    Py_CLEAR(self->redaction);
    Py_CLEAR(self->locals_key);
    forget_cache(self);
    return 0;
}

static void
stepper_dealloc(LineStepper *self)
{
    PyObject_GC_UnTrack(self);
    stepper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
stepper_forget(LineStepper *self, PyObject *Py_UNUSED(ignored))
{
    forget_cache(self);
    Py_RETURN_NONE;
}

static PyMethodDef stepper_methods[] = {
    {"forget", (PyCFunction)stepper_forget, METH_NOARGS,
     PyDoc_STR("Read the recorder afresh at the next step: a test begins or ends.")},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject LineStepperType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_scope.capture._linestep.LineStepper",
    .tp_doc = PyDoc_STR("The LINE callback for the steps whose meaning is the forms of "
                        "scalars; the rest goes to the Python recorder's fast callback."),
    .tp_basicsize = sizeof(LineStepper),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = stepper_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(LineStepper, vectorcall),
    .tp_traverse = (traverseproc)stepper_traverse,
    .tp_clear = (inquiry)stepper_clear,
    .tp_dealloc = (destructor)stepper_dealloc,
    .tp_methods = stepper_methods,
};

static struct PyModuleDef linestep_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._linestep",
    .m_doc = PyDoc_STR("The native line step (see the top of _linestep.c)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__linestep(void)
{
    if (intern_names() < 0 || PyType_Ready(&LineStepperType) < 0)
        return NULL;
    if (code_extra_index < 0) {
        code_extra_index = PyUnstable_Eval_RequestCodeExtraIndex(free_code_table);
        if (code_extra_index < 0) {
            PyErr_SetString(PyExc_RuntimeError, "no code extra index left");
            return NULL;
        }
    }
    PyObject *module = PyModule_Create(&linestep_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "LineStepper", (PyObject *)&LineStepperType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
