/* Whether an object still holds the parts recorded of it: the check an object that did not
 * change makes at every step that reaches it (ObjectTable._check), in C.
 *
 * As Python, confirming that an object is unchanged builds the list of its parts (its
 * first items, a dict's or a namespace's first keys then first values, then its slots) and
 * compares them one by one with those recorded; most checks find nothing changed, and the
 * list is thrown away. Here the parts are read where the object keeps them, without
 * building anything: ``same_parts`` answers with the object's children at the positions
 * given (the objects below it, which the caller checks in turn), or None when the size or
 * a part differs, or a slot is of a kind it does not read.
 *
 * It reads through the public macros, ``PyDict_Next`` and the slots' member descriptors,
 * none of which runs code of a subclass, and is used only with the compiled object table
 * (capture/objects.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

/* Write ``items``' parts to ``parts``. */
static void
read_items(PyObject *items, Py_ssize_t count, PyObject **parts)
{
    if (PyList_Check(items)) {
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

/* The length of ``items`` (a list, tuple or dict; 0 for None). */
static Py_ssize_t
length(PyObject *items)
{
    if (items == Py_None)
        return 0;
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

static PyObject *
same_parts(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 9
        || !(args[0] == Py_None || PyList_Check(args[0]) || PyTuple_Check(args[0])
             || PyDict_Check(args[0]))
        || !PyLong_Check(args[1]) || !PyLong_Check(args[2]) || !PyTuple_Check(args[4])
        || !(args[6] == Py_None ? PyTuple_Check(args[7]) : PyList_Check(args[6]))
        || !PyTuple_Check(args[8])) {
        PyErr_SetString(PyExc_TypeError, "same_parts(items, size, limit, value, members, unset, "
                                         "pinned, ids, child_at)");
        return NULL;
    }
    PyObject *items = args[0], *value = args[3], *members = args[4], *unset = args[5];
    PyObject *pinned = args[6], *ids = args[7], *child_at = args[8];
    Py_ssize_t size = PyLong_AsSsize_t(args[1]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if ((size == -1 || limit == -1) && PyErr_Occurred())
        return NULL;
    if (length(items) != size)
        Py_RETURN_NONE;
    Py_ssize_t count = size < limit ? size : limit;
    Py_ssize_t from_items = items_count(items, count);
    Py_ssize_t parts_count = from_items + PyTuple_GET_SIZE(members);
    if (Py_SIZE(pinned != Py_None ? pinned : ids) != parts_count)
        Py_RETURN_NONE;

    PyObject *on_stack[PARTS_ON_STACK];
    PyObject **parts = on_stack;
    if (parts_count > PARTS_ON_STACK && (parts = PyMem_New(PyObject *, parts_count)) == NULL)
        return PyErr_NoMemory();
    PyObject *result = Py_None;
    read_items(items, count, parts);
    if (read_slots(value, members, unset, parts + from_items) < 0)
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

static PyMethodDef sameparts_methods[] = {
    {"same_parts", (PyCFunction)(void (*)(void))same_parts, METH_FASTCALL,
     PyDoc_STR("same_parts(items, size, limit, value, members, unset, pinned, ids, child_at): "
               "the parts at child_at if the object holds the parts recorded (pinned "
               "objects, or ids), else None.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sameparts_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._sameparts",
    .m_doc = PyDoc_STR("The unchanged check of an object's parts (see the top of _sameparts.c)."),
    .m_size = 0,
    .m_methods = sameparts_methods,
};

PyMODINIT_FUNC
PyInit__sameparts(void)
{
    return PyModuleDef_Init(&sameparts_module);
}
