/* The walk of the objects a step reaches (ObjectTable._check_pending), in C, and the
 * check it makes of each: whether the object still holds the parts recorded of it.
 *
 * As Python, confirming that an object is unchanged builds the list of its parts (its
 * first items, a dict's or a namespace's first keys then first values, then its slots) and
 * compares them one by one with those recorded; most checks find nothing changed, and the
 * list is thrown away. Here the parts are read where the object keeps them, without
 * building anything: ``children_if_same`` answers with the object's children at the
 * positions recorded (the objects below it, which the walk checks in turn), or None when
 * the size or a part differs, or a slot is of a kind it does not read.
 *
 * It reads through the public macros, ``PyDict_Next`` and the slots' member descriptors,
 * none of which runs code of a subclass, and is used only with the compiled object table
 * (capture/objects.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

/* Parts kept on the stack: 32 keys and 32 values, and a few slots. */
#define PARTS_ON_STACK 80

/* The number of ``items``' parts: a list's or a tuple's first ``count`` items, a dict's
 * first ``count`` keys and as many values, none for None. */
static Py_ssize_t
items_count(PyObject *items, Py_ssize_t count)
{
    if (items == Py_None)
        return 0;
    return PyDict_Check(items) ? 2 * count : count;
}

/* Write ``items``' parts to ``parts``: 0, or -1 on an error. A set's are its first
 * ``count`` in the order of set's own iterator (``set.__iter__``, as Python reads them),
 * which runs no code of a subclass. */
static int
read_items(PyObject *items, Py_ssize_t count, PyObject **parts)
{
    if (PyAnySet_Check(items)) {
        PyObject *iterator = PySet_Type.tp_iter(items);
        if (iterator == NULL)
            return -1;
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *item = PyIter_Next(iterator);
            if (item == NULL) {
                Py_DECREF(iterator);
                if (!PyErr_Occurred())
                    PyErr_SetString(PyExc_RuntimeError, "a set shorter than its size");
                return -1;
            }
            parts[i] = item;  /* the set holds it: borrowed from here on */
            Py_DECREF(item);
        }
        Py_DECREF(iterator);
    }
    else if (PyList_Check(items)) {
        for (Py_ssize_t i = 0; i < count; i++)
            parts[i] = PyList_GET_ITEM(items, i);
    }
    else if (PyTuple_Check(items)) {
        for (Py_ssize_t i = 0; i < count; i++)
            parts[i] = PyTuple_GET_ITEM(items, i);
    }
    else if (PyDict_Check(items)) {
        Py_ssize_t position = 0, i = 0;
        PyObject *key, *value;
        while (i < count && PyDict_Next(items, &position, &key, &value)) {
            parts[i] = key;
            parts[count + i] = value;
            i++;
        }
    }
    return 0;
}

/* Write the slots of ``value`` that ``members`` (member descriptors) read to ``parts``:
 * ``unset`` for an unset slot. 0, or -1 for a member of another kind than an object. */
static int
read_slots(PyObject *value, PyObject *members, PyObject *unset, PyObject **parts)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(members); i++) {
        PyObject *descriptor = PyTuple_GET_ITEM(members, i);
        if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type))
            return -1;
        PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
        if ((member->type != Py_T_OBJECT_EX && member->type != _Py_T_OBJECT)
            || (member->flags & Py_RELATIVE_OFFSET))
            return -1;
        PyObject *slot = *(PyObject **)((char *)value + member->offset);
        if (slot == NULL)
            slot = member->type == Py_T_OBJECT_EX ? unset : Py_None;
        parts[i] = slot;
    }
    return 0;
}

/* Whether ``part``, at ``position`` among the parts, is the one recorded there: the very
 * object (``pinned``, a list) or an object of the same id (``ids``, a tuple). */
static inline int
is_recorded(PyObject *part, Py_ssize_t position, PyObject *pinned, PyObject *ids)
{
    if (pinned != Py_None)
        return PyList_GET_ITEM(pinned, position) == part;
    return PyLong_AsVoidPtr(PyTuple_GET_ITEM(ids, position)) == (void *)part;
}

/* The length of ``items`` (a list, tuple, dict or set; 0 for None). */
static Py_ssize_t
length(PyObject *items)
{
    if (items == Py_None)
        return 0;
    if (PyAnySet_Check(items))
        return PySet_GET_SIZE(items);
    return PyDict_Check(items) ? PyDict_GET_SIZE(items) : Py_SIZE(items);
}

/* The parts at ``child_at``: a new tuple. */
static PyObject *
children_at(PyObject **parts, Py_ssize_t parts_count, PyObject *child_at)
{
    Py_ssize_t children = PyTuple_GET_SIZE(child_at);
    PyObject *result = PyTuple_New(children);
    for (Py_ssize_t i = 0; result != NULL && i < children; i++) {
        Py_ssize_t position = PyLong_AsSsize_t(PyTuple_GET_ITEM(child_at, i));
        if (position < 0 || position >= parts_count) {
            Py_CLEAR(result);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_IndexError, "a child's position is past the parts");
            break;
        }
        PyTuple_SET_ITEM(result, i, Py_NewRef(parts[position]));
    }
    return result;
}

/* The children of ``value`` at ``child_at`` (a new tuple) if it holds the parts recorded:
 * ``first`` unless NULL (an exception's args), its ``items`` (a list, tuple, dict or set,
 * or None) of ``size``, then, unless ``more`` is NULL, the items of ``more`` (a container's
 * namespace) of ``more_size``, each read up to ``limit``, then the slots ``members`` read.
 * None (a new reference) when a part differs; NULL on an error. */
static PyObject *
children_if_same(PyObject *first, PyObject *items, Py_ssize_t size, PyObject *more,
                 Py_ssize_t more_size, Py_ssize_t limit, PyObject *value, PyObject *members,
                 PyObject *unset, PyObject *pinned, PyObject *ids, PyObject *child_at)
{
    if (length(items) != size || (more != NULL && length(more) != more_size))
        Py_RETURN_NONE;
    Py_ssize_t count = size < limit ? size : limit;
    Py_ssize_t more_count = more_size < limit ? more_size : limit;
    Py_ssize_t before = first != NULL;
    Py_ssize_t from_more = before + items_count(items, count);
    Py_ssize_t from_slots = from_more + (more != NULL ? items_count(more, more_count) : 0);
    Py_ssize_t parts_count = from_slots + PyTuple_GET_SIZE(members);
    if (Py_SIZE(pinned != Py_None ? pinned : ids) != parts_count)
        Py_RETURN_NONE;

    PyObject *on_stack[PARTS_ON_STACK];
    PyObject **parts = on_stack;
    if (parts_count > PARTS_ON_STACK && (parts = PyMem_New(PyObject *, parts_count)) == NULL)
        return PyErr_NoMemory();
    PyObject *result = Py_None;
    parts[0] = first;
    if (read_items(items, count, parts + before) < 0
        || (more != NULL && read_items(more, more_count, parts + from_more) < 0)) {
        result = NULL;
        goto done;
    }
    if (read_slots(value, members, unset, parts + from_slots) < 0)
        goto done;
    for (Py_ssize_t i = 0; i < parts_count; i++) {
        if (!is_recorded(parts[i], i, pinned, ids))
            goto done;
    }
    result = children_at(parts, parts_count, child_at);
done:
    if (parts != on_stack)
        PyMem_Free(parts);
    return result == Py_None ? Py_NewRef(Py_None) : result;
}

/* The walk: ``Walker.run`` is ObjectTable._check_pending, in C.
 *
 * A step checks each object it reaches (depth first, within the node budget) and most of
 * them are unchanged: confirming one and queueing its children is all the walk does for
 * them, and that is what it does here, with no Python call. Anything else goes to the
 * table's Python methods, which decide as they do without this walk: an object whose
 * parts differ, or of a kind the check does not read, is checked by ``_check``; a child
 * the table does not know (or under an id it knew for another object) is reached by
 * ``_reach``; an object met once the budget is spent goes to ``_spent``.
 *
 * What it needs of a known object it reads from one tuple, the object's record
 * (``ObjectTable._walk_record``), which the table keeps by id beside its entries for each
 * object whose form it recorded: reading the compiled entry's attributes one by one would
 * cost more than the check itself. An object it queues carries its record along. */

/* The fields of a record, in order. */
enum {
    R_KNOWN,      /* the table's entry of it (an ``_Object``) */
    R_KIND,       /* the object's type */
    R_ALIVE,      /* a weak reference to it, or None */
    R_FOREIGN,    /* True for an instance of a class from outside the project */
    R_WHOLE,      /* True for a bytearray, which shows whole at any depth */
    R_ITEMS,      /* where its items are: one of the ITEMS_ below */
    R_GETTER,     /* its namespace's getter (ITEMS_NAMESPACE), else None */
    R_NAMESPACE,  /* the id of the namespace recorded (ITEMS_NAMESPACE), else 0 */
    R_SIZE,       /* its items' number recorded */
    R_MEMBERS,    /* its slots' member descriptors */
    R_PINNED,     /* its parts recorded, where all are immutable scalars, else None; the
                   * bytes recorded of a bytearray (ITEMS_BYTES) */
    R_IDS,        /* else the ids of its parts recorded */
    R_CHILD_AT,   /* the positions of its children among its parts */
    R_NAMESPACE_SIZE, /* its namespace's number of items recorded (ITEMS_SELF_NAMESPACE) */
    R_FIELDS
};

/* Where an object's items are read from. */
enum {
    ITEMS_PYTHON = 0,    /* nowhere: the object is checked by ``_check`` */
    ITEMS_SELF = 1,      /* a list, tuple, dict or set: the object itself */
    ITEMS_NAMESPACE = 2, /* an instance: its namespace (``__dict__``) */
    ITEMS_NONE = 3,      /* an instance without a namespace: its slots alone */
    ITEMS_BYTES = 4,     /* a bytearray: its length (R_SIZE) and first bytes (R_PINNED) */
    ITEMS_EXCEPTION = 5, /* an exception: its args, then its namespace, as ITEMS_NAMESPACE */
    ITEMS_SELF_NAMESPACE = 6, /* a list, tuple or set with a namespace: its items, then the
                               * namespace's, as ITEMS_NAMESPACE reads it */
};

/* Whether a bytearray still has the length and the first bytes recorded of it (as many as
 * were recorded: its shape in ObjectTable._parts). */
static int
same_bytes(PyObject *value, Py_ssize_t size, PyObject *recorded)
{
    if (!PyByteArray_CheckExact(value) || !PyBytes_CheckExact(recorded)
        || PyByteArray_GET_SIZE(value) != size || PyBytes_GET_SIZE(recorded) > size)
        return 0;
    return memcmp(PyByteArray_AS_STRING(value), PyBytes_AS_STRING(recorded),
                  (size_t)PyBytes_GET_SIZE(recorded)) == 0;
}

typedef struct {
    PyObject_HEAD
    PyObject *pending;  /* the table's queue: (value, known, depth) */
    PyObject *reached;  /* the depth each object was checked at this step, by id */
    PyObject *held;     /* the objects reached this step */
    PyObject *unset;    /* the table's mark of an unset slot */
    PyObject *check;    /* ObjectTable._check */
    PyObject *reach;    /* ObjectTable._reach */
    PyObject *spent;    /* ObjectTable._spent */
    Py_ssize_t max_depth, max_items, max_nodes;
    Py_ssize_t unchanged; /* the objects this walk confirmed unchanged */
} Walker;

#define FIELD(record, field) PyTuple_GET_ITEM(record, field)

/* The record under ``key`` in ``records`` (borrowed), or NULL with no error set when there
 * is none. */
static PyObject *
record_of(PyObject *records, PyObject *key)
{
    PyObject *record = PyDict_GetItemWithError(records, key);
    if (record != NULL && !(PyTuple_CheckExact(record) && PyTuple_GET_SIZE(record) == R_FIELDS))
        return NULL;
    return record;
}

/* Whether ``alive`` (None, or a weak reference) still gives ``value``; -1 on an error. */
static int
still_refers_to(PyObject *alive, PyObject *value)
{
    if (alive == Py_None)
        return 1;
    if (!PyWeakref_CheckRef(alive))
        return 0;
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *target;
    if (PyWeakref_GetRef(alive, &target) < 0)
        return -1;
    Py_XDECREF(target);
    return target == value;
#else
    return PyWeakref_GetObject(alive) == value;
#endif
}

/* ``_reach(value, None, depth)``, as Python. */
static int
reach_in_python(Walker *self, PyObject *value, Py_ssize_t depth)
{
    PyObject *depth_object = PyLong_FromSsize_t(depth);
    if (depth_object == NULL)
        return -1;
    PyObject *args[3] = {value, Py_None, depth_object};
    PyObject *result = PyObject_Vectorcall(self->reach, args, 3, NULL);
    Py_DECREF(depth_object);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

static PyObject *unchanged_children(Walker *self, PyObject *value, PyObject *record);

/* Whether ``value``, under the id of its ``record``, is surely the object recorded there as
 * far as its parts tell (ObjectTable._another_at): 1; 0 when Python decides; -1 on an
 * error. Only a tuple or an exception is told by its parts: a tuple holds the parts
 * recorded, an exception the args recorded, unchanged. A tuple's children go to
 * ``*children`` (a new tuple) unless it is NULL: its check then has them already. */
static int
same_by_parts(Walker *self, PyObject *records, PyObject *value, PyObject *record,
              PyObject **children)
{
    if (PyTuple_CheckExact(value)) {
        PyObject *found = unchanged_children(self, value, record);
        int same = found == NULL ? -1 : found != Py_None;
        if (same == 1 && children != NULL)
            *children = Py_NewRef(found);
        Py_XDECREF(found);
        return same;
    }
    if (!PyExceptionInstance_Check(value))
        return 1;
    PyObject *ids = FIELD(record, R_IDS);
    PyObject *args = ((PyBaseExceptionObject *)value)->args;
    if (PyLong_AsLong(FIELD(record, R_ITEMS)) != ITEMS_EXCEPTION || !PyTuple_Check(ids)
        || PyTuple_GET_SIZE(ids) == 0 || args == NULL || !PyTuple_CheckExact(args)
        || PyLong_AsVoidPtr(PyTuple_GET_ITEM(ids, 0)) != (void *)args)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *key = PyLong_FromVoidPtr(args);
    if (key == NULL)
        return -1;
    PyObject *args_record = Py_XNewRef(record_of(records, key));
    Py_DECREF(key);
    if (args_record == NULL)
        return PyErr_Occurred() ? -1 : 0;
    int same = FIELD(args_record, R_KIND) == (PyObject *)&PyTuple_Type
                   ? same_by_parts(self, records, args, args_record, NULL) : 0;
    Py_DECREF(args_record);
    return same;
}

/* The record of ``value`` (a new reference) if the table knows it as the object recorded
 * under its id: its type's, the weak reference's still, and, where its parts tell it from
 * another, holding them (a tuple's children then go to ``*children``, a new tuple). NULL
 * with no error set for any other object, which Python reaches. */
static PyObject *
known_record(Walker *self, PyObject *records, PyObject *key, PyObject *value,
             PyObject **children)
{
    PyObject *record = Py_XNewRef(record_of(records, key));
    if (record == NULL)
        return NULL;
    int same = (PyObject *)Py_TYPE(value) == FIELD(record, R_KIND)
        ? still_refers_to(FIELD(record, R_ALIVE), value) : 0;
    if (same > 0)
        same = same_by_parts(self, records, value, record, children);
    if (same <= 0)
        Py_CLEAR(record);
    return record;
}

/* Whether ``value`` (under ``key``) was reached at ``depth`` or above already this step:
 * 1; 0 if not, having marked it reached at ``depth`` (and held it, met for the first time),
 * as ``_reach`` does; -1 on an error. ``*depth_object`` is ``depth`` boxed (a new reference)
 * when it returns 0. */
static int
reached_already(Walker *self, PyObject *value, PyObject *key, Py_ssize_t depth,
                PyObject **depth_object)
{
    PyObject *was = PyDict_GetItemWithError(self->reached, key);
    if (was == NULL && PyErr_Occurred())
        return -1;
    if (was != NULL && PyLong_AsSsize_t(was) <= depth)
        return 1;
    *depth_object = PyLong_FromSsize_t(depth);
    if (*depth_object == NULL || (was == NULL && PyList_Append(self->held, value) < 0)
        || PyDict_SetItem(self->reached, key, *depth_object) < 0) {
        Py_CLEAR(*depth_object);
        return -1;
    }
    return 0;
}

/* Mark ``value`` (under ``key``, its ``record``) reached at ``depth`` and queue it, as
 * ``_reach`` does for an object the table knows: 0, or -1 on an error. */
static int
queue_known(Walker *self, PyObject *value, PyObject *key, PyObject *record,
            PyObject *children, Py_ssize_t depth)
{
    PyObject *depth_object = NULL;
    int already = reached_already(self, value, key, depth, &depth_object);
    if (already != 0)
        return already < 0 ? -1 : 0;
    int status = 0;
    if ((depth < self->max_depth && !(depth && FIELD(record, R_FOREIGN) == Py_True))
        || FIELD(record, R_WHOLE) == Py_True) {
        PyObject *item = children != NULL
            ? PyTuple_Pack(5, value, FIELD(record, R_KNOWN), depth_object, record, children)
            : PyTuple_Pack(4, value, FIELD(record, R_KNOWN), depth_object, record);
        status = item == NULL || PyList_Append(self->pending, item) < 0 ? -1 : 0;
        Py_XDECREF(item);
    }
    Py_DECREF(depth_object);
    return status;
}

/* ``_reach(value, None, depth)``: an object the table knows, with its form recorded, is
 * marked reached and queued here; any other goes to Python. */
static int
reach(Walker *self, PyObject *records, PyObject *value, Py_ssize_t depth, int deep)
{
    PyObject *key = PyLong_FromVoidPtr(value);
    if (key == NULL)
        return -1;
    PyObject *children = NULL;
    PyObject *record = known_record(self, records, key, value, &children);
    int status;
    if (record == NULL)
        status = PyErr_Occurred() ? -1 : reach_in_python(self, value, depth);
    else
        status = depth && !deep ? 0 : queue_known(self, value, key, record, children, depth);
    Py_DECREF(key);
    Py_XDECREF(record);
    Py_XDECREF(children);
    return status;
}

/* ``value``'s namespace (a new reference) if it is the dict recorded; None (a new
 * reference) if not; NULL on an error. */
static PyObject *
recorded_namespace(PyObject *value, PyObject *record)
{
    PyObject *namespace = PyObject_CallOneArg(FIELD(record, R_GETTER), value);
    if (namespace == NULL)
        return NULL;
    if (!PyDict_CheckExact(namespace)
        || PyLong_AsVoidPtr(FIELD(record, R_NAMESPACE)) != (void *)namespace) {
        Py_DECREF(namespace);
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    }
    return namespace;
}

/* Whether ``value`` is a container whose items the walk reads itself. */
static int
is_container(PyObject *value)
{
    return PyList_Check(value) || PyTuple_Check(value) || PyDict_Check(value)
           || PyAnySet_Check(value);
}

/* The children of ``value`` if its record says it is unchanged (a new tuple), else None
 * (a new reference); NULL on an error. */
static PyObject *
unchanged_children(Walker *self, PyObject *value, PyObject *record)
{
    PyObject *members = FIELD(record, R_MEMBERS), *pinned = FIELD(record, R_PINNED);
    PyObject *ids = FIELD(record, R_IDS), *child_at = FIELD(record, R_CHILD_AT);
    long where = PyLong_AsLong(FIELD(record, R_ITEMS));
    Py_ssize_t size = PyLong_AsSsize_t(FIELD(record, R_SIZE));
    Py_ssize_t more_size = PyLong_AsSsize_t(FIELD(record, R_NAMESPACE_SIZE));
    if (PyErr_Occurred())
        return NULL;
    if (where == ITEMS_BYTES)
        return same_bytes(value, size, pinned) ? PyTuple_New(0) : Py_NewRef(Py_None);
    if (!PyTuple_Check(members) || !PyTuple_Check(child_at)
        || !(pinned == Py_None ? PyTuple_Check(ids) : PyList_Check(pinned)))
        Py_RETURN_NONE;
    PyObject *items, *first = NULL, *more = NULL;
    if (where == ITEMS_SELF && is_container(value))
        items = Py_NewRef(value);
    else if (where == ITEMS_NONE)
        items = Py_NewRef(Py_None);
    else if (where == ITEMS_SELF_NAMESPACE && is_container(value) && !PyDict_Check(value)) {
        more = recorded_namespace(value, record);
        if (more == NULL || more == Py_None)
            return more;
        items = Py_NewRef(value);
    }
    else if (where == ITEMS_NAMESPACE
             || (where == ITEMS_EXCEPTION && PyExceptionInstance_Check(value))) {
        items = recorded_namespace(value, record);
        if (items == NULL || items == Py_None)
            return items;
        if (where == ITEMS_EXCEPTION) { /* its args, as BaseException.args reads them */
            PyObject *args = ((PyBaseExceptionObject *)value)->args;
            first = args != NULL ? args : Py_None;
        }
    }
    else
        Py_RETURN_NONE;
    PyObject *children = children_if_same(first, items, size, more, more_size, self->max_items,
                                          value, members, self->unset, pinned, ids, child_at);
    Py_DECREF(items);
    Py_XDECREF(more);
    return children;
}

/* The record of a queued object: the one it carries, or the one kept under its id for its
 * entry (borrowed); NULL with no error set when there is none. */
static PyObject *
queued_record(PyObject *records, PyObject *item)
{
    if (PyTuple_GET_SIZE(item) >= 4)
        return PyTuple_GET_ITEM(item, 3);
    PyObject *key = PyLong_FromVoidPtr(PyTuple_GET_ITEM(item, 0));
    if (key == NULL)
        return NULL;
    PyObject *record = record_of(records, key);
    Py_DECREF(key);
    return record != NULL && FIELD(record, R_KNOWN) == PyTuple_GET_ITEM(item, 1) ? record : NULL;
}

/* Check one queued object: confirmed unchanged here, or checked by ``_check``. */
static int
check(Walker *self, PyObject *records, PyObject *item, int deep, Py_ssize_t *budget)
{
    PyObject *value = PyTuple_GET_ITEM(item, 0), *known = PyTuple_GET_ITEM(item, 1);
    PyObject *depth_object = PyTuple_GET_ITEM(item, 2);
    Py_ssize_t depth = PyLong_AsSsize_t(depth_object);
    if (depth == -1 && PyErr_Occurred())
        return -1;
    PyObject *record = Py_XNewRef(queued_record(records, item));
    if (record == NULL && PyErr_Occurred())
        return -1;
    PyObject *children;
    if (PyTuple_GET_SIZE(item) == 5) /* a tuple's, found unchanged as it was reached */
        children = Py_NewRef(PyTuple_GET_ITEM(item, 4));
    else
        children = record == NULL ? Py_NewRef(Py_None) : unchanged_children(self, value, record);
    Py_XDECREF(record);
    if (children == NULL)
        return -1;
    if (children != Py_None) {
        self->unchanged++;
        Py_ssize_t count = PyTuple_GET_SIZE(children);
        *budget -= 1 + count;
        for (Py_ssize_t i = 0; deep && i < count; i++) {
            if (reach(self, records, PyTuple_GET_ITEM(children, i), depth + 1, deep) < 0) {
                Py_DECREF(children);
                return -1;
            }
        }
        Py_DECREF(children);
        return 0;
    }
    Py_DECREF(children);
    PyObject *args[3] = {value, known, depth_object};
    PyObject *cost = PyObject_Vectorcall(self->check, args, 3, NULL);
    if (cost == NULL)
        return -1;
    Py_ssize_t nodes = PyLong_AsSsize_t(cost);
    Py_DECREF(cost);
    if (nodes == -1 && PyErr_Occurred())
        return -1;
    *budget -= nodes;
    return 0;
}

/* Check the queued objects, depth first, until the node budget is spent: 0, or -1 on an
 * error. */
static int
run_pending(Walker *self, PyObject *records, int deep)
{
    PyObject *pending = self->pending;
    Py_ssize_t budget = self->max_nodes;
    while (PyList_GET_SIZE(pending) > 0) {
        Py_ssize_t last = PyList_GET_SIZE(pending) - 1;
        /* Popped: the list's reference is the walk's now. */
        PyObject *item = PyList_GET_ITEM(pending, last);
        Py_SET_SIZE(pending, last);
        int status = 0;
        /* (value, known, depth) as the table queues it, then the record when queued here,
         * then a tuple's children when found unchanged as it was reached */
        if (!(PyTuple_CheckExact(item)
              && PyTuple_GET_SIZE(item) >= 3 && PyTuple_GET_SIZE(item) <= 5)) {
            PyErr_SetString(PyExc_TypeError, "a queued object is not (value, known, depth)");
            status = -1;
        }
        if (status == 0 && budget <= 0) {
            PyObject *result = PyObject_CallOneArg(self->spent, PyTuple_GET_ITEM(item, 1));
            Py_XDECREF(result);
            status = result == NULL ? -1 : 0;
        }
        else if (status == 0)
            status = check(self, records, item, deep, &budget);
        Py_DECREF(item);
        if (status < 0)
            return -1;
    }
    return 0;
}

static PyObject *
walker_run(Walker *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "run(records, deep)");
        return NULL;
    }
    int deep = PyObject_IsTrue(args[1]);
    if (deep < 0 || run_pending(self, args[0], deep) < 0)
        return NULL;
    Py_RETURN_NONE;
}

/* ``ObjectTable.form(value)`` of an object the table knows, with its form recorded, from a
 * native step: reached at depth 0, then the deep walk from it. Its entry (the table's
 * ``_Object``, whose ``ref`` is the form); None, having done nothing, for any other
 * object, whose form is the table's to make. The Python the walk calls back walks deep,
 * as ``_deep`` is between steps (ObjectTable.end_step). */
static PyObject *
walker_walk_known(Walker *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "walk_known(records, value)");
        return NULL;
    }
    PyObject *records = args[0], *value = args[1];
    PyObject *key = PyLong_FromVoidPtr(value);
    if (key == NULL)
        return NULL;
    PyObject *children = NULL, *known = NULL;
    PyObject *record = known_record(self, records, key, value, &children);
    if (record == NULL)
        known = PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    else if (queue_known(self, value, key, record, children, 0) == 0
             && run_pending(self, records, 1) == 0)
        known = Py_NewRef(FIELD(record, R_KNOWN));
    Py_DECREF(key);
    Py_XDECREF(record);
    Py_XDECREF(children);
    return known;
}

/* ``ObjectTable.form(value, deep=False)`` of an object the table knows, with its form
 * recorded, from a native step, when its own parts are still those recorded: it is marked
 * reached at depth 0, and nothing below it is looked at. Its entry; None, having done
 * nothing, for any other object or a change, which the table's own check takes. */
static PyObject *
walker_confirm_known(Walker *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "confirm_known(records, value)");
        return NULL;
    }
    PyObject *records = args[0], *value = args[1];
    PyObject *key = PyLong_FromVoidPtr(value);
    if (key == NULL)
        return NULL;
    PyObject *children = NULL, *known = NULL, *depth_object = NULL;
    PyObject *record = known_record(self, records, key, value, &children);
    if (record == NULL) {
        known = PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
        goto done;
    }
    PyObject *found = children != NULL ? Py_NewRef(children)
                                       : unchanged_children(self, value, record);
    if (found == NULL)
        goto done;
    int already = found == Py_None ? 0 : reached_already(self, value, key, 0, &depth_object);
    if (already >= 0)
        known = Py_NewRef(found == Py_None ? Py_None : FIELD(record, R_KNOWN));
    if (found != Py_None && already == 0)
        self->unchanged++;
    Py_DECREF(found);
done:
    Py_DECREF(key);
    Py_XDECREF(record);
    Py_XDECREF(children);
    Py_XDECREF(depth_object);
    return known;
}

/* ``ObjectTable.end_step`` after a native step whose walks found no change: the objects
 * the step reached are let go of (the queue is empty once a walk is over). */
static PyObject *
walker_release(Walker *self, PyObject *Py_UNUSED(ignored))
{
    if (PyList_SetSlice(self->held, 0, PyList_GET_SIZE(self->held), NULL) < 0)
        return NULL;
    PyDict_Clear(self->reached);
    Py_RETURN_NONE;
}

static int
walker_init(Walker *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"pending", "reached", "held", "unset", "check", "reach", "spent",
                               "max_depth", "max_items", "max_nodes", NULL};
    PyObject *pending, *reached, *held, *unset, *check_method, *reach_method, *spent;
    Py_ssize_t max_depth, max_items, max_nodes;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!O!O!OOOOnnn:Walker", keywords,
                                     &PyList_Type, &pending, &PyDict_Type, &reached,
                                     &PyList_Type, &held, &unset, &check_method, &reach_method,
                                     &spent, &max_depth, &max_items, &max_nodes))
        return -1;
    Py_XSETREF(self->pending, Py_NewRef(pending));
    Py_XSETREF(self->reached, Py_NewRef(reached));
    Py_XSETREF(self->held, Py_NewRef(held));
    Py_XSETREF(self->unset, Py_NewRef(unset));
    Py_XSETREF(self->check, Py_NewRef(check_method));
    Py_XSETREF(self->reach, Py_NewRef(reach_method));
    Py_XSETREF(self->spent, Py_NewRef(spent));
    self->max_depth = max_depth;
    self->max_items = max_items;
    self->max_nodes = max_nodes;
    return 0;
}

static int
walker_traverse(Walker *self, visitproc visit, void *arg)
{
    Py_VISIT(self->pending);
    Py_VISIT(self->reached);
    Py_VISIT(self->held);
    Py_VISIT(self->unset);
    Py_VISIT(self->check);
    Py_VISIT(self->reach);
    Py_VISIT(self->spent);
    return 0;
}

static int
walker_clear(Walker *self)
{
    Py_CLEAR(self->pending);
    Py_CLEAR(self->reached);
    Py_CLEAR(self->held);
    Py_CLEAR(self->unset);
    Py_CLEAR(self->check);
    Py_CLEAR(self->reach);
    Py_CLEAR(self->spent);
    return 0;
}

static void
walker_dealloc(Walker *self)
{
    PyObject_GC_UnTrack(self);
    walker_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef walker_methods[] = {
    {"run", (PyCFunction)(void (*)(void))walker_run, METH_FASTCALL,
     PyDoc_STR("run(records, deep): check the queued objects (ObjectTable._check_pending).")},
    {"walk_known", (PyCFunction)(void (*)(void))walker_walk_known, METH_FASTCALL,
     PyDoc_STR("walk_known(records, value): the entry of a known object, walked from; or None.")},
    {"confirm_known", (PyCFunction)(void (*)(void))walker_confirm_known, METH_FASTCALL,
     PyDoc_STR("confirm_known(records, value): the entry of a known object whose own parts "
               "are unchanged; or None.")},
    {"release", (PyCFunction)walker_release, METH_NOARGS,
     PyDoc_STR("release(): let go of the objects reached (ObjectTable.end_step, no change).")},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef walker_members[] = {
    {"unchanged", Py_T_PYSSIZET, offsetof(Walker, unchanged), Py_READONLY,
     PyDoc_STR("The objects the walk confirmed unchanged without a Python call.")},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject WalkerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "pytest_scope.capture._sameparts.Walker",
    .tp_doc = PyDoc_STR("The walk of a step's objects (see the top of _sameparts.c)."),
    .tp_basicsize = sizeof(Walker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)walker_init,
    .tp_dealloc = (destructor)walker_dealloc,
    .tp_traverse = (traverseproc)walker_traverse,
    .tp_clear = (inquiry)walker_clear,
    .tp_methods = walker_methods,
    .tp_members = walker_members,
};

static struct PyModuleDef sameparts_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._sameparts",
    .m_doc = PyDoc_STR("The walk of a step's objects (see the top of _sameparts.c)."),
    .m_size = -1,
};

PyMODINIT_FUNC
PyInit__sameparts(void)
{
    if (PyType_Ready(&WalkerType) < 0)
        return NULL;
    PyObject *module = PyModule_Create(&sameparts_module);
    if (module != NULL && PyModule_AddObjectRef(module, "Walker", (PyObject *)&WalkerType) < 0)
        Py_CLEAR(module);
    return module;
}
