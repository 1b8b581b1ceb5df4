"""Read a pickle from another toolkit (pyskl / mmaction2 annotation files) without running its code.

A pickle is a program: every class or function it names is looked up and called while it loads. This
unpickler admits only what an annotation file needs to name: numpy arrays (``_reconstruct`` / ``_frombuffer``,
``ndarray``), dtypes and numpy scalars, ``collections.OrderedDict`` and ``_codecs.encode(text, "latin1")`` (how
pickle protocols 0-2 write bytes). Anything else (``os.system``,
``builtins.eval``, any class of any package) is refused when it is named, before it could be called. Plain
containers, strings, numbers and bytes need no lookup and load as usual.

Sizes: the file must be at most ``max_bytes``, and an array the pickle asks numpy to allocate may not be larger
than the file itself (a real array's bytes are in the file); object arrays, structured and sub-array dtypes are
refused. The pure-Python unpickler is used: the C one allocates a memo as large as the largest memo index a pickle
names (found by fuzzing: a 230-byte pickle took 2.8 GB).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
from pathlib import Path
from typing import Any

import numpy as np

DEFAULT_MAX_BYTES = 16 << 30  # 16 GiB: NTU-120's 3-D annotation pickle is about 4 GiB


class UnsafePickleError(ValueError):
    """A pickle that names something other than plain data, or that is malformed or too large."""


def _dtype(spec, align=False, copy=False):
    """``numpy.dtype`` as a pickle calls it: numpy writes ``dtype("<f4", False, True)`` (arrays name theirs as
    bytes), a type string and two booleans; nothing else is read (numpy only deprecates other ``align`` values,
    e.g. the string '4' a fuzzer sent)."""
    if not isinstance(spec, (str, bytes)) or not isinstance(align, bool) or not isinstance(copy, bool):
        raise UnsafePickleError(f"the pickle calls numpy.dtype with {spec!r}, {align!r}, {copy!r}; only a type "
                                "string and two booleans are read")
    dtype = np.dtype(spec, align, copy)
    if dtype.hasobject:
        raise UnsafePickleError("the pickle holds an object array (arbitrary Python objects); refused")
    if dtype.kind not in "biufcUSMm" or dtype.subdtype is not None or dtype.fields is not None \
            or not 0 < dtype.itemsize <= 1024:
        raise UnsafePickleError(f"the pickle asks for a dtype {dtype} (structured, sub-array or sized "
                                f"{dtype.itemsize} bytes); only plain numbers and strings are read")
    return dtype


def _scalar(dtype, data=None):
    if not isinstance(dtype, np.dtype) or dtype.hasobject or not isinstance(data, (bytes, type(None))):
        raise UnsafePickleError("the pickle builds a numpy scalar of an object dtype; refused")
    return np.frombuffer(data or b"", dtype=dtype, count=1)[0] if data is not None else dtype.type()


def _latin1_bytes(text, encoding="utf-8"):
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise UnsafePickleError("the pickle calls _codecs.encode other than for bytes (str, 'latin1'); refused")
    return text.encode("latin1")


_NDARRAY = object()  # what the name numpy.ndarray resolves to: only _reconstruct accepts it; calling it fails


class _Unpickler(pickle._Unpickler):  # the pure-Python unpickler: its memo is a dict. The C one sizes its memo
    # array to the largest index a pickle names, so 5 bytes (LONG_BINPUT 175399797) cost 2.8 GB
    def __init__(self, fh, max_array_bytes: int, label: str):
        super().__init__(fh)
        self.max_array_bytes = max_array_bytes
        self.label = label

    def _reconstruct(self, subtype, shape, dtype):
        if subtype is not _NDARRAY:
            raise UnsafePickleError(f"{self.label}: the pickle rebuilds an array subclass; refused")
        self._check(shape, _dtype(dtype) if not isinstance(dtype, np.dtype) else dtype)
        return np.ndarray.__new__(np.ndarray, shape, dtype)

    def _frombuffer(self, buffer, dtype, shape, order, axis_order=None):
        self._check(shape, dtype)
        if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)) or order not in ("C", "F", "K"):
            raise UnsafePickleError(f"{self.label}: bad in-band array buffer in the pickle")
        array = np.frombuffer(buffer, dtype=dtype)
        if order == "K" and axis_order is not None:
            return array.reshape(shape, order="C").transpose(axis_order).copy()
        return array.reshape(shape, order="C" if order == "K" else order).copy()

    def _check(self, shape, dtype) -> None:
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise UnsafePickleError(f"{self.label}: the pickle holds an object array; refused")
        dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
        if not all(isinstance(d, (int, np.integer)) and d >= 0 for d in dims):
            raise UnsafePickleError(f"{self.label}: bad array shape {shape!r} in the pickle")
        size = int(np.prod(dims, dtype=np.float64)) * dtype.itemsize
        if size > self.max_array_bytes:
            raise UnsafePickleError(f"{self.label}: the pickle asks for an array of {size} bytes, more than the "
                                    f"file holds ({self.max_array_bytes} bytes); refused")

    def load_bytearray8(self):  # protocol 5: the length is read first and allocated at once; bound it by the file
        (size,) = struct.unpack("<Q", self.read(8))
        if size > self.max_array_bytes:
            raise UnsafePickleError(f"{self.label}: the pickle asks for a bytearray of {size} bytes, more than the "
                                    f"file holds; refused")
        data = bytearray(size)
        self.readinto(data)
        self.append(data)

    def load_build(self):
        """BUILD (``obj.__setstate__(state)``) only where it cannot corrupt memory: a dtype's state must be the one
        numpy itself writes for that dtype (found by fuzzing: a dtype given another item size crashed the process),
        an array's must be (1, shape, plain dtype, Fortran flag, bytes); nothing else is built."""
        state, inst = self.stack[-1], self.stack[-2]
        if isinstance(inst, np.dtype):
            if state != inst.__reduce__()[2]:
                raise UnsafePickleError(f"{self.label}: the pickle gives a dtype a state numpy never writes; refused")
            self.stack.pop()  # the dtype is already what its arguments made it
            return
        if isinstance(inst, np.ndarray):
            ok = (isinstance(state, tuple) and len(state) == 5 and state[0] == 1 and isinstance(state[1], tuple)
                  and isinstance(state[2], np.dtype) and isinstance(state[3], bool)
                  and isinstance(state[4], (bytes, bytearray)))
            if not ok:
                raise UnsafePickleError(f"{self.label}: the pickle gives an array a state numpy never writes; refused")
            self._check(state[1], state[2])
            return pickle._Unpickler.load_build(self)
        raise UnsafePickleError(f"{self.label}: the pickle sets the state of a {type(inst).__name__}; refused")

    dispatch = {**pickle._Unpickler.dispatch, pickle.BYTEARRAY8[0]: load_bytearray8, pickle.BUILD[0]: load_build}

    def find_class(self, module: str, name: str):
        if name == "_reconstruct" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return self._reconstruct
        if name == "_frombuffer" and module in ("numpy.core.numeric", "numpy._core.numeric"):
            return self._frombuffer
        if name == "scalar" and module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            return _scalar
        if (module, name) == ("numpy", "ndarray"):
            return _NDARRAY
        if (module, name) == ("numpy", "dtype"):
            return _dtype
        if (module, name) == ("_codecs", "encode"):  # how protocols 0-2 write bytes: encode(str, "latin1")
            return _latin1_bytes
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        raise UnsafePickleError(f"{self.label}: the pickle names {module}.{name}, which is not plain data (arrays, "
                                "lists, dicts, strings, numbers); refused without running it")


def load_plain_pickle(path: str | os.PathLike, max_bytes: int = DEFAULT_MAX_BYTES) -> Any:
    """The data in a pickle file of plain containers and numpy arrays; ``UnsafePickleError`` for anything else."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnsafePickleError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if size > max_bytes:
        raise UnsafePickleError(f"{path}: {size} bytes, more than the limit of {max_bytes}")
    with open(path, "rb") as fh:
        return loads_plain(fh.read(), str(path))


def loads_plain(data: bytes, label: str = "<bytes>") -> Any:
    """``load_plain_pickle`` for bytes in memory (uploads)."""
    unpickler = _Unpickler(io.BytesIO(data), max(len(data), 1 << 20), label)
    try:
        return unpickler.load()
    except UnsafePickleError:
        raise
    except RecursionError:
        raise UnsafePickleError(f"{label}: the pickle nests too deeply") from None
    except MemoryError:
        raise UnsafePickleError(f"{label}: the pickle asks for more memory than there is") from None
    except Exception as exc:  # malformed pickles raise many types (UnpicklingError, EOFError, TypeError, ...)
        raise UnsafePickleError(f"{label}: not a readable pickle ({type(exc).__name__}: {exc})") from None
