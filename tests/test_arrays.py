"""circnn.arrays: checked reading of .npy files and .npz entries.

Good files are written with NumPy's own writer and read back against the
arrays that were written (and against ``numpy.load``).  Hostile files are
built byte by byte here: headers that declare far more data than the file
holds, pickles, malformed headers, zip entries whose directory records a
huge size.  Each must give one ``CircnnError`` line that names the file or
entry, without allocating what the header claims (checked with tracemalloc).
"""

import struct
import tracemalloc
import zipfile
import zlib

import numpy as np
import pytest

from circnn import arrays
from circnn.arrays import load_npy, open_npz, read_npy_header

from refusals import MiB, refused_cheaply



# --------------------------------------------------------------------------
# helpers

def npy_bytes(header, data=b"", version=(1, 0)):
    """An .npy stream: magic, version, header length, header text, data.

    ``header`` is a dict (written with repr) or the literal header text.
    """
    text = header if isinstance(header, str) else repr(header)
    size_fmt = "<H" if version == (1, 0) else "<I"
    prefix = 8 + struct.calcsize(size_fmt)
    text += " " * ((-(prefix + len(text) + 1)) % 64) + "\n"
    raw = text.encode("utf8" if version == (3, 0) else "latin1")
    return b"\x93NUMPY" + bytes(version) + struct.pack(size_fmt, len(raw)) + raw + data


def hdr(descr="<f8", shape=(3,), fortran_order=False):
    return {"descr": descr, "fortran_order": fortran_order, "shape": shape}


def write_zip(path, entries, compression=zipfile.ZIP_STORED):
    """A zip with the given name -> bytes entries (written by zipfile)."""
    with zipfile.ZipFile(path, "w", compression=compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def patch_zip_entry(path, name, file_size=None, crc=None):
    """Overwrite the uncompressed size (and CRC) recorded for `name` in both the
    local header and the central directory, leaving the data as they are."""
    buf = bytearray(path.read_bytes())
    enc = name.encode()
    # (signature, offset of the name-length field, offset of the name, of the CRC)
    for sig, n_len_at, name_at, crc_at in ((b"PK\x03\x04", 26, 30, 14),
                                           (b"PK\x01\x02", 28, 46, 16)):
        pos = buf.find(sig)
        found = False
        while pos >= 0:
            n_len = struct.unpack_from("<H", buf, pos + n_len_at)[0]
            if bytes(buf[pos + name_at:pos + name_at + n_len]) == enc:
                if file_size is not None:
                    struct.pack_into("<I", buf, pos + crc_at + 8, file_size)  # uncompressed size
                if crc is not None:
                    struct.pack_into("<I", buf, pos + crc_at, crc)
                found = True
            pos = buf.find(sig, pos + 4)
        assert found, (sig, name)
    path.write_bytes(bytes(buf))


def record_opens(monkeypatch):
    """Names of the zip entries opened from now on."""
    opened = []
    real_open = zipfile.ZipFile.open

    def spy(self, name, *args, **kwargs):
        opened.append(name if isinstance(name, str) else name.filename)
        return real_open(self, name, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "open", spy)
    return opened


# --------------------------------------------------------------------------
# good files

GOOD = {
    "float64-2d": np.arange(12.0).reshape(3, 4) / 7,
    "float32-fortran": np.asfortranarray(np.arange(24, dtype=np.float32).reshape(2, 3, 4)),
    "int16-big-endian": np.arange(-5, 5, dtype=">i2"),
    "uint8": np.arange(256, dtype=np.uint8),
    "bool": np.array([True, False, True]),
    "complex": np.array([1 + 2j, -3.5j]),
    "str-scalar": np.array("relu"),
    "bytes": np.array([b"ab", b"c"]),
    "int-scalar": np.array(7),
    "empty": np.zeros((0, 5)),
}


@pytest.mark.parametrize("name", list(GOOD))
def test_load_npy_reads_what_numpy_wrote(tmp_path, name):
    a = GOOD[name]
    path = tmp_path / "a.npy"
    np.save(path, a)
    b = load_npy(path, "inputs")
    assert b.dtype == a.dtype and b.shape == a.shape
    np.testing.assert_array_equal(b, a)
    np.testing.assert_array_equal(b, np.load(path, allow_pickle=False))
    if a.ndim > 1:
        assert b.flags.f_contiguous == a.flags.f_contiguous


@pytest.mark.parametrize("version", [(1, 0), (2, 0), (3, 0)])
def test_load_npy_header_versions(tmp_path, version, seed):
    a = np.random.default_rng(seed).standard_normal((4, 3))
    path = tmp_path / "v.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array(f, a, version=version)
    np.testing.assert_array_equal(load_npy(path, "inputs"), a)


def test_load_npy_many_chunks(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(arrays, "_CHUNK", 1000)   # data arrive in many pieces
    a = np.random.default_rng(seed).standard_normal(2501)
    path = tmp_path / "a.npy"
    np.save(path, a)
    np.testing.assert_array_equal(load_npy(path, "inputs"), a)


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed], ids=["stored", "deflated"])
def test_npz_entries_read_one_by_one(tmp_path, save, seed):
    rng = np.random.default_rng(seed)
    src = {"w": rng.standard_normal((3, 2, 8)), "s": np.array("none"), "n": np.array(20)}
    path = tmp_path / "m.npz"
    save(path, **src)
    with open_npz(path, "bundle") as z:
        assert z.keys == ("w", "s", "n")
        h = z.header("w")
        assert (h.shape, h.dtype, h.fortran_order) == ((3, 2, 8), np.dtype("<f8"), False)
        assert h.nbytes == 3 * 2 * 8 * 8 and h.count == 48
        assert z.declared_size("w") == h.total_bytes
        for key, value in src.items():
            got = z.load(key)
            assert got.dtype == value.dtype
            np.testing.assert_array_equal(got, value)


def test_npz_unrequested_entries_are_never_opened(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    np.savez(path, a=np.ones(3), b=np.zeros(4), c=np.array("x"))
    opened = record_opens(monkeypatch)
    with open_npz(path, "bundle") as z:
        assert z.keys == ("a", "b", "c")
        assert z.declared_size("c") > 0        # from the directory: opens nothing
        assert opened == []
        np.testing.assert_array_equal(z.load("b"), np.zeros(4))
    assert set(opened) == {"b.npy"}


# --------------------------------------------------------------------------
# .npy refusals

def test_npy_header_declaring_2_pow_40_elements(tmp_path):
    path = tmp_path / "huge.npy"
    path.write_bytes(npy_bytes(hdr(shape=(2**40,)), b"\0" * 16))
    msg = refused_cheaply(lambda: load_npy(path, "inputs"),
                  "inputs file", "huge.npy", "1099511627776 elements", "circnn.arrays.MAX_ELEMENTS")
    assert f"{arrays.MAX_ELEMENTS} elements and {arrays.MAX_BYTES} bytes" in msg


def test_npy_header_over_the_byte_cap(tmp_path):
    # 2**27 complex128 elements: under the element cap, 2 GiB over the byte cap
    path = tmp_path / "wide.npy"
    path.write_bytes(npy_bytes(hdr("<c16", (2**27,))))
    refused_cheaply(lambda: load_npy(path, "inputs"), "wide.npy", "2147483648 bytes", "MAX_BYTES")


def test_npy_zero_size_items_still_count_as_elements(tmp_path):
    path = tmp_path / "s0.npy"
    path.write_bytes(npy_bytes(hdr("|S0", (2**30,))))
    refused_cheaply(lambda: load_npy(path, "inputs"), "s0.npy", "1073741824 elements")


def test_npy_truncated_file_refused_before_allocating(tmp_path):
    # 256 MiB declared (under the cap), 10 bytes present
    path = tmp_path / "cut.npy"
    path.write_bytes(npy_bytes(hdr(shape=(2**25,)), b"\0" * 10))
    refused_cheaply(lambda: load_npy(path, "inputs"), "cut.npy", "truncated", "268435456 bytes of data",
            "holds only 10")


def test_npy_truncated_real_file(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(100.0))
    path.write_bytes(path.read_bytes()[:-1])
    refused_cheaply(lambda: load_npy(path, "calibration"), "calibration file", "a.npy", "truncated")


def test_npy_trailing_bytes(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(4.0))
    path.write_bytes(path.read_bytes() + b"junk")
    refused_cheaply(lambda: load_npy(path, "inputs"), "a.npy", "4 unexpected bytes")


class _Trap:
    """Unpickling this creates the marker file: proof that a pickle ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_npy_pickle_is_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npy"
    np.save(path, np.array([_Trap(marker)], dtype=object), allow_pickle=True)
    assert not marker.exists()
    refused_cheaply(lambda: load_npy(path, "inputs"), "evil.npy", "cannot be read without pickle",
            "dtype object")
    assert not marker.exists()


@pytest.mark.parametrize("descr", [
    [("a", "<f8"), ("b", "<i4")],        # structured
    [("a", "|O")],                       # structured with an object field
    "<M8[s]",                            # datetime
    "|V16",                              # raw void
    ("<f8", (1000, 1000)),               # sub-array: 10**6 doubles per element
])
def test_npy_unsupported_dtypes(tmp_path, descr):
    path = tmp_path / "d.npy"
    path.write_bytes(npy_bytes(hdr(descr, (2,))))
    msg = refused_cheaply(lambda: load_npy(path, "inputs"), "d.npy")
    assert "unsupported dtype" in msg or "without pickle" in msg


@pytest.mark.parametrize("content,fragment", [
    (b"", "no .npy header"),
    (b"hello world, plain text", "no .npy header"),
    (b"\x93NUMPY\x01", "truncated .npy header"),
    (b"\x93NUMPY\x09\x09\x10\x00", "unsupported .npy format version 9.9"),
    (b"\x93NUMPY\x01\x00\x40\x00{'descr'", "truncated .npy header"),
    (npy_bytes("__import__('os').system('touch pwned')"), "unreadable .npy header"),
    (npy_bytes("{'descr': '<f8', 'shape': (3,)}"), "malformed .npy header"),
    (npy_bytes("[1, 2, 3]"), "malformed .npy header"),
    (npy_bytes(hdr(shape=(-1,))), "non-negative integers"),
    (npy_bytes(hdr(shape=(3.0,))), "non-negative integers"),
    (npy_bytes(hdr(shape=(True,))), "non-negative integers"),
    (npy_bytes(hdr(shape=[3])), "non-negative integers"),
    (npy_bytes(hdr(fortran_order="yes")), "fortran_order"),
    (npy_bytes(hdr(descr="no such dtype")), "invalid dtype description"),
    (npy_bytes(hdr(descr=12)), "invalid dtype description"),
    (npy_bytes("(" * 4000 + ")" * 4000), "unreadable .npy header"),
    (b"PK\x03\x04rest", "holds an .npz archive"),
], ids=lambda v: v if isinstance(v, str) else None)
def test_npy_malformed(tmp_path, content, fragment):
    path = tmp_path / "bad.npy"
    path.write_bytes(content)
    refused_cheaply(lambda: load_npy(path, "inputs"), "inputs file", "bad.npy", fragment)
    assert not (tmp_path / "pwned").exists()


def test_npy_header_length_over_cap(tmp_path):
    path = tmp_path / "long.npy"
    path.write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 2**31) + b"{")
    refused_cheaply(lambda: load_npy(path, "inputs"), "long.npy", f"cap of {arrays.MAX_HEADER_BYTES}",
            "MAX_HEADER_BYTES")


def test_npy_missing_and_directory(tmp_path):
    refused_cheaply(lambda: load_npy(tmp_path / "none.npy", "inputs"), "none.npy", "not found")
    refused_cheaply(lambda: load_npy(tmp_path, "inputs"), "not a regular file")


def test_read_npy_header_stops_at_data(tmp_path):
    path = tmp_path / "a.npy"
    np.save(path, np.arange(6, dtype=np.int32).reshape(2, 3))
    with open(path, "rb") as f:
        h = read_npy_header(f, "x")
        assert f.tell() == h.data_offset
    assert (h.shape, h.dtype, h.count, h.nbytes) == ((2, 3), np.dtype("<i4"), 6, 24)
    assert h.total_bytes == path.stat().st_size


# --------------------------------------------------------------------------
# .npz refusals

def test_npz_entry_over_cap_refused_by_directory_size(tmp_path, monkeypatch):
    """A real entry of compressible zeros (4 MiB inflated, a few kB on disk)
    against a cap lowered to 1 MiB: refused from the zip directory, unopened."""
    path = tmp_path / "z.npz"
    np.savez_compressed(path, small=np.ones(3), big=np.zeros(2**19))
    assert path.stat().st_size < 64 * 1024
    monkeypatch.setattr(arrays, "MAX_BYTES", MiB)
    opened = record_opens(monkeypatch)
    with open_npz(path, "bundle") as z:
        assert z.declared_size("big") > 4 * MiB
        refused_cheaply(lambda: z.header("big"), "big", "z.npz", "the zip directory declares", "MAX_BYTES")
        refused_cheaply(lambda: z.load("big"), "the zip directory declares")
        assert opened == []
        np.testing.assert_array_equal(z.load("small"), np.ones(3))


def test_npz_crafted_directory_size_800mb(tmp_path, monkeypatch):
    """The directory says 800 MB... 4 GB; the entry holds 104 bytes: refused unread."""
    path = write_zip(tmp_path / "z.npz", {"a.npy": npy_bytes(hdr(shape=(3,)), b"\0" * 24),
                                          "x.npy": npy_bytes(hdr(shape=(3,)), b"\0" * 24)})
    patch_zip_entry(path, "x.npy", file_size=4_000_000_000)
    opened = record_opens(monkeypatch)
    with open_npz(path, "bundle") as z:
        assert z.declared_size("x") == 4_000_000_000
        refused_cheaply(lambda: z.load("x"), "entry 'x'", "4000000000 bytes uncompressed")
        assert opened == []
        np.testing.assert_array_equal(z.load("a"), np.zeros(3))


@pytest.mark.parametrize("compression", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_npz_directory_claiming_more_than_the_compressed_bytes_can_hold(tmp_path, compression):
    """Header and directory agree on 512 MiB (under the cap), but only a few
    bytes are stored: refused before the 512 MiB are allocated."""
    head = npy_bytes(hdr(shape=(2**26,)))
    path = write_zip(tmp_path / "z.npz", {"w.npy": head + bytes(8)}, compression=compression)
    patch_zip_entry(path, "w.npy", file_size=len(head) + 2**29)
    with open_npz(path, "bundle") as z:
        refused_cheaply(lambda: z.load("w"), "entry 'w'", "corrupt zip entry",
                f"declares {len(head) + 2**29} bytes uncompressed from")


def test_npz_deflate_at_its_best_ratio_is_read(tmp_path):
    a = np.zeros(2**20)    # 8 MiB of zeros deflate about 1000:1
    path = tmp_path / "z.npz"
    np.savez_compressed(path, a=a)
    with zipfile.ZipFile(path) as raw:
        info = raw.getinfo("a.npy")
    assert info.file_size > 900 * info.compress_size
    with open_npz(path, "bundle") as z:
        np.testing.assert_array_equal(z.load("a"), a)


def test_npz_entry_header_declares_more_than_entry_holds(tmp_path):
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(hdr(shape=(2**26,)), b"\0" * 8)})
    with open_npz(path, "bundle", entry_label=lambda k: f"bundle key {k}") as z:
        refused_cheaply(lambda: z.load("w"), "bundle key w: truncated", "536870912 bytes of data",
                "zip entry holds only 8")


def test_npz_entry_trailing_bytes(tmp_path):
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(hdr(shape=(1,)), b"\0" * 9)})
    with open_npz(path, "bundle") as z:
        refused_cheaply(lambda: z.load("w"), "entry 'w'", "1 unexpected bytes")


@pytest.mark.parametrize("fix_crc", [False, True])
def test_npz_directory_lying_small_reads_no_more_than_declared(tmp_path, fix_crc):
    """A deflated entry of 64 MiB of zeros whose directory claims only the 80
    bytes the header declares: the reader decompresses about that much and
    stops (CRC mismatch), or returns the 10 values the header declares."""
    head = npy_bytes(hdr(shape=(10,)))
    path = write_zip(tmp_path / "z.npz", {"w.npy": head + bytes(64 * MiB)},
                     compression=zipfile.ZIP_DEFLATED)
    small = len(head) + 80
    patch_zip_entry(path, "w.npy", file_size=small,
                    crc=zlib.crc32(head + bytes(80)) if fix_crc else None)
    with open_npz(path, "bundle") as z:
        if fix_crc:
            tracemalloc.start()
            try:
                got = z.load("w")
            finally:
                _, peak = tracemalloc.get_traced_memory()
                tracemalloc.stop()
            np.testing.assert_array_equal(got, np.zeros(10))
            assert peak < 4 * MiB
        else:
            refused_cheaply(lambda: z.load("w"), "entry 'w'", "corrupt zip entry")


def test_npz_pickled_entry_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "z.npz"
    np.savez(path, ok=np.ones(2), evil=np.array([_Trap(marker)], dtype=object))
    with open_npz(path, "bundle") as z:
        refused_cheaply(lambda: z.load("evil"), "entry 'evil'", "cannot be read without pickle")
    assert not marker.exists()


def test_npz_compression_other_than_deflate_refused(tmp_path):
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(hdr(shape=(1,)), b"\0" * 8)},
                     compression=zipfile.ZIP_BZIP2)
    with open_npz(path, "bundle") as z:
        refused_cheaply(lambda: z.load("w"), "entry 'w'", "compression method 12")


def test_npz_encrypted_entry_refused(tmp_path):
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(hdr(shape=(1,)), b"\0" * 8)})
    buf = bytearray(path.read_bytes())
    pos = buf.find(b"PK\x01\x02")
    struct.pack_into("<H", buf, pos + 8, struct.unpack_from("<H", buf, pos + 8)[0] | 1)
    path.write_bytes(bytes(buf))
    with open_npz(path, "bundle") as z:
        refused_cheaply(lambda: z.load("w"), "entry 'w'", "encrypted")


def test_npz_non_npy_entry_refused_at_open(tmp_path):
    path = write_zip(tmp_path / "z.npz", {"w.npy": npy_bytes(hdr(shape=(1,)), b"\0" * 8),
                                          "readme.txt": b"hello"})
    refused_cheaply(lambda: open_npz(path, "bundle"), "bundle file", "z.npz", "'readme.txt'",
            "not an .npy array")


def test_npz_duplicate_entry_refused_at_open(tmp_path):
    path = tmp_path / "z.npz"
    entry = npy_bytes(hdr(shape=(1,)), b"\0" * 8)
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(path, {"w.npy": entry})
        with zipfile.ZipFile(path, "a") as z:
            z.writestr("w.npy", entry)
    refused_cheaply(lambda: open_npz(path, "bundle"), "z.npz", "'w.npy' appears twice")


@pytest.mark.parametrize("content,fragment", [
    (b"", "not a NumPy .npz file"),
    (b"just text", "not a NumPy .npz file"),
    (b"PK\x03\x04 cut", "not a NumPy .npz file"),
])
def test_npz_not_a_zip(tmp_path, content, fragment):
    path = tmp_path / "m.npz"
    path.write_bytes(content)
    refused_cheaply(lambda: open_npz(path, "bundle"), "bundle file", "m.npz", fragment)


def test_npz_given_a_npy_and_npy_given_a_npz(tmp_path):
    npy, npz = tmp_path / "a.npy", tmp_path / "b.npz"
    np.save(npy, np.ones(2))
    np.savez(npz, a=np.ones(2))
    refused_cheaply(lambda: open_npz(npy, "bundle"), "a.npy", "single .npy array")
    refused_cheaply(lambda: load_npy(npz, "inputs"), "b.npz", "holds an .npz archive")
    refused_cheaply(lambda: open_npz(tmp_path / "none.npz", "bundle"), "none.npz", "not found")
