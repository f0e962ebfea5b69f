/* Which locals of a frame were rebound since its last step: the check a step of a frame
 * without line events makes of every binding (Recorder._check_bindings), in C.
 *
 * Through the 3.13 frame-locals proxy, reading one local scans the code's names for it,
 * so checking every local of a function costs the square of their number (a function of
 * 151 locals: about 30 us a step). Here the frame's locals are read in one pass, by index,
 * and each compared with what the frame's shadow last recorded of it: a local whose
 * recorded form refers to an object (``ids``) is rebound if it holds another object now,
 * any other local if it is not the very object recorded as its form (``values``), nor the
 * leaf recorded (``leaves``, _leaves.h).
 *
 * It reads the interpreter's frame through the internal headers of 3.12 and 3.13, which it
 * is built for, and is used only with the compiled recorder (capture/recorder.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if PY_VERSION_HEX < 0x030C0000 || PY_VERSION_HEX >= 0x030E0000
#error "the rebinding check reads the frames of CPython 3.12 and 3.13 only"
#endif

#define Py_BUILD_CORE 1
#include "internal/pycore_frame.h"
#undef Py_BUILD_CORE

#include "_leaves.h"

/* The kinds of a code's locals (Include/internal/pycore_code.h). */
#define FAST_CELL 0x40
#define FAST_FREE 0x80

static PyObject *
rebound_names(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyFrame_Check(args[0]) || !PyDict_CheckExact(args[1])
        || !PyDict_CheckExact(args[2]) || !PyDict_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "rebound_names(frame, ids, values, leaves)");
        return NULL;
    }
    PyFrameObject *frame = (PyFrameObject *)args[0];
    PyObject *ids = args[1], *values = args[2], *leaves = args[3];
    PyCodeObject *code = PyFrame_GetCode(frame);
    if (!(code->co_flags & CO_OPTIMIZED)) {
        Py_DECREF(code);
        PyErr_SetString(PyExc_ValueError, "the frame of a function only");
        return NULL;
    }
    PyObject *names = code->co_localsplusnames;
    PyObject *kinds = code->co_localspluskinds;
    PyObject **locals = _PyFrame_GetLocalsArray(frame->f_frame);
    PyObject *found = PyList_New(0);
    for (Py_ssize_t i = 0; found != NULL && i < PyTuple_GET_SIZE(names); i++) {
        PyObject *value = locals[i];
        unsigned char kind = (unsigned char)PyBytes_AS_STRING(kinds)[i];
        if (value != NULL && (kind & (FAST_CELL | FAST_FREE)) && PyCell_Check(value))
            value = PyCell_GET(value);
        PyObject *name = PyTuple_GET_ITEM(names, i);
        int same = same_binding(ids, values, leaves, name, value);
        if (same < 0 || (!same && PyList_Append(found, name) < 0))
            Py_CLEAR(found);
    }
    Py_DECREF(code);
    if (found == NULL)
        return NULL;
    PyObject *result = PyList_AsTuple(found);
    Py_DECREF(found);
    return result;
}

static PyObject *
leaf_key(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "leaf_key(value, form, opaque)");
        return NULL;
    }
    int opaque = PyObject_IsTrue(args[2]);
    return opaque < 0 ? NULL : leaf_key_of(args[0], args[1], opaque);
}

static PyObject *
is_leaf(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "is_leaf(value, key)");
        return NULL;
    }
    return PyBool_FromLong(leaf_matches(args[0], args[1]));
}

static PyMethodDef rebinding_methods[] = {
    {"rebound_names", (PyCFunction)(void (*)(void))rebound_names, METH_FASTCALL,
     PyDoc_STR("rebound_names(frame, ids, values, leaves): the locals of a function's frame "
               "rebound since the forms its shadow recorded, in the order of its locals.")},
    {"leaf_key", (PyCFunction)(void (*)(void))leaf_key, METH_FASTCALL,
     PyDoc_STR("leaf_key(value, form, opaque): the key of a leaf value recorded as form "
               "(see _leaves.h), or None; opaque: whether a form of its type alone is keyed.")},
    {"is_leaf", (PyCFunction)(void (*)(void))is_leaf, METH_FASTCALL,
     PyDoc_STR("is_leaf(value, key): whether value is the leaf of that key.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef rebinding_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "pytest_scope.capture._rebinding",
    .m_doc = PyDoc_STR("The rebinding check of a frame's locals (see the top of _rebinding.c)."),
    .m_size = 0,
    .m_methods = rebinding_methods,
};

PyMODINIT_FUNC
PyInit__rebinding(void)
{
    return PyModuleDef_Init(&rebinding_module);
}
