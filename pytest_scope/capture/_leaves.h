/* The key of a leaf: a value recorded by its form (not by a ref) whose form is a function
 * of a few fields that the key holds by value, so that a step can tell it unchanged
 * without encoding it again, and without holding the value (or anything it holds).
 *
 * A local bound to a range or to a builtin method (``seq_index = data.index``) is recorded
 * by value, and nothing about its identity tells the recorder that it is still the value
 * recorded: another one may have been made at the same address since. Encoding it again
 * at each step of its frame cost a tenth of a generator-heavy test. Its key does not
 * depend on its address:
 *
 * - a ``range`` whose start, stop and step are C longs: the three (its form is its repr);
 * - a ``builtin_function_or_method`` bound to nothing, to a module, or to a static type
 *   or one of its instances: its method definition, the type, and the method's name
 *   (its form is its qualified name, which a static type's name and the method's make);
 * - a function, a generator or a coroutine: its type and the address of its qualified
 *   name, a str that its recorded form holds (``leaf_key_of``), so that no other str
 *   can take that address while the key is in use (its form is that name);
 * - a class: the two texts of its form, its metaclass's name and its own, each
 *   ``module.qualname`` as ``values._type_name`` reads them (``type``'s own getters);
 * - a descriptor of a static type (``object.__eq__``, ``dict.get`` read from the class):
 *   its type, the static type and its definition (its form is a function of those);
 * - any other object of a static type whose form shows its type alone (an iterator, as a
 *   generator expression holds: ``<list_iterator object>``): its type, made only when
 *   the form is that and no encoder plugin may summarize it otherwise (``opaque``);
 * - an enum's member: its type's name and its ``_name_``, the two texts of its form
 *   (``ValueEncoder._enum_name``), read from the type and the member's namespace; made
 *   only when the form shows them.
 *
 * Any other value has no key, and is encoded again at each step, as before. With the keys,
 * the check of one binding against its shadow (``same_binding``). Included by the
 * rebinding check (_rebinding.c) and the native steps (_steps.c).
 */
#ifndef PYTEST_SCOPE_LEAVES_H
#define PYTEST_SCOPE_LEAVES_H

#include <Python.h>
#include <string.h>

#define LEAF_KEY_MAX 256 /* a name longer than the rest of this is not keyed */

enum {
    LEAF_RANGE = 1, LEAF_BUILTIN = 2, LEAF_NAMED = 3, LEAF_CLASS = 4, LEAF_DESCRIPTOR = 5,
    LEAF_OPAQUE = 6, LEAF_MEMBER = 7
};

/* The attributes read, interned on first use. */
enum { LEAF_START, LEAF_STOP, LEAF_STEP, LEAF_QUALNAME, LEAF_NAMES };
static PyObject *leaf_names[LEAF_NAMES];

/* ``value``'s attribute ``which`` (a new reference), or NULL with no error set. */
static PyObject *
leaf_attribute(PyObject *value, int which)
{
    static const char *texts[LEAF_NAMES] = {"start", "stop", "step", "__qualname__"};
    if (leaf_names[which] == NULL)
        leaf_names[which] = PyUnicode_InternFromString(texts[which]);
    if (leaf_names[which] == NULL) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *attribute = PyObject_GetAttr(value, leaf_names[which]);
    if (attribute == NULL)
        PyErr_Clear();
    return attribute;
}

/* Whether ``value`` is of a type whose form is its ``__qualname__``, read from the object
 * (exact types: their getter runs no user code). */
static int
leaf_is_named(PyObject *value)
{
    return PyFunction_Check(value) || PyGen_CheckExact(value) || PyCoro_CheckExact(value);
}

/* The three fields of a range, as C longs: 1, or 0 if one is not a C long. */
static int
leaf_range_fields(PyObject *value, long fields[3])
{
    for (int i = 0; i < 3; i++) {
        PyObject *field = leaf_attribute(value, LEAF_START + i);
        if (field == NULL)
            return 0;
        int overflow = 0;
        fields[i] = PyLong_AsLongAndOverflow(field, &overflow);
        Py_DECREF(field);
        if (overflow || (fields[i] == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* ``type.__module__`` as ``type``'s getter reads it (a new reference), or NULL with no
 * error set for none: a heap type's ``__module__`` in its namespace, a static type's from
 * its name. */
static PyObject *
leaf_type_module(PyTypeObject *type)
{
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE)) {
        const char *dot = strrchr(type->tp_name, '.');
        PyObject *module = dot ? PyUnicode_FromStringAndSize(type->tp_name, dot - type->tp_name)
                               : PyUnicode_FromString("builtins");
        if (module == NULL)
            PyErr_Clear();
        return module;
    }
    PyObject *namespace = PyType_GetDict(type);
    PyObject *module = namespace ? PyDict_GetItemString(namespace, "__module__") : NULL;
    Py_XINCREF(module);
    Py_XDECREF(namespace);
    PyErr_Clear();
    return module;
}

/* Write ``type``'s name as ``values._type_name`` makes it (``module.qualname``; the
 * qualified name alone for a module that is not a str, or "builtins") at ``key + *size``,
 * its length first: 1, or 0 if it does not fit in LEAF_KEY_MAX. Never sets an exception. */
static int
leaf_put_type_name(PyTypeObject *type, char *key, Py_ssize_t *size)
{
    PyObject *qualname = PyType_GetQualName(type);
    PyObject *module = qualname ? leaf_type_module(type) : NULL;
    if (module != NULL
        && (!PyUnicode_Check(module) || PyUnicode_CompareWithASCIIString(module, "builtins") == 0))
        Py_CLEAR(module);
    Py_ssize_t module_size = 0, qualname_size = 0;
    const char *module_text = module ? PyUnicode_AsUTF8AndSize(module, &module_size) : "";
    const char *qualname_text = qualname ? PyUnicode_AsUTF8AndSize(qualname, &qualname_size)
                                         : NULL;
    Py_ssize_t length = module_size + (module != NULL) + qualname_size;
    int fits = module_text != NULL && qualname_text != NULL
               && *size + (Py_ssize_t)sizeof length + length <= LEAF_KEY_MAX;
    if (fits) {
        memcpy(key + *size, &length, sizeof length);
        *size += sizeof length;
        memcpy(key + *size, module_text, module_size);
        *size += module_size;
        if (module != NULL)
            key[(*size)++] = '.';
        memcpy(key + *size, qualname_text, qualname_size);
        *size += qualname_size;
    }
    Py_XDECREF(qualname);
    Py_XDECREF(module);
    PyErr_Clear();
    return fits;
}

/* The key of ``value`` by its type's name and the str ``_name_`` in its namespace (an
 * enum's member, whose namespace its type's ``__dict__`` reads, as the encoder reads it),
 * each with its length first, at ``key``: its size, or 0 for a value without such a name
 * or whose texts do not fit. */
static Py_ssize_t
leaf_member_key(PyObject *value, char *key)
{
    if (Py_TYPE(value)->tp_dictoffset == 0)
        return 0;
    PyObject *namespace = PyObject_GenericGetDict(value, NULL);
    PyObject *name = namespace != NULL && PyDict_CheckExact(namespace)
                         ? PyDict_GetItemString(namespace, "_name_") : NULL;
    Py_ssize_t size = 1, length = 0;
    const char *text = name != NULL && PyUnicode_CheckExact(name)
                           ? PyUnicode_AsUTF8AndSize(name, &length) : NULL;
    int fits = text != NULL && leaf_put_type_name(Py_TYPE(value), key, &size)
               && size + (Py_ssize_t)sizeof length + length <= LEAF_KEY_MAX;
    if (fits) {
        key[0] = LEAF_MEMBER;
        memcpy(key + size, &length, sizeof length);
        size += sizeof length;
        memcpy(key + size, text, length);
        size += length;
    }
    Py_XDECREF(namespace);
    PyErr_Clear();
    return fits ? size : 0;
}

/* The definition a descriptor of a static type reads (a method's, a slot wrapper's, a
 * getset's or a member's, static data of that type), or NULL for any other value. */
static const void *
leaf_descriptor_definition(PyObject *value)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind != &PyMethodDescr_Type && kind != &PyClassMethodDescr_Type
        && kind != &PyWrapperDescr_Type && kind != &PyGetSetDescr_Type
        && kind != &PyMemberDescr_Type)
        return NULL;
    PyTypeObject *owner = ((PyDescrObject *)value)->d_type;
    if (owner == NULL || (owner->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return NULL;
    if (kind == &PyWrapperDescr_Type)
        return ((PyWrapperDescrObject *)value)->d_base;
    if (kind == &PyGetSetDescr_Type)
        return ((PyGetSetDescrObject *)value)->d_getset;
    if (kind == &PyMemberDescr_Type)
        return ((PyMemberDescrObject *)value)->d_member;
    return ((PyMethodDescrObject *)value)->d_method;
}

/* ``value``'s key written into ``key`` (LEAF_KEY_MAX bytes): its length, or 0 if
 * ``value`` has none. Never sets an exception. */
static Py_ssize_t
leaf_key_into(PyObject *value, char *key)
{
    Py_ssize_t size = 1;
    if (Py_IS_TYPE(value, &PyRange_Type)) {
        long fields[3];
        if (!leaf_range_fields(value, fields))
            return 0;
        key[0] = LEAF_RANGE;
        memcpy(key + size, fields, sizeof fields);
        return size + (Py_ssize_t)sizeof fields;
    }
    const void *definition = leaf_descriptor_definition(value);
    if (definition != NULL) {
        PyTypeObject *kind = Py_TYPE(value), *owner = ((PyDescrObject *)value)->d_type;
        key[0] = LEAF_DESCRIPTOR;
        memcpy(key + size, &kind, sizeof kind);
        size += sizeof kind;
        memcpy(key + size, &owner, sizeof owner);
        size += sizeof owner;
        memcpy(key + size, &definition, sizeof definition);
        return size + (Py_ssize_t)sizeof definition;
    }
    if (PyType_Check(value)) {
        key[0] = LEAF_CLASS;
        return leaf_put_type_name(Py_TYPE(value), key, &size)
                       && leaf_put_type_name((PyTypeObject *)value, key, &size)
                   ? size : 0;
    }
    if (leaf_is_named(value)) {
        PyObject *name = leaf_attribute(value, LEAF_QUALNAME);
        Py_XDECREF(name); /* compared by address only: see leaf_key_of */
        if (name == NULL)
            return 0;
        PyTypeObject *type = Py_TYPE(value);
        key[0] = LEAF_NAMED;
        memcpy(key + size, &type, sizeof type);
        size += sizeof type;
        memcpy(key + size, &name, sizeof name);
        return size + (Py_ssize_t)sizeof name;
    }
    if (!PyCFunction_CheckExact(value)) {
        PyTypeObject *type = Py_TYPE(value);
        if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) /* its name may be set: keyed by its text */
            return leaf_member_key(value, key);
        key[0] = LEAF_OPAQUE;
        memcpy(key + size, &type, sizeof type);
        return size + (Py_ssize_t)sizeof type;
    }
    PyCFunctionObject *method = (PyCFunctionObject *)value;
    PyObject *owner = method->m_self;
    PyTypeObject *type = NULL;
    if (owner != NULL && !PyModule_Check(owner)) {
        type = PyType_Check(owner) ? (PyTypeObject *)owner : Py_TYPE(owner);
        if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) /* its name may be set: not keyed */
            return 0;
    }
    const char *name = method->m_ml->ml_name;
    size_t length = strlen(name);
    if (1 + sizeof method->m_ml + sizeof type + length > LEAF_KEY_MAX)
        return 0;
    key[0] = LEAF_BUILTIN;
    memcpy(key + size, &method->m_ml, sizeof method->m_ml);
    size += sizeof method->m_ml;
    memcpy(key + size, &type, sizeof type);
    size += sizeof type;
    memcpy(key + size, name, length);
    return size + (Py_ssize_t)length;
}

/* Whether the text of ``form``'s ``field`` is the name at ``key + *at`` (its length
 * first), which it then steps past: 1 or 0. */
static int
leaf_shows_name(PyObject *form, const char *field, const char *key, Py_ssize_t *at)
{
    PyObject *shown = PyDict_GetItemString(form, field);
    Py_ssize_t length, shown_size = 0;
    memcpy(&length, key + *at, sizeof length);
    *at += sizeof length;
    const char *text = shown && PyUnicode_Check(shown)
                           ? PyUnicode_AsUTF8AndSize(shown, &shown_size) : NULL;
    PyErr_Clear();
    int same = text != NULL && shown_size == length && memcmp(text, key + *at, length) == 0;
    *at += length;
    return same;
}

/* Whether ``form`` is the form of an object of ``type`` that shows its type alone:
 * {"$type": name, "repr": "<name object>"}. */
static int
leaf_shows_type_alone(PyTypeObject *type, PyObject *form)
{
    char name[LEAF_KEY_MAX];
    Py_ssize_t size = 0, length;
    if (!PyDict_Check(form) || PyDict_GET_SIZE(form) != 2
        || !leaf_put_type_name(type, name, &size))
        return 0;
    memcpy(&length, name, sizeof length);
    const char *text = name + sizeof length;
    PyObject *shown = PyDict_GetItemString(form, "repr");
    Py_ssize_t shown_size = 0;
    const char *shown_text = shown && PyUnicode_Check(shown)
                                 ? PyUnicode_AsUTF8AndSize(shown, &shown_size) : NULL;
    PyErr_Clear();
    Py_ssize_t at = 0;
    return shown_text != NULL && shown_size == length + 9
           && memcmp(shown_text, "<", 1) == 0 && memcmp(shown_text + 1, text, length) == 0
           && memcmp(shown_text + 1 + length, " object>", 8) == 0
           && leaf_shows_name(form, "$type", name, &at);
}

/* Whether ``form`` shows the member whose key is ``key`` (LEAF_MEMBER):
 * {"$type": its type's name, "repr": that name, ".", its name}. 1 or 0. */
static int
leaf_shows_member(PyObject *form, const char *key)
{
    Py_ssize_t at = 1, type_length, name_length, shown_size = 0;
    if (!PyDict_Check(form) || PyDict_GET_SIZE(form) != 2
        || !leaf_shows_name(form, "$type", key, &at))
        return 0;
    memcpy(&type_length, key + 1, sizeof type_length);
    const char *type_text = key + 1 + sizeof type_length;
    memcpy(&name_length, key + at, sizeof name_length);
    const char *name_text = key + at + sizeof name_length;
    PyObject *shown = PyDict_GetItemString(form, "repr");
    const char *text = shown != NULL && PyUnicode_Check(shown)
                           ? PyUnicode_AsUTF8AndSize(shown, &shown_size) : NULL;
    PyErr_Clear();
    return text != NULL && shown_size == type_length + 1 + name_length
           && memcmp(text, type_text, type_length) == 0 && text[type_length] == '.'
           && memcmp(text + type_length + 1, name_text, name_length) == 0;
}

/* The key of ``value`` recorded as ``form`` (bytes), or None: for a named value, only if
 * the form holds its very name (the address in the key stays that str's); for a class,
 * only if the form shows the names its key holds (not a plugin's form, nor a redacted
 * one), and for an enum's member the texts of its key; for any other object, only if
 * ``opaque`` and the form shows its type alone. */
static PyObject *
leaf_key_of(PyObject *value, PyObject *form, int opaque)
{
    char key[LEAF_KEY_MAX];
    Py_ssize_t size = leaf_key_into(value, key);
    if (size > 0 && key[0] == LEAF_OPAQUE
        && !(opaque && leaf_shows_type_alone(Py_TYPE(value), form)))
        size = 0;
    if (size > 0 && key[0] == LEAF_CLASS) {
        Py_ssize_t at = 1;
        if (!PyDict_Check(form) || PyDict_GET_SIZE(form) != 2
            || !leaf_shows_name(form, "$type", key, &at) || !leaf_shows_name(form, "repr", key, &at))
            size = 0;
    }
    if (size > 0 && key[0] == LEAF_MEMBER && !leaf_shows_member(form, key))
        size = 0;
    if (size > 0 && key[0] == LEAF_NAMED) {
        PyObject *shown = PyDict_Check(form) ? PyDict_GetItemString(form, "repr") : NULL;
        PyObject *name;
        memcpy(&name, key + 1 + sizeof(PyTypeObject *), sizeof name);
        if (shown != name)
            size = 0;
    }
    if (size == 0)
        Py_RETURN_NONE;
    return PyBytes_FromStringAndSize(key, size);
}

/* Whether ``value`` is the leaf whose key is ``key`` (bytes): 1 or 0. */
static int
leaf_matches(PyObject *value, PyObject *key)
{
    char buffer[LEAF_KEY_MAX];
    Py_ssize_t size = leaf_key_into(value, buffer);
    return size > 0 && PyBytes_CheckExact(key) && PyBytes_GET_SIZE(key) == size
           && memcmp(PyBytes_AS_STRING(key), buffer, (size_t)size) == 0;
}

/* Whether local ``name``, bound to ``value``, is the leaf recorded in ``leaves`` (name to
 * key): 1, 0, or -1 on an error. */
static int
same_leaf(PyObject *leaves, PyObject *name, PyObject *value)
{
    PyObject *key = PyDict_GetItemWithError(leaves, name);
    if (key == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return leaf_matches(value, key);
}

/* Whether local ``name``, holding ``value`` (NULL: unbound), is bound to what its frame's
 * shadow recorded: the object behind its ref (``ids``), else the very form recorded
 * (``values``: a scalar is its own form), else the leaf of its key (``leaves``). 1, 0, or
 * -1 on an error. */
static int
same_binding(PyObject *ids, PyObject *values, PyObject *leaves, PyObject *name,
             PyObject *value)
{
    PyObject *key = PyDict_GetItemWithError(ids, name);
    if (key != NULL) {
        void *held = PyLong_AsVoidPtr(key);
        if (held == NULL && PyErr_Occurred())
            return -1;
        return value != NULL && held == (void *)value;
    }
    PyObject *form = PyErr_Occurred() ? NULL : PyDict_GetItemWithError(values, name);
    if (PyErr_Occurred())
        return -1;
    if (value == form)
        return 1;
    return value != NULL ? same_leaf(leaves, name, value) : 0;
}

#endif
