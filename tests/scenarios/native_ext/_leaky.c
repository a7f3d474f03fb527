/* SPDX-License-Identifier: BSD-2-Clause */
/* Test extension for tests/scenarios/native_ext_leak.py: one function leaks, one frees. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

/* noinline: each must be a real frame with its own symbol, as in a real extension */
static __attribute__((noinline)) PyObject *leak_buffer(PyObject *self, PyObject *arg)
{
	Py_ssize_t n = PyLong_AsSsize_t(arg);
	char *p;

	(void)self;
	if (n < 0 || n > (1 << 24))
		return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "bad size");
	p = malloc((size_t)n);
	if (!p)
		return PyErr_NoMemory();
	memset(p, 0xab, (size_t)n);
	/* the pointer is dropped here: the leak */
	Py_RETURN_NONE;
}

static __attribute__((noinline)) PyObject *scratch(PyObject *self, PyObject *arg)
{
	Py_ssize_t n = PyLong_AsSsize_t(arg);
	volatile char *p;

	(void)self;
	if (n < 0 || n > (1 << 24))
		return PyErr_Occurred() ? NULL : PyErr_Format(PyExc_ValueError, "bad size");
	p = malloc((size_t)n);
	if (!p)
		return PyErr_NoMemory();
	memset((char *)p, 0xcd, (size_t)n);
	free((char *)p);
	Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
	{ "leak_buffer", leak_buffer, METH_O, "malloc(n) and never free it" },
	{ "scratch", scratch, METH_O, "malloc(n), fill, free" },
	{ NULL, NULL, 0, NULL },
};

static struct PyModuleDef module = { PyModuleDef_HEAD_INIT, "_leaky", NULL, -1, methods };

PyMODINIT_FUNC PyInit__leaky(void)
{
	return PyModule_Create(&module);
}
