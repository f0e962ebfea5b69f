/* Whether a list, tuple or dict still holds the parts recorded of it: the check an object
 * that did not change makes at every step that reaches it (ObjectTable._check), in C.
 *
 * As Python, confirming that an object is unchanged builds the list of its parts (its
 * first items; a dict's first keys, then its first values) and compares them one by one
 * with those recorded; most checks find nothing changed, and the list is thrown away.
 * Here the parts are read where the container keeps them, without building anything:
 * ``same_items`` answers with the object's children at the positions given (the objects
 * below it, which the caller checks in turn), or None when a part, or the size, differs.
 *
 * It reads through the public macros and ``PyDict_Next``, which run no code of a subclass,
 * and is used only with the compiled object table (capture/objects.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Whether ``part``, at ``position`` among the parts, is the one recorded there: the very
 * object (``pinned``, a list) or an object of the same id (``ids``, a tuple). */
static inline int
is_recorded(PyObject *part, Py_ssize_t position, PyObject *pinned, PyObject *ids)
{
    if (pinned != Py_None)
        return PyList_GET_ITEM(pinned, position) == part;
    return PyLong_AsVoidPtr(PyTuple_GET_ITEM(ids, position)) == (void *)part;
}

/* The parts of ``container`` (its first ``count`` items, or a dict's first ``count`` keys
 * then as many values), written to ``parts``. */
static void
read_parts(PyObject *container, Py_ssize_t count, PyObject **parts)
{
    if (PyList_Check(container)) {
        for (Py_ssize_t i = 0; i < count; i++)
            parts[i] = PyList_GET_ITEM(container, i);
    }
    else if (PyTuple_Check(container)) {
        for (Py_ssize_t i = 0; i < count; i++)
            parts[i] = PyTuple_GET_ITEM(container, i);
    }
    else {
        Py_ssize_t position = 0, i = 0;
        PyObject *key, *value;
        while (i < count && PyDict_Next(container, &position, &key, &value)) {
            parts[i] = key;
            parts[count + i] = value;
            i++;
        }
    }
}

/* The length of a list, tuple or dict. */
static Py_ssize_t
length(PyObject *container)
{
    if (PyDict_Check(container))
        return PyDict_GET_SIZE(container);
    return Py_SIZE(container);
}

static PyObject *
same_items(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !(PyList_Check(args[0]) || PyTuple_Check(args[0]) || PyDict_Check(args[0]))
        || !PyLong_Check(args[1]) || !PyLong_Check(args[2])
        || !(args[3] == Py_None ? PyTuple_Check(args[4]) : PyList_Check(args[3]))
        || !PyTuple_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError,
                        "same_items(container, size, limit, pinned, ids, child_at)");
        return NULL;
    }
    PyObject *container = args[0], *pinned = args[3], *ids = args[4], *child_at = args[5];
    Py_ssize_t size = PyLong_AsSsize_t(args[1]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if ((size == -1 || limit == -1) && PyErr_Occurred())
        return NULL;
    if (length(container) != size)
        Py_RETURN_NONE;
    Py_ssize_t count = size < limit ? size : limit;
    Py_ssize_t parts_count = PyDict_Check(container) ? 2 * count : count;
    if (Py_SIZE(pinned != Py_None ? pinned : ids) != parts_count)
        Py_RETURN_NONE;

    PyObject *on_stack[64];
    PyObject **parts = on_stack;
    if (parts_count > 64 && (parts = PyMem_New(PyObject *, parts_count)) == NULL)
        return PyErr_NoMemory();
    read_parts(container, count, parts);
    PyObject *result = Py_None;
    for (Py_ssize_t i = 0; i < parts_count; i++) {
        if (!is_recorded(parts[i], i, pinned, ids))
            goto done;
    }
    Py_ssize_t children = PyTuple_GET_SIZE(child_at);
    result = PyTuple_New(children);
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
done:
    if (parts != on_stack)
        PyMem_Free(parts);
    return result == Py_None ? Py_NewRef(Py_None) : result;
}

static PyMethodDef sameparts_methods[] = {
    {"same_items", (PyCFunction)(void (*)(void))same_items, METH_FASTCALL,
     PyDoc_STR("same_items(container, size, limit, pinned, ids, child_at): the parts at "
               "child_at if the container still holds the parts recorded, else None.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sameparts_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._sameparts",
    .m_doc = PyDoc_STR("The unchanged check of a container's parts (see the top of _sameparts.c)."),
    .m_size = 0,
    .m_methods = sameparts_methods,
};

PyMODINIT_FUNC
PyInit__sameparts(void)
{
    return PyModuleDef_Init(&sameparts_module);
}
