"""Reading NumPy arrays from untrusted files: ``.npy`` files and ``.npz`` entries.

``numpy.load`` trusts the file: it allocates whatever shape the header
declares before it knows whether the data are there, and it decompresses
an ``.npz`` entry of any size.  This module reads the header first (magic,
version, dtype, shape, Fortran order), checks it, and only then allocates
and reads exactly the declared number of bytes:

* the header text is at most :data:`MAX_HEADER_BYTES` long and is parsed
  with :func:`ast.literal_eval` (a dict literal, never code);
* only plain dtypes are read (:data:`ALLOWED_KINDS`: bool, signed and
  unsigned integers, floats, complex, byte strings and unicode strings);
  object dtypes (pickles), structured, sub-array and datetime dtypes are
  refused;
* the declared number of elements is at most :data:`MAX_ELEMENTS` and the
  declared data size at most :data:`MAX_BYTES`, checked before anything
  is allocated;
* the file (or the ``.npz`` entry, by the size the zip directory records)
  must hold exactly the header plus the declared data: a truncated file or
  trailing bytes are refused before the data are read;
* an ``.npz`` entry's uncompressed size is taken from the zip directory and
  checked against the cap, and against what its compressed bytes can hold
  (all of them for a stored entry, 1032 times as many for a deflated one),
  before a byte of it is decompressed; only stored
  and deflated entries (what ``numpy.savez`` and ``numpy.savez_compressed``
  write) are read, never encrypted ones; entries that are not asked for are
  never opened.

Every refusal is a :class:`circnn.errors.CircnnError` whose one-line message
starts with the label of the file or entry it concerns.  The caps are module
attributes read at each call, so tests may lower them.
"""

from __future__ import annotations

import ast
import math
import os
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import CircnnError

__all__ = [
    "MAX_ELEMENTS", "MAX_BYTES", "MAX_HEADER_BYTES", "ALLOWED_KINDS",
    "NpyHeader", "check_size", "check_dtype", "read_npy_header", "load_npy",
    "NpzArchive", "open_npz",
]

#: Most elements one array may declare (2**28 = 268,435,456).  An element
#: cap as well as a byte cap, because zero-size items (``S0``) would
#: otherwise let a header declare any number of them.
MAX_ELEMENTS = 2**28
#: Most bytes of data one array may declare (2**30 = 1 GiB).
MAX_BYTES = 2**30
#: Longest header text (the dict literal after the length field), as
#: ``numpy.load``'s own default ``max_header_size``.
MAX_HEADER_BYTES = 10_000
#: dtype kinds that are read: bool, int, uint, float, complex, bytes, str.
ALLOWED_KINDS = "biufcSU"

_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"
_EMPTY_ZIP_MAGIC = b"PK\x05\x06"
_CHUNK = 1 << 24            # bytes read (and decompressed) per call
_HEADER_KEYS = {"descr", "fortran_order", "shape"}


def _cap_text() -> str:
    return (f"the cap is {MAX_ELEMENTS} elements and {MAX_BYTES} bytes "
            "(circnn.arrays.MAX_ELEMENTS, MAX_BYTES)")


def check_size(label: str, count: int, itemsize: int, what: str) -> int:
    """Refuse ``count`` elements of ``itemsize`` bytes above the caps; returns the byte size.

    ``what`` describes where the numbers come from (``"header shape
    (10, 3)"``).  Python integers throughout, so no product overflows.
    """
    nbytes = count * itemsize
    if count > MAX_ELEMENTS or nbytes > MAX_BYTES:
        unit = "byte" if itemsize == 1 else "bytes"
        raise CircnnError(f"{label}: {what} declares {count} elements of {itemsize} {unit} "
                          f"({nbytes} bytes), too large: {_cap_text()}")
    return nbytes


def check_dtype(label: str, dtype: np.dtype) -> np.dtype:
    """Refuse object (pickle), structured, sub-array and datetime dtypes."""
    if dtype.hasobject:
        raise CircnnError(f"{label}: cannot be read without pickle: dtype {dtype} holds Python "
                          "objects (allowed: bool, integer, float, complex, bytes and str dtypes)")
    if dtype.kind not in ALLOWED_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise CircnnError(f"{label}: unsupported dtype {dtype} (allowed: bool, integer, float, "
                          "complex, bytes and str dtypes)")
    return dtype


@dataclass(frozen=True)
class NpyHeader:
    """What an ``.npy`` header declares, already checked against the caps."""

    version: tuple[int, int]
    dtype: np.dtype
    shape: tuple[int, ...]
    fortran_order: bool
    data_offset: int        # bytes from the start of the .npy stream to the data
    count: int              # number of elements
    nbytes: int             # bytes of data

    @property
    def total_bytes(self) -> int:
        """Header plus data: the exact size of a well-formed ``.npy`` stream."""
        return self.data_offset + self.nbytes


def _read_exact(fp, n: int, label: str, what: str) -> bytes:
    data = fp.read(n)
    if len(data) != n:
        raise CircnnError(f"{label}: truncated {what} ({len(data)} of {n} bytes)")
    return data


def read_npy_header(fp, label: str) -> NpyHeader:
    """Parse and check the header at the start of the binary stream ``fp``.

    Reads only the header (at most 12 + :data:`MAX_HEADER_BYTES` bytes);
    leaves ``fp`` at the first data byte.
    """
    magic = fp.read(8)
    if magic[:4] in (_ZIP_MAGIC, _EMPTY_ZIP_MAGIC):
        raise CircnnError(f"{label}: holds an .npz archive, expected a single .npy array")
    if magic[:6] != _MAGIC:
        raise CircnnError(f"{label}: not a NumPy .npy file (no .npy header)")
    if len(magic) < 8:
        raise CircnnError(f"{label}: truncated .npy header ({len(magic)} bytes)")
    version = (magic[6], magic[7])
    if version not in ((1, 0), (2, 0), (3, 0)):
        raise CircnnError(f"{label}: unsupported .npy format version {version[0]}.{version[1]} "
                          "(1.0, 2.0 and 3.0 are read)")
    size_fmt = "<H" if version == (1, 0) else "<I"
    raw_len = _read_exact(fp, struct.calcsize(size_fmt), label, ".npy header")
    (header_len,) = struct.unpack(size_fmt, raw_len)
    if header_len > MAX_HEADER_BYTES:
        raise CircnnError(f"{label}: .npy header of {header_len} bytes, more than the cap of "
                          f"{MAX_HEADER_BYTES} (circnn.arrays.MAX_HEADER_BYTES)")
    text_bytes = _read_exact(fp, header_len, label, ".npy header")
    try:
        text = text_bytes.decode("utf8" if version == (3, 0) else "latin1")
        header = ast.literal_eval(text)
    except (UnicodeDecodeError, SyntaxError, ValueError, TypeError, MemoryError,
            RecursionError) as exc:
        raise CircnnError(f"{label}: unreadable .npy header ({type(exc).__name__})") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise CircnnError(f"{label}: malformed .npy header (expected a dict with keys "
                          "'descr', 'fortran_order' and 'shape')")
    shape, fortran_order = header["shape"], header["fortran_order"]
    if not (isinstance(shape, tuple)
            and all(type(d) is int and d >= 0 for d in shape)):
        raise CircnnError(f"{label}: malformed .npy header: shape must be a tuple of "
                          f"non-negative integers, got {shape!r:.80}")
    if not isinstance(fortran_order, bool):
        raise CircnnError(f"{label}: malformed .npy header: fortran_order must be True or "
                          f"False, got {fortran_order!r:.80}")
    try:
        dtype = np.lib.format.descr_to_dtype(header["descr"])
    except Exception as exc:  # any malformed description: numpy raises several kinds
        raise CircnnError(f"{label}: malformed .npy header: invalid dtype description "
                          f"{header['descr']!r:.80} ({type(exc).__name__})") from None
    check_dtype(label, dtype)
    count = math.prod(shape)
    nbytes = check_size(label, count, dtype.itemsize, f"header shape {shape}")
    data_offset = 8 + len(raw_len) + header_len
    return NpyHeader(version, dtype, shape, fortran_order, data_offset, count, nbytes)


def _check_stored_size(label: str, header: NpyHeader, stored: int, where: str) -> None:
    """The stream holds ``stored`` bytes in all: exactly header plus data, or refuse."""
    if stored < header.total_bytes:
        raise CircnnError(f"{label}: truncated: the header declares shape {header.shape} of "
                          f"{header.dtype} ({header.nbytes} bytes of data) but {where} holds "
                          f"only {max(stored - header.data_offset, 0)}")
    if stored > header.total_bytes:
        raise CircnnError(f"{label}: {stored - header.total_bytes} unexpected bytes after the "
                          f"data of shape {header.shape} of {header.dtype}")


def _read_data(fp, header: NpyHeader, label: str) -> np.ndarray:
    """Allocate the (already checked) array and fill it from ``fp`` in bounded chunks."""
    flat = np.empty(header.count, dtype=header.dtype)
    pos = 0
    if header.nbytes:
        raw = flat.view(np.uint8)
        while pos < header.nbytes:
            chunk = fp.read(min(_CHUNK, header.nbytes - pos))
            if not chunk:
                raise CircnnError(f"{label}: truncated data ({pos} of {header.nbytes} bytes)")
            raw[pos:pos + len(chunk)] = np.frombuffer(chunk, dtype=np.uint8)
            pos += len(chunk)
    if fp.read(1):
        raise CircnnError(f"{label}: unexpected bytes after the data of shape {header.shape}")
    if header.fortran_order:
        return flat.reshape(header.shape[::-1]).transpose()
    return flat.reshape(header.shape)


def _file_label(path: Path, label: str) -> str:
    return f"{label} file {str(path)!r}"


def _check_regular_file(path: Path, what: str) -> None:
    if not path.exists():
        raise CircnnError(f"{what}: not found")
    if not path.is_file():
        raise CircnnError(f"{what}: not a regular file")


def load_npy(path: str | os.PathLike, label: str) -> np.ndarray:
    """Read one ``.npy`` file safely; errors read ``"<label> file '<path>': ..."``.

    The header is checked (dtype allowed, element and byte caps, file size
    equal to header plus data) before the array is allocated.
    """
    path = Path(path)
    what = _file_label(path, label)
    _check_regular_file(path, what)
    try:
        with open(path, "rb") as fp:
            header = read_npy_header(fp, what)
            _check_stored_size(what, header, os.fstat(fp.fileno()).st_size, "the file")
            return _read_data(fp, header, what)
    except OSError as exc:
        raise CircnnError(f"{what}: cannot read: {exc.strerror or exc}") from None


# errors zipfile and zlib raise on damaged archives
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, struct.error,
               NotImplementedError, RuntimeError, KeyError)
_READABLE_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
_DEFLATE_MAX_RATIO = 1032     # zlib's bound on how far deflate can expand


class NpzArchive:
    """An open ``.npz`` file whose entries are read one by one, on request.

    Opening reads only the zip directory.  :attr:`keys` lists the entry
    names without their ``.npy`` suffix (as ``numpy.load`` does);
    :meth:`declared_size` gives an entry's uncompressed size from the
    directory without opening it; :meth:`header` reads and checks an
    entry's ``.npy`` header; :meth:`load` reads its data.  Entries never
    asked for are never opened.  Use as a context manager.
    """

    def __init__(self, path: str | os.PathLike, label: str,
                 entry_label: Callable[[str], str] | None = None):
        self.path = Path(path)
        self.label = _file_label(self.path, label)
        self._entry_label = entry_label or (lambda key: f"{self.label}, entry {key!r}")
        _check_regular_file(self.path, self.label)
        try:
            with open(self.path, "rb") as fp:
                magic = fp.read(6)
        except OSError as exc:
            raise CircnnError(f"{self.label}: cannot read: {exc.strerror or exc}") from None
        if magic == _MAGIC:
            raise CircnnError(f"{self.label}: holds a single .npy array, not an .npz archive")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except _ZIP_ERRORS as exc:
            raise CircnnError(f"{self.label}: not a NumPy .npz file ({exc})") from None
        self._infos: dict[str, zipfile.ZipInfo] = {}
        self._headers: dict[str, NpyHeader] = {}
        try:
            for info in self._zip.infolist():
                name = info.filename
                if not name.endswith(".npy"):
                    raise CircnnError(f"{self.label}: entry {name!r:.100} is not an .npy array "
                                      "(an .npz holds only <key>.npy entries)")
                key = name[:-4]
                if key in self._infos:
                    raise CircnnError(f"{self.label}: entry {name!r:.100} appears twice")
                self._infos[key] = info
        except BaseException:
            self._zip.close()
            raise

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    @property
    def keys(self) -> tuple[str, ...]:
        """Entry names without ``.npy``, in archive order."""
        return tuple(self._infos)

    def entry_label(self, key: str) -> str:
        return self._entry_label(key)

    def declared_size(self, key: str) -> int:
        """Uncompressed size of the entry as the zip directory records it (nothing is read)."""
        return self._infos[key].file_size

    def _open(self, key: str):
        """Check the entry's directory record, then open it for reading."""
        info, label = self._infos[key], self.entry_label(key)
        if info.flag_bits & 0x1:
            raise CircnnError(f"{label}: encrypted zip entry")
        if info.compress_type not in _READABLE_COMPRESSION:
            raise CircnnError(f"{label}: zip compression method {info.compress_type} "
                              "(only stored and deflated entries are read)")
        limit = 12 + MAX_HEADER_BYTES + MAX_BYTES
        if info.file_size > limit:
            raise CircnnError(f"{label}: the zip directory declares {info.file_size} bytes "
                              f"uncompressed, more than a .npy entry may hold: {_cap_text()}")
        # The compressed bytes present bound what can come out: a stored entry
        # holds exactly its size, deflate expands at most 1032:1.  A directory
        # that claims more is refused before anything is allocated for it.
        if info.compress_type == zipfile.ZIP_STORED:
            possible = info.compress_size
        else:
            possible = _DEFLATE_MAX_RATIO * info.compress_size + 1024
        if info.file_size > possible:
            raise CircnnError(f"{label}: corrupt zip entry: the zip directory declares "
                              f"{info.file_size} bytes uncompressed from {info.compress_size} "
                              "compressed bytes")
        try:
            return self._zip.open(info)
        except _ZIP_ERRORS as exc:
            raise CircnnError(f"{label}: corrupt zip entry ({exc})") from None

    def header(self, key: str) -> NpyHeader:
        """The entry's checked ``.npy`` header (reads at most its first ~10 kB)."""
        if key not in self._headers:
            label = self.entry_label(key)
            try:
                with self._open(key) as fp:
                    header = read_npy_header(fp, label)
            except _ZIP_ERRORS as exc:
                raise CircnnError(f"{label}: corrupt zip entry ({exc})") from None
            _check_stored_size(label, header, self._infos[key].file_size, "the zip entry")
            self._headers[key] = header
        return self._headers[key]

    def load(self, key: str) -> np.ndarray:
        """The entry's array, read after its header passed every check."""
        header = self.header(key)
        label = self.entry_label(key)
        try:
            with self._open(key) as fp:
                fp.read(header.data_offset)
                return _read_data(fp, header, label)
        except _ZIP_ERRORS as exc:
            raise CircnnError(f"{label}: corrupt zip entry ({exc})") from None


def open_npz(path: str | os.PathLike, label: str,
             entry_label: Callable[[str], str] | None = None) -> NpzArchive:
    """Open an ``.npz`` file for checked, entry-by-entry reading (see :class:`NpzArchive`).

    ``label`` names the file in messages (``"<label> file '<path>'"``);
    ``entry_label(key)`` names an entry (default: the file label and the key).
    """
    return NpzArchive(path, label, entry_label)
