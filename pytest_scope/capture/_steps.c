/* The native steps: the recorder's most frequent events, a line step, a call, a
 * generator's resume and yield, a return and a handled exception, done in C when they are
 * simple.
 *
 * A line step of a frame the recorder already follows, in the state where the recorder
 * registers its fast line callback (docs/pages/design.md, "The native line step"), reads
 * the locals that the line that ran and the line that starts name (capture/linenames.py),
 * by index from the interpreter's frame, compares them by identity with the forms last
 * recorded, and when each one that changed is a scalar (an int in msgpack's range, a bool,
 * None, a finite float, a str too short to hold a secret) or a bigger int (whose form it
 * makes as the value encoder does), records the step: it updates the frame's shadow as
 * the Python recorder would and appends the packed event to the open chunk.
 *
 * A generator's resume and yield, a return and a handled exception of the project's code
 * without line events are taken when what changed is such values (or leaves) and the objects
 * their walk reaches are unchanged, its cells read through (docs/pages/design.md, "The
 * native generator steps"); a call of a code the recorder follows, when its parameters are
 * such values or unchanged objects the table knows (docs/pages/design.md, "The native
 * call"). A caller without line events may have rebound its locals to such values.
 *
 * Anything else goes to the Python recorder's callback, before anything is changed (but
 * what a walk of objects found, which the table keeps for the Python step): a new or
 * changed object, a deleted local, a cell named by a line step, a secret name, a line
 * that lets go of a numbered object, a chunk to open or to close, another thread or frame
 * than the last step's, tracemalloc, the recorder's lock held by another thread. The
 * Python recorder stays the one place that decides what a step means; this file takes
 * only the steps whose meaning is the forms of a few scalars and the refs of unchanged
 * objects, and records them as the Python recorder does (the event path's equivalence
 * tests run the same recordings through both).
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

#include "_leaves.h"

/* Locals looked at by one step; a line naming more goes to Python. */
#define MAX_NAMES 32
/* The locals of a frame with cells that a generator's step reads (the values in its cells
 * in place of the cells); a frame with more goes to Python. */
#define MAX_CELL_FRAME_LOCALS 128
/* The kinds of a code's locals (Include/internal/pycore_code.h). */
#define FAST_CELL 0x40
#define FAST_FREE 0x80

/* -- names of the attributes read and written ----------------------------------------- */

static PyObject *s_line_buffer, *s_keyframe_due, *s_last_thread, *s_ident, *s_stack,
    *s_frame, *s_code, *s_cell_names, *s_dropping, *s_line, *s_values, *s_ids,
    *s_calling_at, *s_step, *s_events, *s_data, *s_count, *s_events_per_chunk,
    *s_number, *s_frame_no, *s_objects, *s_by_id, *s_shortest, *s_codes, *s_suspended,
    *s_stepped_lines, *s_stepped, *s_frame_refs, *s_leaves,
    *s_form, *s_changes, *s_end_step, *s_records, *s_restart_code, *s_locals_dict, *s_ref,
    *s_cell_frames, *s_type_key, *s_repr_key, *s_int_name, *s_ellipsis, *s_walker, *s_walk_known, *s_confirm_known, *s_release, *s_ref_attribute,
    *s_next_frame_no;

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
    NAME(s_codes, "_codes");
    NAME(s_suspended, "_suspended");
    NAME(s_stepped_lines, "stepped_lines");
    NAME(s_stepped, "stepped");
    NAME(s_frame_refs, "frame_refs");
    NAME(s_leaves, "leaves");
    NAME(s_form, "form");
    NAME(s_changes, "changes");
    NAME(s_end_step, "end_step");
    NAME(s_records, "_records");
    NAME(s_restart_code, "_restart_code");
    NAME(s_locals_dict, "locals_dict");
    NAME(s_ref, "$ref");
    NAME(s_cell_frames, "cell_frames");
    NAME(s_type_key, "$type");
    NAME(s_repr_key, "repr");
    NAME(s_int_name, "int");
    NAME(s_ellipsis, "\xe2\x80\xa6"); /* "…", in UTF-8 */
    NAME(s_walker, "_walker");
    NAME(s_walk_known, "walk_known");
    NAME(s_confirm_known, "confirm_known");
    NAME(s_release, "release");
    NAME(s_ref_attribute, "ref");
    NAME(s_next_frame_no, "_next_frame_no");
#undef NAME
    return 0;
}

/* -- reading and writing the recorder's attributes ---------------------------------------
 *
 * The recorder's objects are compiled classes (mypyc), whose attributes are getset
 * descriptors of their types. PyObject_GetAttr finds the descriptor in the type at each
 * read, through the generic machinery: a tenth of a generator's native step went there.
 * The descriptor's functions are kept here by (type, name), the type held, and called
 * directly: a getset is a data descriptor, which is what a read or a write finds whatever
 * the instance holds. Any other attribute, of a type that reads its attributes its own
 * way, is read and written the usual way. */

#define ACCESSORS 256

typedef struct {
    PyTypeObject *type; /* held */
    PyObject *name;     /* held */
    getter get;         /* NULL if the attribute is read the usual way */
    setter set;
    void *closure;
} Accessor;

static Accessor accessors[ACCESSORS];

/* The accessor of ``name`` on ``owner``'s type, or NULL for the usual way. */
static Accessor *
accessor(PyObject *owner, PyObject *name)
{
    PyTypeObject *type = Py_TYPE(owner);
    Accessor *kept =
        &accessors[(((uintptr_t)type >> 4) ^ ((uintptr_t)name >> 4)) % ACCESSORS];
    if (kept->type != type || kept->name != name) {
        Py_XSETREF(kept->type, (PyTypeObject *)Py_NewRef(type));
        Py_XSETREF(kept->name, Py_NewRef(name));
        kept->get = NULL;
        PyObject *found = _PyType_Lookup(type, name);
        if (found != NULL && Py_IS_TYPE(found, &PyGetSetDescr_Type)
            && type->tp_getattro == PyObject_GenericGetAttr
            && type->tp_setattro == PyObject_GenericSetAttr) {
            PyGetSetDef *def = ((PyGetSetDescrObject *)found)->d_getset;
            kept->get = def->get;
            kept->set = def->set;
            kept->closure = def->closure;
        }
    }
    return kept->get != NULL ? kept : NULL;
}

/* ``owner.name``, a new reference; NULL with an exception set if it cannot be read. */
static PyObject *
get_attribute(PyObject *owner, PyObject *name)
{
    Accessor *known = accessor(owner, name);
    return known ? known->get(owner, known->closure) : PyObject_GetAttr(owner, name);
}

/* ``owner.name = value``: 0, or -1 with an exception set. */
static int
set_attribute(PyObject *owner, PyObject *name, PyObject *value)
{
    Accessor *known = accessor(owner, name);
    return known && known->set ? known->set(owner, value, known->closure)
                               : PyObject_SetAttr(owner, name, value);
}

/* -- what each line of a code object names, by local index ------------------------------ */

typedef struct {
    int python;          /* the line names a cell, a secret or a name that is not a local */
    int n_deep, n_shallow, n_drops;
    int *deep, *shallow, *drops; /* indices into the frame's locals, in linenames' order */
} LineTable;

/* The line at one instruction of a code (an offset in bytes, -1 for none yet). */
typedef struct {
    int offset;
    long line;
} LineAt;

#define LINES_AT 4 /* the lines of a code's last instructions kept, by offset */

typedef struct {
    uint64_t generation; /* of the stepper that made it: another one makes its own */
    int unsupported;     /* not a function's code: its locals are not in the frame */
    int plain_locals;    /* no cell, no local of a secret name: a line step may be native */
    int secret_free;     /* no local of a secret name, cells included: a generator step may be */
    int has_cells;       /* some of its locals are cells (its own, or its closure's) */
    int n_params;        /* its parameters, the first of its locals */
    int first_line, n_lines;
    LineTable *lines;    /* by line - first_line */
    PyObject *varnames;  /* the names, by index (the code's co_varnames) */
    PyObject *names;     /* every local's name, by index, cells last (co_localsplusnames) */
    PyObject *kinds;     /* their kinds, FAST_CELL and FAST_FREE among them (bytes) */
    LineAt lines_at[LINES_AT]; /* where generators resume and yield, mostly (frame_line) */
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
    Py_XDECREF(table->names);
    Py_XDECREF(table->kinds);
    PyMem_RawFree(table);
}

/* The object table's walks of the objects a native step looks at (ObjectTable.form), read
 * of the recorder with the rest of what a step reads. References owned. */
typedef struct {
    PyObject *objects;          /* the recorder's ObjectTable */
    PyObject *records;          /* its records by id: the objects whose forms it recorded */
    PyObject *walk_known, *confirm_known, *release; /* its native walk's, or NULL */
    int walked;                 /* whether the step being tried walked any */
} Walks;

/* What one step read of the recorder, the frame's shadow and the open chunk. The Python
 * recorder changes none of it but at a step of its own (which changes its step count) or
 * when a test begins or ends (``forget``), so while its step count is still the last one
 * this stepper wrote, the next step may take it as it was. */
typedef struct {
    PyObject *buffer, *entry, *values, *ids, *leaves, *events, *data, *by_id; /* owned */
    PyObject *frame, *code;     /* compared only: the entry's frame holds its frame */
    const CodeTable *table;     /* the code's, as of this step */
    Walks walks;
    unsigned long ident;
    long step, line, count, per_chunk;
    char header[32];            /* the event's thread, frame and code numbers, packed */
    Py_ssize_t header_size;
    int calling_at_marked;      /* a resume marked the frame's instruction (try_resume) */
} View;

typedef struct {
    int valid;
    View view;
} Cache;

/* What a step read of its code's record (Recorder._codes), which does not change. */
typedef struct {
    PyObject *code;             /* compared only: the record holds it */
    PyObject *known;            /* owned */
    int stepped_lines;          /* whether its frames have line events */
} Planned;

/* What a step of a frame without line events read of the frame's shadow, whose facts do
 * not change: its dicts are changed in place, its numbers are its own. References owned. */
typedef struct {
    PyObject *entry, *known, *values, *ids, *leaves;
    long line;                  /* the line a native step last wrote to it, or -1 */
    char header[32];            /* its event's thread, frame and code numbers, packed */
    Py_ssize_t header_size;
} Shadow;

/* What a generator's step read of the recorder (and a call's, a return's and a handled
 * exception's: the steps other than a line step share it), kept for the next while the
 * recorder's step count is still the last one a native step wrote (no Python step came
 * between) and the test has not begun or ended (``forget``): the open chunk, the last
 * step's thread and its shadow stack, the suspended frames' shadows, the followed codes;
 * and what it read of the last two codes and frames stepped (a generator and the one it
 * delegates to, with ``yield from``, step in turn). References owned. */
typedef struct {
    int valid;
    PyObject *buffer, *events, *data, *thread, *stack, *suspended, *codes;
    Walks walks;                /* of parameters, and of a caller's locals */
    PyObject *restart_code;     /* the code a Hypothesis test restarts from, compared only */
    unsigned long ident;
    long step, count, per_chunk;
    Planned planned[2];
    PyObject *known;            /* the record of the step's code, held by ``planned`` */
    Shadow shadows[2];
    Shadow *shadow;             /* the step's frame's, or NULL */
} GeneratorCache;

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    PyObject *recorder;
    PyObject *fallback;     /* the Python recorder's fast line callback */
    PyObject *on_start, *on_resume, *on_yield, *on_return, *on_handled; /* the Python
                                                                      * recorder's callbacks */
    PyObject *frame_class;  /* recorder._Frame, the shadow of a frame */
    PyObject *locked;       /* the recorder's lock's ``locked`` */
    PyObject *is_tracing;   /* tracemalloc.is_tracing */
    PyObject *line_names;   /* linenames.line_names */
    PyObject *names_secret; /* Redaction.names_secret */
    PyObject *redaction;
    Py_ssize_t max_str;
    Py_ssize_t chunk_target_bytes;
    long line_kind;       /* Kind.LINE */
    PyObject *locals_key; /* Payload.LOCALS */
    PyObject *returned_key; /* Payload.RETURNED */
    PyObject *exception_key; /* Payload.EXCEPTION */
    PyObject *other_frames_key; /* Payload.OTHER_FRAMES */
    long call_kind, resume_kind, yield_kind, return_kind, handled_kind; /* as Kind names them */
    Py_ssize_t own_refs;  /* objects.OWN_REFS: a Python callback's frame local adds them */
    Py_ssize_t max_suspended; /* the suspended frames the recorder keeps at most */
    PyObject *leaf_forms; /* Recorder._leaf_forms: the form of each leaf keyed, by key */
    uint64_t generation;
    Py_ssize_t line_steps, call_steps, generator_steps, return_steps, handled_steps; /* here */
    Cache cache;
    GeneratorCache generators;
} NativeSteps;

/* The indices of ``names`` (a tuple) among the code's plain locals; -1 if one is another
 * kind of name (a cell, a free variable, a global) or a secret one. */
static int
name_indices(NativeSteps *self, PyObject *names, PyObject *varnames, PyObject *cells,
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
fill_line(NativeSteps *self, LineTable *entry, PyObject *names, PyObject *varnames,
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
build_code_table(NativeSteps *self, PyCodeObject *code)
{
    CodeTable *table = PyMem_RawCalloc(1, sizeof(CodeTable));
    if (table == NULL)
        return NULL;
    table->generation = self->generation;
    for (int i = 0; i < LINES_AT; i++)
        table->lines_at[i].offset = -1;
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
    PyObject *names = code->co_localsplusnames;
    table->has_cells = PyTuple_GET_SIZE(cells) > 0;
    table->secret_free = 1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names) && table->secret_free; i++) {
        PyObject *secret = PyObject_CallOneArg(self->names_secret, PyTuple_GET_ITEM(names, i));
        if (secret == NULL)
            goto unsupported;
        table->secret_free = PyObject_IsTrue(secret) == 0;
        Py_DECREF(secret);
    }
    table->plain_locals = !table->has_cells && table->secret_free;
    table->names = Py_NewRef(names);
    table->kinds = Py_NewRef(code->co_localspluskinds);
    table->n_params = code->co_argcount + code->co_kwonlyargcount
                      + !!(code->co_flags & CO_VARARGS) + !!(code->co_flags & CO_VARKEYWORDS);
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
code_table(NativeSteps *self, PyObject *code)
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

/* The line of ``frame``, which runs the table's code: kept by instruction, since finding
 * it in the code's line table is a scan (PyCode_Addr2Line), and a generator resumes and
 * yields at the same few instructions. A frame whose line a tracer set says its own. */
static long
frame_line(CodeTable *table, PyFrameObject *frame)
{
    int offset = PyFrame_GetLasti(frame);
    if (frame->f_lineno != 0 || offset < 0)
        return PyFrame_GetLineNumber(frame);
    LineAt *kept = &table->lines_at[(offset / (int)sizeof(_Py_CODEUNIT)) % LINES_AT];
    if (kept->offset != offset) {
        kept->line = PyFrame_GetLineNumber(frame);
        kept->offset = offset;
    }
    return kept->line;
}

/* The values of a frame's locals, by index into its table's ``names``, as the Python
 * recorder reads them (the frame's ``f_locals``): its locals array itself, or for a code
 * with cells a copy with each cell replaced by the value it holds (NULL when empty), held
 * until ``release_values``. */
typedef struct {
    PyObject **values;
    Py_ssize_t held; /* the references the copy holds */
    PyObject *copy[MAX_CELL_FRAME_LOCALS];
} FrameValues;

/* Read ``frame``'s values into ``read``: 1, or 0 if it has too many locals with cells. */
static int
read_values(FrameValues *read, const CodeTable *table, PyFrameObject *frame)
{
    PyObject **locals = _PyFrame_GetLocalsArray(frame->f_frame);
    read->values = locals;
    read->held = 0;
    if (!table->has_cells)
        return 1;
    Py_ssize_t n = PyTuple_GET_SIZE(table->names);
    if (n > MAX_CELL_FRAME_LOCALS)
        return 0;
    const char *kinds = PyBytes_AS_STRING(table->kinds);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = locals[i];
        if (value != NULL && (kinds[i] & (FAST_CELL | FAST_FREE)) && PyCell_Check(value))
            value = PyCell_GET(value);
        read->copy[i] = Py_XNewRef(value);
    }
    read->values = read->copy;
    read->held = n;
    return 1;
}

static void
release_values(FrameValues *read)
{
    for (Py_ssize_t i = 0; i < read->held; i++)
        Py_XDECREF(read->copy[i]);
    read->held = 0;
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

/* ``made``, the form made of a value (int_form's, str keys to str values; or an object's
 * ref, {"$ref": number}), or else the scalar ``value`` itself. */
static int
pack_form(Packed *packed, PyObject *value, PyObject *made)
{
    if (made == NULL)
        return pack_scalar(packed, value);
    if (reserve(packed, 1) < 0)
        return -1;
    packed->bytes[packed->size++] = (char)(0x80 | PyDict_GET_SIZE(made));
    Py_ssize_t position = 0;
    PyObject *key, *part;
    while (PyDict_Next(made, &position, &key, &part)) {
        if (pack_str(packed, key) < 0
            || (PyLong_CheckExact(part) ? pack_int(packed, part) : pack_str(packed, part)) < 0)
            return -1;
    }
    return 0;
}

/* Whether ``value`` is its own form (ObjectTable.form): 1, 0 if not, -1 on error. A str
 * as long as the shortest secret value known is not: the Python recorder looks in it. */
static int
is_scalar(NativeSteps *self, PyObject *value, Py_ssize_t *shortest)
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
            PyObject *boxed = get_attribute(self->redaction, s_shortest);
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

/* The form of an int beyond msgpack's range (a new reference), as ValueEncoder._number
 * makes it: {"$type": "int", "repr": its digits cut at ``max_str``, or its bits' count
 * where that many digits would cost}. NULL with no error set for any other value. */
static PyObject *
int_form(NativeSteps *self, PyObject *value)
{
    if (!PyLong_CheckExact(value))
        return NULL;
    long long bits = (long long)_PyLong_NumBits(value);
    PyObject *text;
    if (bits < 0)
        text = NULL;
    else if (bits > 4 * (long long)self->max_str)
        text = PyUnicode_FromFormat("<%lld-bit int>", bits);
    else {
        PyObject *digits = PyLong_Type.tp_repr(value);
        if (digits != NULL && PyUnicode_GET_LENGTH(digits) > self->max_str) {
            PyObject *head = PyUnicode_Substring(digits, 0, self->max_str);
            Py_SETREF(digits, head ? PyUnicode_Concat(head, s_ellipsis) : NULL);
            Py_XDECREF(head);
        }
        text = digits;
    }
    PyObject *form = text ? PyDict_New() : NULL;
    if (form != NULL
        && (PyDict_SetItem(form, s_type_key, s_int_name) < 0
            || PyDict_SetItem(form, s_repr_key, text) < 0))
        Py_CLEAR(form);
    Py_XDECREF(text);
    if (form == NULL)
        PyErr_Clear();
    return form;
}

/* The form the Python recorder gave this test to a leaf of ``value``'s key (a new
 * reference; Recorder._leaf_forms), if ``value`` is a class, a function or a builtin
 * function: its key tells its form (the names it shows), which the encoder need not make
 * again. NULL with no error set if there is none. */
static PyObject *
leaf_form(NativeSteps *self, PyObject *value)
{
    if (PyDict_GET_SIZE(self->leaf_forms) == 0
        || !(PyType_Check(value) || PyFunction_Check(value) || PyCFunction_Check(value)))
        return NULL;
    char key[LEAF_KEY_MAX];
    Py_ssize_t size = leaf_key_into(value, key);
    PyObject *bytes = size > 0 ? PyBytes_FromStringAndSize(key, size) : NULL;
    PyObject *form = bytes ? Py_XNewRef(PyDict_GetItemWithError(self->leaf_forms, bytes)) : NULL;
    Py_XDECREF(bytes);
    PyErr_Clear();
    return form;
}

/* Note local ``index``, now bound to ``value`` where the form ``old`` was recorded (NULL:
 * none), among the ``changed`` ones if its form is another: 0, or -1 if the step is the
 * Python recorder's (``value`` is neither a scalar nor, where ``made`` takes the forms
 * made here, an int beyond msgpack's range or a leaf whose form a key tells, leaf_form;
 * or too many locals changed). ``made``, by position among the changed: the form made of
 * each (owned), or NULL for a scalar. */
static int
note_scalar_change(NativeSteps *self, int index, PyObject *value, PyObject *old,
                   Py_ssize_t *shortest, int *changed, int *n_changed, PyObject **made)
{
    int scalar = is_scalar(self, value, shortest);
    PyObject *form = scalar == 0 && made != NULL ? int_form(self, value) : NULL;
    if (scalar == 0 && made != NULL && form == NULL)
        form = leaf_form(self, value);
    if (scalar <= 0 && form == NULL)
        return -1;
    if (old != NULL) {
        int same = same_form(form != NULL ? form : value, old);
        if (same != 0) {
            Py_XDECREF(form);
            return same < 0 ? -1 : 0;
        }
    }
    if (*n_changed == MAX_NAMES) {
        Py_XDECREF(form);
        return -1;
    }
    if (made != NULL)
        made[*n_changed] = form;
    changed[(*n_changed)++] = index;
    return 0;
}

/* The forms ``note_scalar_change`` made, let go of. */
static void
release_made(PyObject **made, int n_changed)
{
    for (int c = 0; c < n_changed; c++)
        Py_CLEAR(made[c]);
}

/* -- the step -------------------------------------------------------------------------- */

static void
forget_walks(Walks *walks)
{
    Py_CLEAR(walks->objects);
    Py_CLEAR(walks->records);
    Py_CLEAR(walks->walk_known);
    Py_CLEAR(walks->confirm_known);
    Py_CLEAR(walks->release);
}

/* The recorder's object table (``objects``), its records and the methods of its native
 * walk, if it has one, into ``walks``: 0, or -1 if they cannot be had. Without a native
 * walk, each deep walk is the table's ``form``. */
static int
take_walks(Walks *walks, PyObject *objects)
{
    forget_walks(walks);
    walks->objects = Py_NewRef(objects);
    walks->records = get_attribute(objects, s_records);
    PyObject *walker = walks->records ? get_attribute(objects, s_walker) : NULL;
    if (walker == NULL || !PyDict_CheckExact(walks->records)) {
        Py_XDECREF(walker);
        return -1;
    }
    int status = 0;
    if (walker != Py_None) {
        walks->walk_known = PyObject_GetAttr(walker, s_walk_known);
        walks->confirm_known = PyObject_GetAttr(walker, s_confirm_known);
        walks->release = PyObject_GetAttr(walker, s_release);
        status = walks->walk_known && walks->confirm_known && walks->release ? 0 : -1;
    }
    Py_DECREF(walker);
    return status;
}

/* ``value``'s form (a new reference) as the table's walk finds it (ObjectTable.form):
 * deep, or (not ``deep``) the object itself alone, if the walk found no change; NULL
 * otherwise, with no error set: a change it found stays in the table for the Python step,
 * which takes it. The look at an object alone is made in C (``confirm_known``): an object
 * it cannot confirm unchanged is left to the Python step. */
static PyObject *
walked_form(Walks *walks, PyObject *value, int deep)
{
    walks->walked = 1;
    PyObject *look = deep ? walks->walk_known : walks->confirm_known;
    PyObject *args[2] = {walks->records, value};
    PyObject *known = look ? PyObject_Vectorcall(look, args, 2, NULL) : Py_NewRef(Py_None);
    PyObject *form = NULL;
    if (known == Py_None && deep) /* an object the native walk does not know */
        form = PyObject_CallMethodOneArg(walks->objects, s_form, value);
    else if (known != NULL && known != Py_None)
        form = get_attribute(known, s_ref_attribute);
    Py_XDECREF(known);
    PyObject *changes = form ? get_attribute(walks->objects, s_changes) : NULL;
    int unchanged = changes != NULL && PyList_CheckExact(changes)
                    && PyList_GET_SIZE(changes) == 0;
    Py_XDECREF(changes);
    if (!unchanged) {
        Py_XDECREF(form);
        PyErr_Clear();
        return NULL;
    }
    return form;
}

/* Whether the object of a local recorded by its ref (under ``name`` in ``values``) is
 * unchanged as the Python recorder's check of it finds it (Recorder._check_names): walked
 * ``deep``, or the object alone, its form is still that ref. 1, or 0 with no error set. */
static int
walked_unchanged(Walks *walks, PyObject *values, PyObject *name, PyObject *value, int deep)
{
    PyObject *form = walked_form(walks, value, deep);
    PyObject *old = form ? PyDict_GetItemWithError(values, name) : NULL;
    int same = old ? PyObject_RichCompareBool(form, old, Py_EQ) : -1;
    Py_XDECREF(form);
    PyErr_Clear();
    return same == 1;
}

/* Whether a local is still bound to the object its ref records (by id, in ``ids``), and
 * that object is unchanged (walked_unchanged). 1, or 0 with no error set. */
static int
same_object(Walks *walks, PyObject *ids, PyObject *values, PyObject *name, PyObject *value,
            int deep)
{
    PyObject *key = PyDict_GetItemWithError(ids, name);
    if (key == NULL || PyLong_AsVoidPtr(key) != value) {
        PyErr_Clear();
        return 0;
    }
    return walked_unchanged(walks, values, name, value, deep);
}

/* A step tried (``result``, as try_step's), once its walks are over: what they held is
 * released as the Python recorder releases it after its steps (ObjectTable.end_step; a
 * step recorded here found no change); a step left to it walks again and releases. */
static int
end_walks(Walks *walks, int result)
{
    if (result == 0 || !walks->walked)
        return result;
    PyObject *ended = result == 1 && walks->release ? PyObject_CallNoArgs(walks->release)
                                  : PyObject_CallMethodNoArgs(walks->objects, s_end_step);
    Py_XDECREF(ended);
    return ended == NULL ? -1 : result;
}

static void
forget_view(View *view)
{
    Py_CLEAR(view->buffer);
    Py_CLEAR(view->entry);
    Py_CLEAR(view->values);
    Py_CLEAR(view->ids);
    Py_CLEAR(view->leaves);
    Py_CLEAR(view->events);
    Py_CLEAR(view->data);
    Py_CLEAR(view->by_id);
    forget_walks(&view->walks);
}

static void
forget_cache(NativeSteps *self)
{
    self->cache.valid = 0;
    forget_view(&self->cache.view);
}

static int
long_attribute(PyObject *owner, PyObject *name, long *value)
{
    PyObject *boxed = get_attribute(owner, name);
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
    int result = set_attribute(owner, name, boxed);
    Py_DECREF(boxed);
    return result;
}

static int
pack_attribute(Packed *packed, PyObject *owner, PyObject *name)
{
    PyObject *boxed = get_attribute(owner, name);
    if (boxed == NULL)
        return -1;
    int result = pack_int(packed, boxed);
    Py_DECREF(boxed);
    return result;
}

/* The event's thread, frame and code numbers, packed. */
static int
pack_header(Packed *header, PyObject *thread, PyObject *entry, PyObject *known)
{
    return pack_attribute(header, thread, s_number) < 0
                   || pack_attribute(header, entry, s_frame_no) < 0
                   || pack_attribute(header, known, s_number) < 0
               ? -1
               : 0;
}

/* Read what a step needs from the recorder's objects into ``view`` (which then owns its
 * references): 1, or 0 if the step is the Python recorder's (see the top of this file). */
static int
read_view(NativeSteps *self, PyObject *code, PyFrameObject *frame, const CodeTable *table,
          PyObject *buffer, View *view)
{
    PyObject *thread = NULL, *stack = NULL, *known = NULL, *cells = NULL, *objects = NULL,
             *attribute = NULL;
    int result = 0;
    long calling_at;
    view->buffer = Py_NewRef(buffer);
    if (!(attribute = get_attribute(buffer, s_keyframe_due)) || attribute != Py_False)
        goto done;
    Py_CLEAR(attribute);
    if (!(thread = get_attribute(self->recorder, s_last_thread)) || thread == Py_None)
        goto done;
    if (!(attribute = get_attribute(thread, s_ident)))
        goto done;
    view->ident = PyLong_AsUnsignedLong(attribute);
    Py_CLEAR(attribute);
    if (view->ident != PyThread_get_thread_ident())
        goto done;
    if (!(stack = get_attribute(thread, s_stack)) || !PyList_CheckExact(stack)
        || PyList_GET_SIZE(stack) == 0)
        goto done;
    view->entry = Py_NewRef(PyList_GET_ITEM(stack, PyList_GET_SIZE(stack) - 1));
    if (!(attribute = get_attribute(view->entry, s_frame))
        || attribute != (PyObject *)frame)
        goto done;
    Py_CLEAR(attribute);
    view->frame = (PyObject *)frame;
    view->code = code;
    if (!(known = get_attribute(view->entry, s_code))
        || !(cells = get_attribute(known, s_cell_names)) || !PyTuple_CheckExact(cells)
        || PyTuple_GET_SIZE(cells) != 0)
        goto done;
    if (!(attribute = get_attribute(view->entry, s_dropping)) || attribute != Py_None)
        goto done;
    Py_CLEAR(attribute);
    view->table = table;
    if (!(view->values = get_attribute(view->entry, s_values))
        || !PyDict_CheckExact(view->values)
        || !(view->ids = get_attribute(view->entry, s_ids))
        || !PyDict_CheckExact(view->ids)
        || !(view->leaves = get_attribute(view->entry, s_leaves))
        || !PyDict_CheckExact(view->leaves)
        || !(view->events = get_attribute(buffer, s_events))
        || !(view->data = get_attribute(view->events, s_data))
        || !PyByteArray_CheckExact(view->data)
        || !(objects = get_attribute(self->recorder, s_objects))
        || !(view->by_id = get_attribute(objects, s_by_id))
        || !PyDict_CheckExact(view->by_id) || take_walks(&view->walks, objects) < 0)
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
    if (pack_header(&header, thread, view->entry, known) < 0)
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
 * Recorder._line_names. A local still bound to the object recorded is unchanged if the
 * walk of a deep name, or the look at the object alone of another, finds no change
 * (same_object). Their count, or -1 if the step is the Python recorder's. */
static int
changed_names(NativeSteps *self, View *view, long line, PyObject **locals,
              int *changed, PyObject **made)
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
                goto python;
            if (value == old)
                continue;
            if (value == NULL)
                goto python; /* deleted */
            int seen = 0;
            for (int c = 0; c < n_changed; c++)
                seen |= changed[c] == index;
            int leaf = seen ? 0 : same_leaf(view->leaves, name, value);
            if (leaf < 0)
                goto python;
            if (seen || leaf
                || same_object(&view->walks, view->ids, view->values, name, value, g == 0))
                continue;
            if (note_scalar_change(self, index, value, old, &shortest, changed, &n_changed,
                                   made) < 0)
                goto python;
        }
    }
    return n_changed;
python:
    release_made(made, n_changed);
    return -1;
}

/* What a caller without line events ran since its last look, as it calls or resumes a
 * frame (Recorder._catch_up): its frame's number, its line now, and its locals rebound to
 * scalars (or ints beyond msgpack's range) of another form: ``changed`` by index into
 * ``names``, with the forms made of them in ``made`` (owned), their values in ``read``
 * (held until forget_move), and the caller's shadow dicts they go into as the step is
 * recorded (borrowed: the shadow holds them). */
typedef struct {
    long frame_no, line;
    int n_changed;
    int changed[MAX_NAMES];
    PyObject *made[MAX_NAMES];
    PyObject *names, *values, *ids, *leaves;
    FrameValues read;
} CallerMove;

static void
forget_move(CallerMove *move)
{
    release_made(move->made, move->n_changed);
    move->n_changed = 0;
    release_values(&move->read);
}

/* {name: form} of the ``changed`` locals (by index into ``names``, their values in
 * ``locals``, the forms made of them by position in ``made`` if not NULL). */
static int
pack_changes(Packed *packed, PyObject *names, PyObject **locals, const int *changed,
             PyObject *const *made, int n_changed)
{
    if (reserve(packed, 3) < 0)
        return -1;
    if (n_changed < 16)
        packed->bytes[packed->size++] = (char)(0x80 | n_changed);
    else
        put_be(packed, 0xde, (uint64_t)n_changed, 2);
    for (int c = 0; c < n_changed; c++) {
        if (pack_str(packed, PyTuple_GET_ITEM(names, changed[c])) < 0
            || pack_form(packed, locals[changed[c]], made ? made[c] : NULL) < 0)
            return -1;
    }
    return 0;
}

/* An event, packed as msgpack-python packs [step, kind, thread, frame, code, line,
 * payload]: ``header`` holds the thread, frame and code numbers, packed. The payload is
 * None, or {Payload.LOCALS: {name: form}} of the locals changed (by index into
 * ``varnames``), then {Payload.OTHER_FRAMES: [[frame, line, {name: form}, []]]} of a
 * caller that moved or rebound locals (``moved``, if not NULL), then {value_key: form} of ``value`` if there is one
 * (returned or yielded, or the exception handled): the scalar itself, the form made of it
 * (``value_made``), or the ref ``value_ref`` if it is not -1. ``made``, if not NULL: the
 * forms made of the changed locals, by position, NULL for a scalar. */
static int
pack_event(NativeSteps *self, Packed *packed, long step, long kind, const char *header,
           Py_ssize_t header_size, long line, PyObject *varnames, PyObject **locals,
           const int *changed, PyObject *const *made, int n_changed, const CallerMove *moved,
           PyObject *value_key, PyObject *value, PyObject *value_made, long value_ref)
{
    if (reserve(packed, 1) < 0)
        return -1;
    packed->bytes[packed->size++] = (char)0x97;
    if (pack_long(packed, step) < 0 || pack_long(packed, kind) < 0
        || reserve(packed, header_size) < 0)
        return -1;
    memcpy(packed->bytes + packed->size, header, header_size);
    packed->size += header_size;
    if (pack_long(packed, line) < 0 || reserve(packed, 1) < 0)
        return -1;
    int entries = (n_changed > 0) + (moved != NULL) + (value != NULL);
    if (entries == 0) {
        packed->bytes[packed->size++] = (char)0xc0;
        return 0;
    }
    packed->bytes[packed->size++] = (char)(0x80 | entries);
    if (n_changed > 0
        && (pack_str(packed, self->locals_key) < 0
            || pack_changes(packed, varnames, locals, changed, made, n_changed) < 0))
        return -1;
    if (moved != NULL) {
        if (pack_str(packed, self->other_frames_key) < 0 || reserve(packed, 2) < 0)
            return -1;
        packed->bytes[packed->size++] = (char)0x91; /* one frame */
        packed->bytes[packed->size++] = (char)0x94; /* [frame, line, {changed}, []] */
        if (pack_long(packed, moved->frame_no) < 0 || pack_long(packed, moved->line) < 0
            || pack_changes(packed, moved->names, moved->read.values, moved->changed,
                            moved->made, moved->n_changed) < 0
            || reserve(packed, 1) < 0)
            return -1;
        packed->bytes[packed->size++] = (char)0x90;
    }
    if (value != NULL) {
        if (pack_str(packed, value_key) < 0)
            return -1;
        if (value_ref < 0)
            return pack_form(packed, value, value_made);
        if (reserve(packed, 1) < 0)
            return -1;
        packed->bytes[packed->size++] = (char)0x81; /* {"$ref": number} */
        if (pack_str(packed, s_ref) < 0 || pack_long(packed, value_ref) < 0)
            return -1;
    }
    return 0;
}

/* ``name`` out of ``dict``, if there: 0, or -1 on an error. */
static int
discard(PyObject *dict, PyObject *name)
{
    int had = PyDict_Contains(dict, name);
    return had < 0 || (had && PyDict_DelItem(dict, name) < 0) ? -1 : 0;
}

/* The changed locals into a frame's shadow: each one's form (the scalar itself, or the
 * form made of it, by position in ``made`` if not NULL), the id of the object behind a
 * ref, and the key of a leaf (none for a scalar), as Recorder._check_names records them. */
static int
store_changed(PyObject *values, PyObject *ids, PyObject *leaves, PyObject *varnames,
              PyObject **locals, const int *changed, PyObject *const *made, int n_changed)
{
    for (int c = 0; c < n_changed; c++) {
        PyObject *name = PyTuple_GET_ITEM(varnames, changed[c]);
        PyObject *value = locals[changed[c]];
        PyObject *form = made != NULL && made[c] != NULL ? made[c] : value;
        int is_ref = form != value && PyDict_GetItemWithError(form, s_ref) != NULL;
        PyObject *id = is_ref ? PyLong_FromVoidPtr(value) : NULL;
        PyObject *key = form != value && !is_ref && !PyErr_Occurred()
                            ? leaf_key_of(value, form, 1) : NULL;
        int stored = !PyErr_Occurred() && PyDict_SetItem(values, name, form) == 0
                     && (id != NULL ? PyDict_SetItem(ids, name, id) : discard(ids, name)) == 0
                     && (key != NULL && key != Py_None ? PyDict_SetItem(leaves, name, key)
                                                       : discard(leaves, name)) == 0;
        Py_XDECREF(id);
        Py_XDECREF(key);
        if (!stored)
            return -1;
    }
    return 0;
}

/* The packed event of step ``step`` into the open chunk (``events``, holding ``count``
 * events before it), and the recorder's step count moved on to it (RingBuffer.append). */
static int
append_event(NativeSteps *self, PyObject *events, PyObject *data, long step, long count,
             const Packed *packed)
{
    Py_ssize_t size = PyByteArray_GET_SIZE(data);
    if (set_long(self->recorder, s_step, step) < 0 || set_long(events, s_count, count + 1) < 0
        || PyByteArray_Resize(data, size + packed->size) < 0)
        return -1;
    memcpy(PyByteArray_AS_STRING(data) + size, packed->bytes, packed->size);
    return 0;
}

/* Record the step: change the shadow and the open chunk as the Python recorder would. */
static int
commit(NativeSteps *self, View *view, PyObject *line, PyObject **locals, const int *changed,
       PyObject *const *made, int n_changed, const Packed *packed)
{
    long step = view->step + 1;
    if (store_changed(view->values, view->ids, view->leaves, view->table->varnames, locals,
                      changed, made, n_changed) < 0
        || set_attribute(view->entry, s_line, line) < 0
        || append_event(self, view->events, view->data, step, view->count, packed) < 0)
        return -1;
    view->step = step;
    view->count += 1;
    view->line = PyLong_AsLong(line);
    return 0;
}

/* Whether no other thread holds the recorder's lock (it is mid-step) and tracemalloc is
 * off (a test that starts it stops the recording, which the Python recorder does). */
static int
unlocked_untraced(NativeSteps *self)
{
    PyObject *busy = PyObject_CallNoArgs(self->locked);
    Py_XDECREF(busy);
    if (busy != Py_False)
        return 0;
    PyObject *tracing = PyObject_CallNoArgs(self->is_tracing);
    Py_XDECREF(tracing);
    return tracing == Py_False;
}

/* Whether ``frame``, the event's, runs ``code``. */
static int
runs_code(PyFrameObject *frame, PyObject *code)
{
    if (frame == NULL || !PyCode_Check(code))
        return 0;
    PyCodeObject *running = PyFrame_GetCode(frame);
    Py_DECREF(running); /* the frame holds it */
    return (PyObject *)running == code;
}

/* One line step: 1 recorded; 0 for the Python recorder (nothing changed yet); -1 on an
 * error after the step began to change state (its exception set). */
static int
try_step(NativeSteps *self, PyObject *code, PyObject *line, PyFrameObject *frame)
{
    if (!runs_code(frame, code) || !PyLong_CheckExact(line))
        return 0;
    long line_no = PyLong_AsLong(line);
    if (line_no == -1 && PyErr_Occurred())
        return 0;
    const CodeTable *table = code_table(self, code);
    if (table == NULL)
        return 0;
    PyObject **locals = _PyFrame_GetLocalsArray(frame->f_frame);
    if (line_table(table, line_no)->python)
        return 0;
    PyObject *buffer = get_attribute(self->recorder, s_line_buffer);
    if (buffer == NULL)
        return 0;
    Py_DECREF(buffer); /* the recorder holds it: compared or read below, kept by a view */
    if (buffer == Py_None)
        return 0;
    if (!unlocked_untraced(self))
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
    /* A line step unsets the mark of the instruction a generator was resumed from, as
     * Recorder._line_names does: read_view does it as it reads; since then, a resume may
     * have set it. */
    if (view->calling_at_marked) {
        if (set_long(view->entry, s_calling_at, -1) < 0) {
            forget_cache(self);
            return 0;
        }
        view->calling_at_marked = 0;
    }
    /* Another stepper (another recorder's) may have replaced the table since it was read. */
    view->table = table;
    view->walks.walked = 0;
    int changed[MAX_NAMES];
    PyObject *made[MAX_NAMES];
    int n_changed = changed_names(self, view, line_no, locals, changed, made);
    Packed packed = {NULL, 0, sizeof packed.inline_bytes, {0}};
    packed.bytes = packed.inline_bytes;
    int result = 0;
    /* A step that would close the chunk goes to Python, which closes it under its lock
     * (RingBuffer.append); so does one into a chunk that no step opened. */
    if (n_changed < 0
        || pack_event(self, &packed, view->step + 1, self->line_kind, view->header,
                      view->header_size, line_no, view->table->varnames, locals, changed,
                      made, n_changed, NULL, NULL, NULL, NULL, -1) < 0
        || view->count < 1 || view->count + 1 >= view->per_chunk
        || ((n_changed || !((view->count + 1) & 63))
            && PyByteArray_GET_SIZE(view->data) + packed.size >= self->chunk_target_bytes))
        goto done;
    long before = view->step;
    result = commit(self, view, line, locals, changed, made, n_changed, &packed) < 0 ? -1 : 1;
    /* What the generator steps read holds one step on: a line step changes none of it. */
    if (result == 1 && self->generators.valid && self->generators.step == before) {
        self->generators.step += 1;
        self->generators.count += 1;
    }
done:
    result = end_walks(&view->walks, result);
    if (result == 0)
        PyErr_Clear();
    if (packed.bytes != packed.inline_bytes)
        PyMem_Free(packed.bytes);
    if (n_changed > 0)
        release_made(made, n_changed);
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

/* -- a generator's resume and yield, a return and a handled exception: the steps of
 *    frames without line events, which the functions named for generators take alike --- */

static void
forget_shadow(Shadow *shadow)
{
    Py_CLEAR(shadow->entry);
    Py_CLEAR(shadow->known);
    Py_CLEAR(shadow->values);
    Py_CLEAR(shadow->ids);
    Py_CLEAR(shadow->leaves);
}

static void
forget_generators(GeneratorCache *cache)
{
    cache->valid = 0;
    Py_CLEAR(cache->buffer);
    Py_CLEAR(cache->events);
    Py_CLEAR(cache->data);
    Py_CLEAR(cache->thread);
    Py_CLEAR(cache->stack);
    Py_CLEAR(cache->suspended);
    Py_CLEAR(cache->codes);
    forget_walks(&cache->walks);
    Py_CLEAR(cache->restart_code);
    for (int i = 0; i < 2; i++) {
        Py_CLEAR(cache->planned[i].known);
        forget_shadow(&cache->shadows[i]);
    }
    cache->known = NULL;
    cache->shadow = NULL;
}

/* ``owner.name`` into ``*slot`` (owned): 0, or -1 if it cannot be had. */
static int
take_attribute(PyObject **slot, PyObject *owner, PyObject *name)
{
    Py_XSETREF(*slot, get_attribute(owner, name));
    return *slot == NULL ? -1 : 0;
}

/* Read the recorder afresh into ``cache``: 1, or 0 if no generator step can be native
 * now. The recorder is in the state of its fast line path (``_line_buffer`` is set only
 * then: recording, not paused, watching nothing, no secret value pending, not between
 * Hypothesis examples), with the open chunk's keyframe taken, and the step's thread is
 * the last step's. */
static int
fill_generators(NativeSteps *self, GeneratorCache *cache, PyObject *buffer, long step)
{
    forget_generators(cache);
    cache->buffer = Py_NewRef(buffer);
    PyObject *due = get_attribute(buffer, s_keyframe_due);
    Py_XDECREF(due);
    if (due != Py_False || take_attribute(&cache->thread, self->recorder, s_last_thread) < 0
        || cache->thread == Py_None)
        return 0;
    PyObject *ident = get_attribute(cache->thread, s_ident);
    cache->ident = ident ? PyLong_AsUnsignedLong(ident) : 0;
    Py_XDECREF(ident);
    PyObject *objects = NULL;
    int ready = ident != NULL && cache->ident == PyThread_get_thread_ident()
                && take_attribute(&cache->stack, cache->thread, s_stack) == 0
                && PyList_CheckExact(cache->stack)
                && take_attribute(&cache->events, buffer, s_events) == 0
                && take_attribute(&cache->data, cache->events, s_data) == 0
                && PyByteArray_CheckExact(cache->data)
                && take_attribute(&cache->suspended, self->recorder, s_suspended) == 0
                && PyDict_CheckExact(cache->suspended)
                && take_attribute(&cache->codes, self->recorder, s_codes) == 0
                && PyDict_CheckExact(cache->codes)
                && (objects = get_attribute(self->recorder, s_objects)) != NULL
                && take_walks(&cache->walks, objects) == 0
                && take_attribute(&cache->restart_code, self->recorder, s_restart_code) == 0
                && long_attribute(cache->events, s_count, &cache->count) == 0
                && long_attribute(buffer, s_events_per_chunk, &cache->per_chunk) == 0;
    Py_XDECREF(objects);
    if (!ready)
        return 0;
    cache->step = step;
    cache->valid = 1;
    return 1;
}

/* The record of ``code`` (Recorder._codes), which the recorder follows (its frames are
 * stepped), and whether its frames have line events; NULL if it has none. Read for the last
 * two codes only: it does not change. */
static Planned *
followed_code(GeneratorCache *cache, PyObject *code)
{
    for (int i = 0; i < 2; i++) {
        if (cache->planned[i].known != NULL && cache->planned[i].code == code) {
            cache->known = cache->planned[i].known;
            return &cache->planned[i];
        }
    }
    PyObject *code_id = PyLong_FromVoidPtr(code);
    PyObject *known = code_id ? PyDict_GetItemWithError(cache->codes, code_id) : NULL;
    Py_XDECREF(code_id);
    PyObject *stepped_lines = known ? get_attribute(known, s_stepped_lines) : NULL;
    Py_XDECREF(stepped_lines);
    if (stepped_lines != Py_False && stepped_lines != Py_True) {
        PyErr_Clear();
        return NULL;
    }
    /* In place of the one not read last. */
    Planned *planned = &cache->planned[cache->planned[0].known == cache->known];
    Py_XSETREF(planned->known, Py_NewRef(known));
    planned->code = code;
    planned->stepped_lines = stepped_lines == Py_True;
    cache->known = known;
    return planned;
}

/* Whether ``entry``, the shadow of a frame of the step's code, may be stepped natively:
 * already stepped (its call was recorded). What is read of it goes to ``cache->shadow``. */
static int
generator_entry(GeneratorCache *cache, PyObject *entry)
{
    for (int i = 0; i < 2; i++) {
        Shadow *kept = &cache->shadows[i];
        if (kept->entry == entry && kept->known == cache->known) {
            cache->shadow = kept;
            return 1;
        }
    }
    /* In place of the one not read last. */
    Shadow *shadow = &cache->shadows[cache->shadow == &cache->shadows[0]];
    forget_shadow(shadow);
    cache->shadow = NULL;
    PyObject *known = get_attribute(entry, s_code);
    PyObject *stepped = get_attribute(entry, s_stepped);
    PyObject *dropping = get_attribute(entry, s_dropping);
    int fits = known == cache->known && stepped == Py_True && dropping == Py_None
               && take_attribute(&shadow->values, entry, s_values) == 0
               && PyDict_CheckExact(shadow->values)
               && take_attribute(&shadow->ids, entry, s_ids) == 0
               && PyDict_CheckExact(shadow->ids)
               && take_attribute(&shadow->leaves, entry, s_leaves) == 0
               && PyDict_CheckExact(shadow->leaves);
    Py_XDECREF(known);
    Py_XDECREF(stepped);
    Py_XDECREF(dropping);
    Packed header = {NULL, 0, sizeof header.inline_bytes, {0}};
    header.bytes = header.inline_bytes;
    if (!fits || pack_header(&header, cache->thread, entry, cache->known) < 0) {
        forget_shadow(shadow);
        return 0;
    }
    memcpy(shadow->header, header.bytes, header.size);
    shadow->header_size = header.size;
    shadow->entry = Py_NewRef(entry);
    shadow->known = Py_NewRef(cache->known);
    shadow->line = -1;
    cache->shadow = shadow;
    return 1;
}

/* The shadow the cache keeps of ``entry``, or NULL. */
static Shadow *
kept_shadow(GeneratorCache *cache, PyObject *entry)
{
    for (int i = 0; i < 2; i++) {
        if (cache->shadows[i].entry == entry)
            return &cache->shadows[i];
    }
    return NULL;
}

/* The table of a code the recorder follows, whose step may be native, with the cache
 * read as of the recorder's step now and ``*planned`` its code's record; NULL if the step
 * is the Python recorder's. A code it does not follow (a call of the standard library's,
 * a handler of pytest's) gets no table. */
static CodeTable *
step_table(NativeSteps *self, PyObject *code, PyFrameObject *frame, Planned **planned)
{
    if (!runs_code(frame, code))
        return NULL;
    PyObject *buffer = get_attribute(self->recorder, s_line_buffer);
    Py_XDECREF(buffer); /* the recorder holds it: compared, or held by the cache */
    long step;
    if (buffer == NULL || buffer == Py_None || !unlocked_untraced(self)
        || long_attribute(self->recorder, s_step, &step) < 0)
        return NULL;
    GeneratorCache *cache = &self->generators;
    int cached = cache->valid && cache->buffer == buffer && cache->step == step
                 && cache->ident == PyThread_get_thread_ident();
    if ((!cached && !fill_generators(self, cache, buffer, step))
        || (*planned = followed_code(cache, code)) == NULL)
        return NULL;
    CodeTable *table = code_table(self, code);
    return table == NULL || table->unsupported || !table->secret_free ? NULL : table;
}

/* The table of a generator's code whose step may be native (step_table), planned at the
 * calls level; NULL if the step is the Python recorder's. */
static CodeTable *
generator_table(NativeSteps *self, PyObject *code, PyFrameObject *frame)
{
    Planned *planned;
    CodeTable *table = step_table(self, code, frame, &planned);
    return table != NULL && !planned->stepped_lines ? table : NULL;
}

/* The locals of a generator's frame that changed since its last step, as
 * Recorder._check_rebound and then _check_names of its parameters find them: each local
 * bound to something else than what was recorded of it (the object behind its ref, the
 * very form recorded, or the leaf of its key), when it is a scalar or an int beyond
 * msgpack's range (whose form goes to ``made``, see note_scalar_change) of another form.
 * Their count, or -1 if the step is the Python recorder's: a local deleted or bound to
 * anything else. The parameters still holding their objects go to ``walked``
 * (``n_walked`` of them): the Python recorder walks those at each step. */
static int
changed_locals(NativeSteps *self, PyObject *varnames, Py_ssize_t n_params, PyObject *values,
               PyObject *ids, PyObject *leaves, PyObject **locals, int *changed,
               PyObject **made, int *walked, int *n_walked)
{
    int n_changed = 0;
    *n_walked = 0;
    Py_ssize_t shortest = -1;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(varnames); i++) {
        PyObject *name = PyTuple_GET_ITEM(varnames, i);
        PyObject *value = locals[i];
        PyObject *key = PyDict_GetItemWithError(ids, name);
        if (key == NULL && PyErr_Occurred())
            goto python;
        if (key != NULL && value != NULL && PyLong_AsVoidPtr(key) == value) {
            if (i < n_params) {
                if (*n_walked == MAX_NAMES)
                    goto python;
                walked[(*n_walked)++] = (int)i;
            }
            continue;
        }
        PyObject *old = PyDict_GetItemWithError(values, name);
        if (old == NULL && PyErr_Occurred())
            goto python;
        if (value == old)
            continue;
        if (value == NULL)
            goto python;
        int leaf = same_leaf(leaves, name, value);
        if (leaf < 0
            || (!leaf
                && note_scalar_change(self, (int)i, value, old, &shortest, changed,
                                      &n_changed, made) < 0))
            goto python;
    }
    return n_changed;
python:
    release_made(made, n_changed);
    return -1;
}

/* Whether the objects of a generator's parameters (``walked``, by index into its locals)
 * are unchanged, as the walk of the Python recorder finds them at each step of a frame
 * without line events (Recorder._check_names of its parameters): walked_unchanged.
 *
 * A walk that finds a change has recorded it in the table, which keeps it for the step:
 * the step is then the Python recorder's, whose own walk of the same parameters, in the
 * same order, finds what this one reached already walked and takes the changes. */
static int
parameters_unchanged(Walks *walks, PyObject *values, PyObject *varnames,
                     PyObject **locals, const int *walked, int n_walked)
{
    for (int w = 0; w < n_walked; w++) {
        PyObject *name = PyTuple_GET_ITEM(varnames, walked[w]);
        if (!walked_unchanged(walks, values, name, locals[walked[w]], 1))
            return 0;
    }
    return 1;
}

/* The form of ``value`` (a new reference), {"$ref": number}, if it is an object whose
 * form the table recorded, walked as the Python recorder walks it (ObjectTable.form) and
 * found unchanged; ``*number`` its number. NULL with no error set otherwise (another
 * object, or a change the walk found and recorded, which the Python step takes). */
static PyObject *
known_ref(Walks *walks, PyObject *value, long *number)
{
    PyObject *key = PyLong_FromVoidPtr(value);
    int known = key ? PyDict_Contains(walks->records, key) : -1;
    Py_XDECREF(key);
    PyObject *form = known == 1 ? walked_form(walks, value, 1) : NULL;
    PyObject *ref = form != NULL && PyDict_CheckExact(form) && PyDict_GET_SIZE(form) == 1
                        ? PyDict_GetItemWithError(form, s_ref) : NULL;
    *number = ref != NULL && PyLong_CheckExact(ref) ? PyLong_AsLong(ref) : -1;
    PyErr_Clear();
    if (*number < 0)
        Py_CLEAR(form);
    return form;
}

/* What a step that returns or yields ``value`` records of it (Recorder._add_value): -1
 * in ``*number`` for a scalar, its own form, or for an int beyond msgpack's range or a
 * leaf whose form its key tells (leaf_form), the form made of it (``*made``, a new
 * reference); the number of an object known_ref finds unchanged. 1, or 0 if the step is
 * the Python recorder's. */
static int
value_form(NativeSteps *self, GeneratorCache *cache, PyObject *value, PyObject **made,
           long *number)
{
    *number = -1;
    Py_ssize_t shortest = -1;
    int scalar = is_scalar(self, value, &shortest);
    if (scalar != 0) {
        PyErr_Clear();
        return scalar > 0;
    }
    if ((*made = int_form(self, value)) != NULL || (*made = leaf_form(self, value)) != NULL)
        return 1;
    PyObject *form = known_ref(&cache->walks, value, number);
    Py_XDECREF(form);
    return form != NULL;
}

/* Whether a caller stepped line by line, calling a frame or resuming a generator from
 * another instruction than at its last look, has nothing to catch up (Recorder._catch_up):
 * it is still on the line last recorded, and each local that line names is the very scalar
 * (or the leaf) recorded, or the object recorded, unchanged as the Python recorder walks
 * (a deep name) or looks at it (same_object). */
static int
caller_unchanged(NativeSteps *self, PyObject *caller, PyFrameObject *back)
{
    long line;
    PyCodeObject *code = PyFrame_GetCode(back);
    Py_DECREF(code); /* the frame holds it */
    CodeTable *table = code_table(self, (PyObject *)code);
    if (table == NULL || long_attribute(caller, s_line, &line) < 0
        || frame_line(table, back) != line)
        return 0;
    const LineTable *names = line_table(table, line);
    if (names->python)
        return 0;
    PyObject *values = get_attribute(caller, s_values);
    PyObject *ids = get_attribute(caller, s_ids);
    PyObject *leaves = get_attribute(caller, s_leaves);
    Py_XDECREF(values); /* the caller's shadow holds them */
    Py_XDECREF(ids);
    Py_XDECREF(leaves);
    if (values == NULL || ids == NULL || leaves == NULL || !PyDict_CheckExact(values)
        || !PyDict_CheckExact(ids) || !PyDict_CheckExact(leaves))
        return 0;
    PyObject **locals = _PyFrame_GetLocalsArray(back->f_frame);
    const int *groups[2] = {names->deep, names->shallow};
    int sizes[2] = {names->n_deep, names->n_shallow};
    for (int g = 0; g < 2; g++) {
        for (int i = 0; i < sizes[g]; i++) {
            PyObject *name = PyTuple_GET_ITEM(table->varnames, groups[g][i]);
            PyObject *value = locals[groups[g][i]];
            PyObject *old = PyDict_GetItemWithError(values, name);
            if (value != old
                && (value == NULL
                    || (same_leaf(leaves, name, value) != 1
                        && !same_object(&self->generators.walks, ids, values, name, value,
                                        g == 0))))
                return 0;
        }
    }
    return 1;
}

/* Whether a caller without line events calling or resuming a frame has nothing to catch
 * up (Recorder._catch_up) but its line and locals rebound to scalars (``move``, see
 * CallerMove): each other local is bound to what was recorded of it (the object behind
 * its ref, the very scalar, or the leaf of its key), and, unless it resumes a generator
 * again from the instruction of its last look (``yield from``, or a C function resuming it
 * in a loop), the walk of its parameters finds no change. ``*moved`` is set if its line is
 * another than recorded or a local was rebound (the event says so). The move holds what
 * it read until forget_move, whatever the answer. */
static int
caller_caught_up(NativeSteps *self, PyObject *caller, PyFrameObject *back, int again,
                 CallerMove *move, int *moved)
{
    long line;
    PyCodeObject *code = PyFrame_GetCode(back);
    Py_DECREF(code); /* the frame holds it */
    CodeTable *table = code_table(self, (PyObject *)code);
    if (table == NULL || table->unsupported || !table->secret_free
        || long_attribute(caller, s_line, &line) < 0
        || long_attribute(caller, s_frame_no, &move->frame_no) < 0)
        return 0;
    move->line = frame_line(table, back);
    move->names = table->names;
    PyObject *values = move->values = get_attribute(caller, s_values);
    PyObject *ids = move->ids = get_attribute(caller, s_ids);
    PyObject *leaves = move->leaves = get_attribute(caller, s_leaves);
    Py_XDECREF(values); /* the caller's shadow holds them */
    Py_XDECREF(ids);
    Py_XDECREF(leaves);
    if (values == NULL || ids == NULL || leaves == NULL || !PyDict_CheckExact(values)
        || !PyDict_CheckExact(ids) || !PyDict_CheckExact(leaves)
        || !read_values(&move->read, table, back)) {
        PyErr_Clear();
        return 0;
    }
    PyObject **locals = move->read.values;
    int walked[MAX_NAMES], n_walked = 0, alike = 1;
    Py_ssize_t shortest = -1;
    for (Py_ssize_t i = 0; alike && i < PyTuple_GET_SIZE(table->names); i++) {
        PyObject *name = PyTuple_GET_ITEM(table->names, i);
        PyObject *value = locals[i];
        int same = same_binding(ids, values, leaves, name, value);
        if (same == 1) {
            PyObject *key = i < table->n_params && !again ? PyDict_GetItemWithError(ids, name)
                                                          : NULL;
            if (key != NULL && n_walked == MAX_NAMES)
                alike = 0;
            else if (key != NULL)
                walked[n_walked++] = (int)i;
            continue;
        }
        /* Rebound: to a scalar of another form, a change of its own; deleted, or bound to
         * anything else, a step of the Python recorder's. */
        PyObject *old = same == 0 && value != NULL ? PyDict_GetItemWithError(values, name)
                                                   : NULL;
        alike = same == 0 && value != NULL && !PyErr_Occurred()
                && note_scalar_change(self, (int)i, value, old, &shortest, move->changed,
                                      &move->n_changed, move->made) == 0;
    }
    PyErr_Clear();
    *moved = move->line != line || move->n_changed > 0;
    return alike
           && parameters_unchanged(&self->generators.walks, values, table->names, locals,
                                   walked, n_walked);
}

/* Whether the packed event would close the open chunk (RingBuffer.append), or is the first
 * of a chunk: such a step is the Python recorder's, which closes chunks under its lock. */
static int
closes_chunk(NativeSteps *self, long count, long per_chunk, PyObject *data, int has_payload,
             const Packed *packed)
{
    return count < 1 || count + 1 >= per_chunk
           || ((has_payload || !((count + 1) & 63))
               && PyByteArray_GET_SIZE(data) + packed->size >= self->chunk_target_bytes);
}

/* A step other than a line step was written: the cache holds one step on, and so does
 * the line step's view if it was read as of the step before (what the step changed is not
 * in it). */
static void
wrote_step(NativeSteps *self)
{
    GeneratorCache *cache = &self->generators;
    if (self->cache.valid && self->cache.view.step == cache->step) {
        self->cache.view.step += 1;
        self->cache.view.count += 1;
    }
    cache->step += 1;
    cache->count += 1;
}

/* Whether the cells of the thread's other frames with cells than ``entry`` and ``caller``
 * (NULL: none) hold what their shadows recorded: a step of a frame with cells checks them
 * (Recorder._record_step, _check_cells), and one that finds a change is Python's. 1, or
 * 0 for the Python recorder. */
static int
other_cells_unchanged(NativeSteps *self, GeneratorCache *cache, PyObject *entry,
                      PyObject *caller)
{
    PyObject *frames = get_attribute(cache->thread, s_cell_frames);
    int unchanged = frames != NULL && PyList_CheckExact(frames);
    for (Py_ssize_t f = 0; unchanged && f < PyList_GET_SIZE(frames); f++) {
        PyObject *held = PyList_GET_ITEM(frames, f);
        if (held == entry || held == caller)
            continue;
        PyObject *frame = get_attribute(held, s_frame);
        PyObject *stepped = get_attribute(held, s_stepped);
        PyObject *values = get_attribute(held, s_values);
        PyObject *ids = get_attribute(held, s_ids);
        PyObject *leaves = get_attribute(held, s_leaves);
        CodeTable *table = NULL;
        FrameValues read = {NULL, 0, {NULL}};
        if (frame == NULL || stepped == NULL)
            unchanged = 0;
        else if (frame != Py_None && stepped == Py_True) {
            PyCodeObject *code = PyFrame_Check(frame) ? PyFrame_GetCode((PyFrameObject *)frame)
                                                      : NULL;
            Py_XDECREF(code); /* the frame holds it */
            table = code ? code_table(self, (PyObject *)code) : NULL;
            unchanged = table != NULL && !table->unsupported && table->has_cells
                        && values != NULL && ids != NULL && leaves != NULL
                        && read_values(&read, table, (PyFrameObject *)frame);
        }
        const char *kinds = unchanged && table ? PyBytes_AS_STRING(table->kinds) : NULL;
        for (Py_ssize_t i = 0; kinds && unchanged && i < PyTuple_GET_SIZE(table->names); i++) {
            if (kinds[i] & (FAST_CELL | FAST_FREE))
                unchanged = same_binding(ids, values, leaves, PyTuple_GET_ITEM(table->names, i),
                                          read.values[i]) == 1;
        }
        release_values(&read);
        Py_XDECREF(frame);
        Py_XDECREF(stepped);
        Py_XDECREF(values);
        Py_XDECREF(ids);
        Py_XDECREF(leaves);
    }
    Py_XDECREF(frames);
    PyErr_Clear();
    return unchanged;
}

/* ``entry`` enters (``enters``) or leaves the thread's frames with cells, as it enters or
 * leaves its stack (_Thread.push, _Thread.pop): 0, or -1 with an exception set. */
static int
move_cell_frame(GeneratorCache *cache, PyObject *entry, int enters)
{
    PyObject *frames = get_attribute(cache->thread, s_cell_frames);
    int status = frames == NULL ? -1 : 0;
    if (status == 0 && !PyList_CheckExact(frames)) {
        PyErr_SetString(PyExc_TypeError, "a thread's cell_frames is not a list");
        status = -1;
    }
    else if (status == 0 && enters)
        status = PyList_Append(frames, entry);
    else if (status == 0) {
        Py_ssize_t at = PyList_GET_SIZE(frames) - 1;
        while (at >= 0 && PyList_GET_ITEM(frames, at) != entry)
            at--;
        status = at >= 0 ? PyList_SetSlice(frames, at, at + 1, NULL) : 0;
    }
    Py_XDECREF(frames);
    return status;
}

/* What a generator's step packs and records in its frame's shadow, in the recorder's step
 * count and in the open chunk, with ``value`` under ``value_key`` if it is not NULL: 1
 * recorded, 0 for the Python recorder (nothing changed), -1 on an error after the step
 * began to change state. */
static int
generator_step(NativeSteps *self, CodeTable *table, PyObject *entry, PyFrameObject *frame,
               long kind, PyObject *caller, const CallerMove *moved, PyObject *value_key,
               PyObject *value)
{
    GeneratorCache *cache = &self->generators;
    FrameValues read;
    if (!generator_entry(cache, entry)
        || (table->has_cells && !other_cells_unchanged(self, cache, entry, caller))
        || !read_values(&read, table, frame))
        return 0;
    Shadow *shadow = cache->shadow;
    PyObject *names = table->names;
    PyObject **locals = read.values;
    int changed[MAX_NAMES], walked[MAX_NAMES], n_walked;
    PyObject *made[MAX_NAMES], *value_made = NULL;
    int n_changed = changed_locals(self, names, table->n_params, shadow->values,
                                   shadow->ids, shadow->leaves, locals, changed, made, walked,
                                   &n_walked);
    long line = frame_line(table, frame);
    Packed packed = {NULL, 0, sizeof packed.inline_bytes, {0}};
    packed.bytes = packed.inline_bytes;
    int result = 0;
    long value_ref = -1;
    if (n_changed < 0
        || !parameters_unchanged(&cache->walks, shadow->values, names, locals, walked, n_walked)
        || (value != NULL && !value_form(self, cache, value, &value_made, &value_ref))
        || pack_event(self, &packed, cache->step + 1, kind, shadow->header,
                      shadow->header_size, line, names, locals, changed, made, n_changed,
                      moved, value_key, value, value_made, value_ref) < 0
        || closes_chunk(self, cache->count, cache->per_chunk, cache->data,
                        n_changed > 0 || moved != NULL || value != NULL, &packed))
        goto done;
    result = -1;
    /* Its line and its unset mark (calling_at) are written once: they change only at its
     * steps, and a Python step reads the recorder again. */
    if (store_changed(shadow->values, shadow->ids, shadow->leaves, names, locals, changed,
                      made, n_changed) < 0
        || (line != shadow->line
            && (set_long(entry, s_line, line) < 0 || set_long(entry, s_calling_at, -1) < 0))
        || append_event(self, cache->events, cache->data, cache->step + 1, cache->count,
                        &packed) < 0)
        goto done;
    shadow->line = line;
    wrote_step(self);
    result = 1;
done:
    if (packed.bytes != packed.inline_bytes)
        PyMem_Free(packed.bytes);
    if (n_changed > 0)
        release_made(made, n_changed);
    Py_XDECREF(value_made);
    release_values(&read);
    return result;
}

/* The caller of a frame being called or resumed: the top of the shadow stack. */
typedef struct {
    PyObject *caller;   /* borrowed: the stack holds it */
    long calling_at;    /* its instruction at its last look (Recorder._catch_up) */
    long at;            /* its instruction now */
    CallerMove move;
    int moved;          /* whether its line is another than recorded (``move``) */
} CallerLook;

/* Whether the caller of ``frame``, which calls it or (``resuming``) resumes it, has
 * nothing to catch up (Recorder._catch_up) but, maybe, its line and rebound scalars: it
 * is the top of the shadow stack, and it is unchanged as caller_unchanged (stepped line by
 * line) or caller_caught_up (without line events) find it. At the same instruction as at
 * its last look, a caller resuming a generator again has not run, if it is stepped line
 * by line. 1, with what it read held until forget_move of ``look->move``; or 0 for the
 * Python recorder. */
static int
look_at_caller(NativeSteps *self, PyFrameObject *frame, int resuming, CallerLook *look)
{
    PyObject *stack = self->generators.stack;
    if (PyList_GET_SIZE(stack) == 0)
        return 0;
    look->caller = PyList_GET_ITEM(stack, PyList_GET_SIZE(stack) - 1);
    look->moved = 0;
    look->move.n_changed = 0;
    look->move.read.held = 0;
    PyFrameObject *back = PyFrame_GetBack(frame);
    PyObject *caller_frame = get_attribute(look->caller, s_frame);
    PyObject *caller_known = get_attribute(look->caller, s_code);
    PyObject *stepped_lines = caller_known ? get_attribute(caller_known, s_stepped_lines)
                                           : NULL;
    int ready = back != NULL && caller_frame == (PyObject *)back && stepped_lines != NULL
                && long_attribute(look->caller, s_calling_at, &look->calling_at) == 0;
    if (ready) {
        look->at = PyFrame_GetLasti(back);
        int again = resuming && look->calling_at == look->at;
        ready = stepped_lines == Py_True
                    ? again || caller_unchanged(self, look->caller, back)
                    : caller_caught_up(self, look->caller, back, again, &look->move,
                                       &look->moved);
    }
    PyErr_Clear();
    Py_XDECREF(back);
    Py_XDECREF(caller_frame);
    Py_XDECREF(caller_known);
    Py_XDECREF(stepped_lines);
    if (!ready)
        forget_move(&look->move);
    return ready;
}

/* The caller looked at, caught up as the step it called or resumed is recorded: its line
 * if it moved, its rebound locals, and its instruction (Recorder._catch_up). 0, or -1 on
 * an error. */
static int
caller_looked_at(NativeSteps *self, const CallerLook *look)
{
    PyObject *caller = look->caller;
    const CallerMove *move = &look->move;
    if (look->moved
        && (set_long(caller, s_line, move->line) < 0
            || store_changed(move->values, move->ids, move->leaves, move->names,
                             move->read.values, move->changed, move->made, move->n_changed)
                   < 0))
        return -1;
    /* A generator caller's next step writes its line and mark again (generator_step). */
    Shadow *kept = kept_shadow(&self->generators, caller);
    if (kept != NULL)
        kept->line = -1;
    /* The caller has caught up at this instruction; its next line step unsets the mark. */
    if (look->calling_at != look->at) {
        if (self->cache.valid && self->cache.view.entry == caller)
            self->cache.view.calling_at_marked = 1;
        if (set_long(caller, s_calling_at, look->at) < 0)
            return -1;
    }
    return 0;
}

/* ``entry`` enters the shadow stack as the shadow of ``frame`` (Recorder._record_step);
 * the frame's references are counted as the Python recorder counts them, which the
 * callback's frame local adds to (Recorder._release_locals compares them as it returns).
 * 0, or -1 on an error. */
static int
enter_frame(NativeSteps *self, const CodeTable *table, PyObject *entry, PyFrameObject *frame)
{
    GeneratorCache *cache = &self->generators;
    return set_attribute(entry, s_frame, (PyObject *)frame) < 0
                   || PyList_Append(cache->stack, entry) < 0
                   || (table->has_cells && move_cell_frame(cache, entry, 1) < 0)
                   || set_long(entry, s_frame_refs, (long)(Py_REFCNT(frame) + self->own_refs))
                          < 0
               ? -1
               : 0;
}

/* A generator resumed by a caller (or by a C function it called) with nothing to catch
 * up: 1 recorded, 0 for the Python recorder (nothing changed yet), -1 on an error after
 * the step began to change state. */
static int
try_resume(NativeSteps *self, PyObject *code, PyFrameObject *frame)
{
    GeneratorCache *cache = &self->generators;
    cache->walks.walked = 0;
    CodeTable *table = generator_table(self, code, frame);
    CallerLook look;
    if (table == NULL || !look_at_caller(self, frame, 1, &look))
        return end_walks(&cache->walks, 0);
    PyObject *frame_id = PyLong_FromVoidPtr(frame);
    PyObject *entry = frame_id ? Py_XNewRef(PyDict_GetItemWithError(cache->suspended, frame_id))
                               : NULL;
    int result = 0;
    if (entry != NULL)
        result = generator_step(self, table, entry, frame, self->resume_kind, look.caller,
                                look.moved ? &look.move : NULL, NULL, NULL);
    if (result == 1
        && (caller_looked_at(self, &look) < 0 || PyDict_DelItem(cache->suspended, frame_id) < 0
            || enter_frame(self, table, entry, frame) < 0))
        result = -1;
    forget_move(&look.move);
    Py_XDECREF(frame_id);
    Py_XDECREF(entry);
    return end_walks(&cache->walks, result);
}

/* The forms of a called frame's parameters, as its first step records them
 * (Recorder._check_frame: ``_check_names`` of its parameters on a shadow with none): each
 * a scalar, or in ``made`` (by position among the ``changed``) the form made of an int
 * beyond msgpack's range, or the ref of an object the table knows, walked and found
 * unchanged (known_ref). Their count, or -1 if the step is the Python recorder's (an
 * unbound parameter, another value, or a change the walk found). */
static int
parameter_forms(NativeSteps *self, const CodeTable *table, PyObject **locals, int *changed,
                PyObject **made)
{
    int n_changed = 0;
    Py_ssize_t shortest = -1;
    for (int i = 0; i < table->n_params; i++) {
        PyObject *value = locals[i];
        if (value == NULL || n_changed == MAX_NAMES)
            goto python;
        if (note_scalar_change(self, i, value, NULL, &shortest, changed, &n_changed, made) == 0)
            continue;
        PyErr_Clear();
        long number;
        if ((made[n_changed] = known_ref(&self->generators.walks, value, &number)) == NULL)
            goto python;
        changed[n_changed++] = i;
    }
    return n_changed;
python:
    release_made(made, n_changed);
    return -1;
}

/* A new shadow of ``frame``, numbered ``frame_no``, stepped (its parameters' forms go in
 * next): ``_Frame`` as the Python recorder makes it (Recorder._entered_frame, then
 * _check_frame), a new reference. On 3.12, the frame's locals dict is read and emptied,
 * as _read_locals leaves it at a frame's first step (the dict a later step restores). */
static PyObject *
new_shadow(NativeSteps *self, PyObject *known, PyFrameObject *frame, long frame_no, long line)
{
    PyObject *number = PyLong_FromLong(frame_no), *at = PyLong_FromLong(line);
    PyObject *args[4] = {number, known, (PyObject *)frame, at};
    PyObject *entry = number && at ? PyObject_Vectorcall(self->frame_class, args, 4, NULL)
                                   : NULL;
    Py_XDECREF(number);
    Py_XDECREF(at);
    if (entry != NULL && set_attribute(entry, s_stepped, Py_True) < 0)
        Py_CLEAR(entry);
#if PY_VERSION_HEX < 0x030D0000
    PyObject *locals_dict = entry ? PyFrame_GetLocals(frame) : NULL;
    if (locals_dict != NULL && PyDict_Check(locals_dict)) {
        PyDict_Clear(locals_dict);
        if (set_attribute(entry, s_locals_dict, locals_dict) < 0)
            Py_CLEAR(entry);
    }
    else
        Py_CLEAR(entry);
    Py_XDECREF(locals_dict);
#endif
    return entry;
}

/* A frame of a code the recorder follows, called by a caller with nothing to catch up,
 * its parameters scalars or unchanged objects the table knows: 1 recorded, 0 for the
 * Python recorder (nothing changed yet), -1 on an error after the step began to change
 * state. */
static int
try_call(NativeSteps *self, PyObject *code, PyFrameObject *frame)
{
    GeneratorCache *cache = &self->generators;
    cache->walks.walked = 0;
    Planned *planned;
    CodeTable *table = step_table(self, code, frame, &planned);
    /* The first call of the code a Hypothesis test restarts from is the Python recorder's. */
    if (table == NULL || code == cache->restart_code || table->n_params > MAX_NAMES)
        return 0;
    CallerLook look;
    FrameValues read;
    if (!look_at_caller(self, frame, 0, &look))
        return end_walks(&cache->walks, 0);
    if (!read_values(&read, table, frame)) {
        forget_move(&look.move);
        return end_walks(&cache->walks, 0);
    }
    PyObject *known = planned->known;
    int changed[MAX_NAMES];
    PyObject *made[MAX_NAMES];
    int n_changed = parameter_forms(self, table, read.values, changed, made);
    long line = frame_line(table, frame), frame_no = -1;
    Packed header = {NULL, 0, sizeof header.inline_bytes, {0}};
    header.bytes = header.inline_bytes;
    Packed packed = {NULL, 0, sizeof packed.inline_bytes, {0}};
    packed.bytes = packed.inline_bytes;
    PyObject *entry = NULL;
    int result = 0;
    if (n_changed < 0 || long_attribute(self->recorder, s_next_frame_no, &frame_no) < 0
        || pack_attribute(&header, cache->thread, s_number) < 0
        || pack_long(&header, frame_no + 1) < 0 || pack_attribute(&header, known, s_number) < 0
        || pack_event(self, &packed, cache->step + 1, self->call_kind, header.bytes,
                      header.size, line, table->names, read.values, changed, made, n_changed,
                      look.moved ? &look.move : NULL, NULL, NULL, NULL, -1) < 0
        || closes_chunk(self, cache->count, cache->per_chunk, cache->data, 1, &packed))
        goto done;
    result = -1;
    entry = new_shadow(self, known, frame, frame_no + 1, line);
    PyObject *values = entry ? get_attribute(entry, s_values) : NULL;
    PyObject *ids = entry ? get_attribute(entry, s_ids) : NULL;
    PyObject *leaves = entry ? get_attribute(entry, s_leaves) : NULL;
    Py_XDECREF(values); /* the new shadow holds them */
    Py_XDECREF(ids);
    Py_XDECREF(leaves);
    if (values == NULL || ids == NULL || leaves == NULL
        || store_changed(values, ids, leaves, table->names, read.values, changed, made,
                         n_changed) < 0
        || set_long(self->recorder, s_next_frame_no, frame_no + 1) < 0
        || caller_looked_at(self, &look) < 0 || enter_frame(self, table, entry, frame) < 0
        || append_event(self, cache->events, cache->data, cache->step + 1, cache->count,
                        &packed) < 0)
        goto done;
    wrote_step(self);
    result = 1;
done:
    if (packed.bytes != packed.inline_bytes)
        PyMem_Free(packed.bytes);
    if (header.bytes != header.inline_bytes)
        PyMem_Free(header.bytes);
    if (n_changed > 0)
        release_made(made, n_changed);
    Py_XDECREF(entry);
    release_values(&read);
    forget_move(&look.move);
    return end_walks(&cache->walks, result);
}

/* Whether ``entry`` is the shadow of ``frame``. */
static int
shadows(PyObject *entry, PyFrameObject *frame)
{
    PyObject *entry_frame = get_attribute(entry, s_frame);
    Py_XDECREF(entry_frame); /* compared only */
    PyErr_Clear();
    return entry_frame == (PyObject *)frame;
}

/* A generator yielding a scalar: 1 recorded, 0 for the Python recorder, -1 on an error
 * after the step began to change state. */
static int
try_yield(NativeSteps *self, PyObject *code, PyFrameObject *frame, PyObject *value)
{
    GeneratorCache *cache = &self->generators;
    cache->walks.walked = 0;
    CodeTable *table = generator_table(self, code, frame);
    if (table == NULL || PyList_GET_SIZE(cache->stack) == 0
        || PyDict_GET_SIZE(cache->suspended) >= self->max_suspended)
        return 0;
    Py_ssize_t depth = PyList_GET_SIZE(cache->stack);
    PyObject *entry = Py_NewRef(PyList_GET_ITEM(cache->stack, depth - 1));
    PyObject *frame_id = PyLong_FromVoidPtr(frame);
    int result = 0;
    if (shadows(entry, frame) && frame_id != NULL)
        result = generator_step(self, table, entry, frame, self->yield_kind, NULL, NULL,
                                self->returned_key, value);
    /* The frame leaves the shadow stack for the suspended ones (Recorder._suspend). */
    if (result == 1
        && (PyList_SetSlice(cache->stack, depth - 1, depth, NULL) < 0
            || (table->has_cells && move_cell_frame(cache, entry, 0) < 0)
            || set_attribute(entry, s_frame, Py_None) < 0
            || PyDict_SetItem(cache->suspended, frame_id, entry) < 0))
        result = -1;
    Py_XDECREF(frame_id);
    Py_DECREF(entry);
    return end_walks(&cache->walks, result);
}

/* Whether an object a returning frame's locals hold may die as the frame is cleared,
 * which the Python recorder notes (Recorder._release_locals): only when nothing but the
 * recorder holds the frame object (its references as counted when the frame was
 * entered), and the frame's bindings to the object are all its references (as
 * ``_held_by_bindings_alone`` counts them, without the references of its own reading).
 * A cell is not looked into: what it holds is the Python recorder's to let go of neither
 * (a closure may hold the cell). */
static int
locals_may_die(NativeSteps *self, PyObject *entry, PyObject *ids, const CodeTable *table,
               PyObject **locals, PyFrameObject *frame)
{
    long frame_refs;
    if (PyDict_GET_SIZE(ids) == 0)
        return 0;
    if (long_attribute(entry, s_frame_refs, &frame_refs) < 0) {
        PyErr_Clear();
        return 1;
    }
    if ((long)(Py_REFCNT(frame) + self->own_refs) != frame_refs)
        return 0;
    Py_ssize_t n = PyTuple_GET_SIZE(table->varnames);
    const char *kinds = PyBytes_AS_STRING(table->kinds);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value = locals[i];
        if (value == NULL || _Py_IsImmortal(value) || (kinds[i] & (FAST_CELL | FAST_FREE)))
            continue;
        Py_ssize_t bindings = 0;
        for (Py_ssize_t j = 0; j < n; j++)
            bindings += locals[j] == value;
        if (Py_REFCNT(value) <= bindings)
            return 1;
    }
    return 0;
}

/* A frame without line events returning a scalar or an unchanged object it knows, with
 * nothing of its locals to forget (and, for a frame with cells, the other frames' cells
 * unchanged): 1 recorded, 0 for the Python recorder, -1 on an error after the step began
 * to change state. */
static int
try_return(NativeSteps *self, PyObject *code, PyFrameObject *frame, PyObject *value)
{
    GeneratorCache *cache = &self->generators;
    cache->walks.walked = 0;
    CodeTable *table = generator_table(self, code, frame);
    if (table == NULL || PyList_GET_SIZE(cache->stack) == 0 || code == cache->restart_code)
        return 0;
    Py_ssize_t depth = PyList_GET_SIZE(cache->stack);
    PyObject *entry = Py_NewRef(PyList_GET_ITEM(cache->stack, depth - 1));
    int result = 0;
    if (shadows(entry, frame) && generator_entry(cache, entry)
        && !locals_may_die(self, entry, cache->shadow->ids, table,
                           _PyFrame_GetLocalsArray(frame->f_frame), frame))
        result = generator_step(self, table, entry, frame, self->return_kind, NULL, NULL,
                                self->returned_key, value);
    /* The frame leaves the shadow stack (Recorder._record_step). */
    if (result == 1
        && (PyList_SetSlice(cache->stack, depth - 1, depth, NULL) < 0
            || (table->has_cells && move_cell_frame(cache, entry, 0) < 0)
            || set_attribute(entry, s_frame, Py_None) < 0
            || set_attribute(entry, s_locals_dict, Py_None) < 0))
        result = -1;
    if (result == 1) { /* a frame that left: the next one may take its address */
        Shadow *kept = kept_shadow(cache, entry);
        if (kept != NULL)
            forget_shadow(kept);
        if (kept == cache->shadow)
            cache->shadow = NULL;
    }
    Py_DECREF(entry);
    return end_walks(&cache->walks, result);
}

/* A frame without line events that handled an exception the table knows, unchanged
 * since (the step of its raise numbered it): 1 recorded, 0 for the Python recorder, -1 on
 * an error after the step began to change state. */
static int
try_handled(NativeSteps *self, PyObject *code, PyFrameObject *frame, PyObject *exception)
{
    GeneratorCache *cache = &self->generators;
    cache->walks.walked = 0;
    CodeTable *table = generator_table(self, code, frame);
    if (table == NULL || PyList_GET_SIZE(cache->stack) == 0)
        return 0;
    PyObject *entry = Py_NewRef(PyList_GET_ITEM(cache->stack,
                                                PyList_GET_SIZE(cache->stack) - 1));
    int result = 0;
    if (shadows(entry, frame))
        result = generator_step(self, table, entry, frame, self->handled_kind, NULL, NULL,
                                self->exception_key, exception);
    Py_DECREF(entry);
    return end_walks(&cache->walks, result);
}

/* -- the callbacks -------------------------------------------------------------------- */

/* What a callback returns once its step was tried: None for a step recorded; a fault of
 * the recorder for half a step; the Python callback's answer for a step left to it. */
static PyObject *
finish(NativeSteps *self, int result, Py_ssize_t *recorded, PyObject *fallback,
       PyObject *const *args, Py_ssize_t nargs)
{
    if (result == 1) {
        *recorded += 1;
        Py_RETURN_NONE;
    }
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
    return PyObject_Vectorcall(fallback, args, nargs, NULL);
}

static PyObject *
stepper_start(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "a start takes (code, offset)");
        return NULL;
    }
    int result = try_call(self, args[0], PyEval_GetFrame());
    return finish(self, result, &self->call_steps, self->on_start, args, nargs);
}

static PyObject *
stepper_resume(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "a resume takes (code, offset)");
        return NULL;
    }
    int result = try_resume(self, args[0], PyEval_GetFrame());
    return finish(self, result, &self->generator_steps, self->on_resume, args, nargs);
}

/* The step that a callback with a value takes (a yield, a return, a handled exception). */
typedef int (*ValueStep)(NativeSteps *, PyObject *, PyFrameObject *, PyObject *);

/* A callback of (code, offset, value): the step tried here, else by ``fallback``. */
static PyObject *
value_callback(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs, ValueStep step,
               Py_ssize_t *recorded, PyObject *fallback)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "the event takes (code, offset, value)");
        return NULL;
    }
    int result = step(self, args[0], PyEval_GetFrame(), args[2]);
    return finish(self, result, recorded, fallback, args, nargs);
}

static PyObject *
stepper_yield(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs)
{
    return value_callback(self, args, nargs, try_yield, &self->generator_steps, self->on_yield);
}

static PyObject *
stepper_return(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs)
{
    return value_callback(self, args, nargs, try_return, &self->return_steps, self->on_return);
}

static PyObject *
stepper_handled(NativeSteps *self, PyObject *const *args, Py_ssize_t nargs)
{
    return value_callback(self, args, nargs, try_handled, &self->handled_steps,
                          self->on_handled);
}

static PyObject *
stepper_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    NativeSteps *self = (NativeSteps *)callable;
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
    return finish(self, result, &self->line_steps, self->fallback, args, nargs);
}

static PyObject *
stepper_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"recorder", "fallback", "locked", "is_tracing", "line_names",
                               "names_secret", "redaction", "max_str", "chunk_target_bytes",
                               "line_kind", "locals_key", "returned_key", "exception_key",
                               "other_frames_key", "call_kind", "resume_kind", "yield_kind",
                               "return_kind", "handled_kind", "own_refs", "max_suspended",
                               "frame_class", "on_start", "on_resume", "on_yield",
                               "on_return", "on_handled", "leaf_forms", NULL};
    PyObject *recorder, *fallback, *locked, *is_tracing, *line_names, *names_secret,
        *redaction, *locals_key, *returned_key, *exception_key, *other_frames_key,
        *frame_class, *on_start, *on_resume, *on_yield, *on_return, *on_handled, *leaf_forms;
    Py_ssize_t max_str, chunk_target_bytes, own_refs, max_suspended;
    long line_kind, call_kind, resume_kind, yield_kind, return_kind, handled_kind;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$OOOOOOOnnlUUUUlllllnnOOOOOOO!:NativeSteps",
                                     keywords, &recorder, &fallback, &locked, &is_tracing,
                                     &line_names, &names_secret, &redaction, &max_str,
                                     &chunk_target_bytes, &line_kind, &locals_key,
                                     &returned_key, &exception_key, &other_frames_key,
                                     &call_kind, &resume_kind, &yield_kind, &return_kind,
                                     &handled_kind, &own_refs, &max_suspended, &frame_class,
                                     &on_start, &on_resume, &on_yield, &on_return,
                                     &on_handled, &PyDict_Type, &leaf_forms))
        return NULL;
    NativeSteps *self = (NativeSteps *)type->tp_alloc(type, 0);
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
    self->returned_key = Py_NewRef(returned_key);
    self->exception_key = Py_NewRef(exception_key);
    self->other_frames_key = Py_NewRef(other_frames_key);
    self->frame_class = Py_NewRef(frame_class);
    self->on_start = Py_NewRef(on_start);
    self->on_resume = Py_NewRef(on_resume);
    self->on_yield = Py_NewRef(on_yield);
    self->on_return = Py_NewRef(on_return);
    self->on_handled = Py_NewRef(on_handled);
    self->leaf_forms = Py_NewRef(leaf_forms);
    self->call_kind = call_kind;
    self->resume_kind = resume_kind;
    self->yield_kind = yield_kind;
    self->return_kind = return_kind;
    self->handled_kind = handled_kind;
    self->own_refs = own_refs;
    self->max_suspended = max_suspended;
    self->generation = next_generation++;
    return (PyObject *)self;
}

static int
stepper_traverse(NativeSteps *self, visitproc visit, void *arg)
{
    Py_VISIT(self->recorder);
    Py_VISIT(self->fallback);
    Py_VISIT(self->locked);
    Py_VISIT(self->is_tracing);
    Py_VISIT(self->line_names);
    Py_VISIT(self->names_secret);
    Py_VISIT(self->redaction);
    Py_VISIT(self->locals_key);
    Py_VISIT(self->returned_key);
    Py_VISIT(self->exception_key);
    Py_VISIT(self->other_frames_key);
    Py_VISIT(self->frame_class);
    Py_VISIT(self->on_start);
    Py_VISIT(self->on_resume);
    Py_VISIT(self->on_yield);
    Py_VISIT(self->on_return);
    Py_VISIT(self->on_handled);
    Py_VISIT(self->leaf_forms);
    Py_VISIT(self->cache.view.buffer);
    Py_VISIT(self->cache.view.entry);
    Py_VISIT(self->cache.view.values);
    Py_VISIT(self->cache.view.ids);
    Py_VISIT(self->cache.view.events);
    Py_VISIT(self->cache.view.data);
    Py_VISIT(self->cache.view.by_id);
    Py_VISIT(self->generators.buffer);
    Py_VISIT(self->generators.events);
    Py_VISIT(self->generators.data);
    Py_VISIT(self->generators.thread);
    Py_VISIT(self->generators.stack);
    Py_VISIT(self->generators.suspended);
    Py_VISIT(self->generators.codes);
    for (int i = 0; i < 2; i++) {
        Py_VISIT(self->generators.planned[i].known);
        Py_VISIT(self->generators.shadows[i].entry);
        Py_VISIT(self->generators.shadows[i].known);
        Py_VISIT(self->generators.shadows[i].values);
        Py_VISIT(self->generators.shadows[i].ids);
        Py_VISIT(self->generators.shadows[i].leaves);
    }
    return 0;
}

static int
stepper_clear(NativeSteps *self)
{
    Py_CLEAR(self->recorder);
    Py_CLEAR(self->fallback);
    Py_CLEAR(self->locked);
    Py_CLEAR(self->is_tracing);
    Py_CLEAR(self->line_names);
    Py_CLEAR(self->names_secret);
    Py_CLEAR(self->redaction);
    Py_CLEAR(self->locals_key);
    Py_CLEAR(self->returned_key);
    Py_CLEAR(self->exception_key);
    Py_CLEAR(self->other_frames_key);
    Py_CLEAR(self->frame_class);
    Py_CLEAR(self->on_start);
    Py_CLEAR(self->on_resume);
    Py_CLEAR(self->on_yield);
    Py_CLEAR(self->on_return);
    Py_CLEAR(self->on_handled);
    Py_CLEAR(self->leaf_forms);
    forget_cache(self);
    forget_generators(&self->generators);
    return 0;
}

static void
stepper_dealloc(NativeSteps *self)
{
    PyObject_GC_UnTrack(self);
    stepper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
stepper_forget(NativeSteps *self, PyObject *Py_UNUSED(ignored))
{
    forget_cache(self);
    forget_generators(&self->generators);
    Py_RETURN_NONE;
}

static PyMethodDef stepper_methods[] = {
    {"start", (PyCFunction)(void (*)(void))stepper_start, METH_FASTCALL,
     PyDoc_STR("The PY_START callback: a call, here or by on_start.")},
    {"resume", (PyCFunction)(void (*)(void))stepper_resume, METH_FASTCALL,
     PyDoc_STR("The PY_RESUME callback: a generator's resume, here or by on_resume.")},
    {"yield_", (PyCFunction)(void (*)(void))stepper_yield, METH_FASTCALL,
     PyDoc_STR("The PY_YIELD callback: a generator's yield, here or by on_yield.")},
    {"return_", (PyCFunction)(void (*)(void))stepper_return, METH_FASTCALL,
     PyDoc_STR("The PY_RETURN callback: a return, here or by on_return.")},
    {"handled", (PyCFunction)(void (*)(void))stepper_handled, METH_FASTCALL,
     PyDoc_STR("The EXCEPTION_HANDLED callback: a handled exception, here or by on_handled.")},
    {"forget", (PyCFunction)stepper_forget, METH_NOARGS,
     PyDoc_STR("Read the recorder afresh at the next step: a test begins or ends.")},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef stepper_members[] = {
    {"line_steps", Py_T_PYSSIZET, offsetof(NativeSteps, line_steps), Py_READONLY,
     PyDoc_STR("The line steps recorded here rather than by the Python recorder.")},
    {"call_steps", Py_T_PYSSIZET, offsetof(NativeSteps, call_steps), Py_READONLY,
     PyDoc_STR("The calls recorded here rather than by the Python recorder.")},
    {"generator_steps", Py_T_PYSSIZET, offsetof(NativeSteps, generator_steps), Py_READONLY,
     PyDoc_STR("The resumes and yields recorded here rather than by the Python recorder.")},
    {"return_steps", Py_T_PYSSIZET, offsetof(NativeSteps, return_steps), Py_READONLY,
     PyDoc_STR("The returns recorded here rather than by the Python recorder.")},
    {"handled_steps", Py_T_PYSSIZET, offsetof(NativeSteps, handled_steps), Py_READONLY,
     PyDoc_STR("The handled exceptions recorded here rather than by the Python recorder.")},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject NativeStepsType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_scope.capture._steps.NativeSteps",
    .tp_doc = PyDoc_STR("The LINE callback for the steps whose meaning is the forms of "
                        "scalars; the rest goes to the Python recorder's fast callback."),
    .tp_basicsize = sizeof(NativeSteps),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_new = stepper_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(NativeSteps, vectorcall),
    .tp_traverse = (traverseproc)stepper_traverse,
    .tp_clear = (inquiry)stepper_clear,
    .tp_dealloc = (destructor)stepper_dealloc,
    .tp_methods = stepper_methods,
    .tp_members = stepper_members,
};

static struct PyModuleDef steps_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._steps",
    .m_doc = PyDoc_STR("The native line and generator steps (see the top of _steps.c)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__steps(void)
{
    if (intern_names() < 0 || PyType_Ready(&NativeStepsType) < 0)
        return NULL;
    if (code_extra_index < 0) {
        code_extra_index = PyUnstable_Eval_RequestCodeExtraIndex(free_code_table);
        if (code_extra_index < 0) {
            PyErr_SetString(PyExc_RuntimeError, "no code extra index left");
            return NULL;
        }
    }
    PyObject *module = PyModule_Create(&steps_module);
    if (module == NULL)
        return NULL;
    if (PyModule_AddObjectRef(module, "NativeSteps", (PyObject *)&NativeStepsType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
