"""circnn.files: output paths checked before any work, files written all or none.

The expectations are written out by hand (file contents, which files exist,
the system's own error text from ``os.strerror``); nothing here touches a
real device: ``/dev/null`` is only passed as a path, and checked to still be
a character device afterwards.
"""

import errno
import os
import socket
import stat

import numpy as np
import pytest

from circnn import files
from circnn.errors import CircnnError
from circnn.files import (check_output_dir, check_output_file, write_all_or_none,
                          write_file_atomic, write_files_atomic, write_folder_atomic,
                          write_json_atomic, write_npy_atomic, write_text_atomic)

ROOT = os.geteuid() == 0


def one_line(exc_info) -> str:
    text = str(exc_info.value)
    assert "\n" not in text
    return text


def listing(folder):
    """Every entry under ``folder`` with its contents: {relative path: bytes or 'dir'}."""
    out = {}
    for root, dirs, names in os.walk(folder):
        for d in dirs:
            out[os.path.relpath(os.path.join(root, d), folder)] = "dir"
        for n in names:
            p = os.path.join(root, n)
            out[os.path.relpath(p, folder)] = open(p, "rb").read()
    return out


# --------------------------------------------------------------------------
# check_output_file

def test_new_and_existing_regular_files_are_accepted(tmp_path):
    assert check_output_file(tmp_path / "new.json", "--report") == tmp_path / "new.json"
    (tmp_path / "old.json").write_text("{}")
    assert check_output_file(str(tmp_path / "old.json"), "--report") == tmp_path / "old.json"
    assert listing(tmp_path) == {"old.json": b"{}"}           # the checks leave nothing behind


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "d.json").mkdir()
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "d.json", "--report")
    assert one_line(e) == (f"--report {str(tmp_path / 'd.json')!r}: is a directory; "
                           f"expected a new file or an existing regular file")


def test_a_path_ending_in_a_slash_is_refused(tmp_path):
    with pytest.raises(CircnnError) as e:
        check_output_file(f"{tmp_path}/x.json/", "--out")
    assert "names a folder" in one_line(e)


def test_a_fifo_is_refused_without_opening_it(tmp_path):
    fifo = tmp_path / "pipe.npy"
    os.mkfifo(fifo)
    with pytest.raises(CircnnError) as e:
        check_output_file(fifo, "--out")      # opening a FIFO for writing would block
    assert one_line(e).endswith(": is a FIFO; expected a new file or an existing regular file")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_socket_is_refused(tmp_path):
    path = tmp_path / "s.json"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        with pytest.raises(CircnnError) as e:
            check_output_file(path, "--report")
    assert ": is a socket;" in one_line(e)


def test_a_device_is_refused_and_left_alone(tmp_path):
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    with pytest.raises(CircnnError) as e:
        check_output_file("/dev/null", "--out")
    assert one_line(e) == ("--out '/dev/null': is a character device; expected a new file or "
                           "an existing regular file")
    link = tmp_path / "null.npy"
    link.symlink_to("/dev/null")
    with pytest.raises(CircnnError) as e:
        check_output_file(link, "--out")
    assert ": is a symbolic link to a character device;" in one_line(e)
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def test_symbolic_links(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "to-file.json").symlink_to(tmp_path / "real.json")
    assert check_output_file(tmp_path / "to-file.json", "--report") == tmp_path / "to-file.json"
    (tmp_path / "d").mkdir()
    (tmp_path / "to-dir.json").symlink_to(tmp_path / "d")
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "to-dir.json", "--report")
    assert ": is a symbolic link to a directory;" in one_line(e)
    (tmp_path / "dangling.json").symlink_to(tmp_path / "missing")
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "dangling.json", "--report")
    assert ": is a symbolic link to nothing;" in one_line(e)


def test_the_folder_must_exist_and_be_a_folder(tmp_path):
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "missing" / "r.json", "--report")
    assert one_line(e) == (f"--report {str(tmp_path / 'missing' / 'r.json')!r}: folder "
                           f"{str(tmp_path / 'missing')!r} does not exist")
    (tmp_path / "plain.txt").write_text("x")
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "plain.txt" / "r.json", "--report")
    assert one_line(e).endswith(f"folder {str(tmp_path / 'plain.txt')!r} is a regular file, "
                                f"not a folder")
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "plain.txt" / "sub" / "r.json", "--report")
    assert one_line(e).endswith("is under a file, not a folder")
    assert listing(tmp_path) == {"plain.txt": b"x"}


def test_a_proc_path_is_refused():
    with pytest.raises(CircnnError) as e:
        check_output_file("/proc/circnn-report.json", "--report")
    assert one_line(e).startswith("--report '/proc/circnn-report.json': folder '/proc' does not "
                                  "take new files: ")
    assert not os.path.exists("/proc/circnn-report.json")


def test_a_read_only_folder_is_refused(tmp_path, monkeypatch):
    """Permissions as a normal user meets them (os.access says no); for root,
    who passes that check, the probe below answers."""
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    if ROOT:       # root passes permission checks: let the check see what a user's would
        real_access = os.access
        monkeypatch.setattr(files.os, "access", lambda path, mode, **kw:
                            False if os.fspath(path) == str(ro) else real_access(path, mode, **kw))
    try:
        with pytest.raises(CircnnError) as e:
            check_output_file(ro / "r.json", "--report")
        assert one_line(e).endswith(f"folder {str(ro)!r} is not writable")
        assert os.listdir(ro) == []
    finally:
        ro.chmod(0o755)


def test_a_folder_that_refuses_new_files_is_refused(tmp_path, monkeypatch):
    """A read-only folder as the system reports it (EROFS / EACCES on creating a file),
    whoever runs the test: the probe is what answers truthfully for root too."""
    real_open = os.open

    def refusing_open(path, flags, *args):
        if os.fspath(path).startswith(str(tmp_path / "ro")) and flags & os.O_CREAT:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), os.fspath(path))
        return real_open(path, flags, *args)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(files.os, "open", refusing_open)
    with pytest.raises(CircnnError) as e:
        check_output_file(tmp_path / "ro" / "r.json", "--report")
    assert one_line(e).endswith(f"folder {str(tmp_path / 'ro')!r} does not take new files: "
                                f"{os.strerror(errno.EROFS)}")


def test_the_output_must_not_be_an_input(tmp_path):
    x = tmp_path / "x.npy"
    x.write_bytes(b"data")
    with pytest.raises(CircnnError) as e:
        check_output_file(x, "--out", inputs=[("--inputs", x)])
    assert one_line(e) == (f"--out {str(x)!r}: is the same file as --inputs {str(x)!r}; "
                           f"choose another output file")
    os.link(x, tmp_path / "hard.npy")                   # the same file under another name
    with pytest.raises(CircnnError):
        check_output_file(tmp_path / "hard.npy", "--out", inputs=[x])
    (tmp_path / "sub").mkdir()                          # neither exists: compared as paths
    with pytest.raises(CircnnError):
        check_output_file(tmp_path / "y.npy", "--out",
                          inputs=[("--calibration", tmp_path / "sub" / ".." / "y.npy")])
    check_output_file(tmp_path / "z.npy", "--out", inputs=[("--inputs", x), ("--report", None)])
    assert x.read_bytes() == b"data"


# --------------------------------------------------------------------------
# check_output_dir

def test_output_folders(tmp_path, monkeypatch):
    assert check_output_dir(tmp_path / "new", "--out") == tmp_path / "new"
    (tmp_path / "old").mkdir()
    check_output_dir(tmp_path / "old", "--out")
    (tmp_path / "link").symlink_to(tmp_path / "old")
    check_output_dir(tmp_path / "link", "--out")
    (tmp_path / "f").write_text("x")
    with pytest.raises(CircnnError) as e:
        check_output_dir(tmp_path / "f", "--out")
    assert one_line(e) == (f"--out {str(tmp_path / 'f')!r}: is a regular file; expected a new "
                           f"folder or an existing directory")
    (tmp_path / "to-file").symlink_to(tmp_path / "f")
    with pytest.raises(CircnnError) as e:
        check_output_dir(tmp_path / "to-file", "--out")
    assert "is a symbolic link to a regular file" in one_line(e)
    with pytest.raises(CircnnError) as e:
        check_output_dir(tmp_path / "missing" / "new", "--out")
    assert one_line(e).endswith(f"parent folder {str(tmp_path / 'missing')!r} does not exist")
    with pytest.raises(CircnnError) as e:
        check_output_dir(tmp_path / "f" / "new", "--out")
    assert one_line(e).endswith("is a regular file, not a folder")
    with pytest.raises(CircnnError) as e:
        check_output_dir("/proc/circnn-out", "--out")
    assert "parent folder '/proc' does not take new files" in one_line(e)
    monkeypatch.chdir(tmp_path / "old")
    check_output_dir(".", "--out")                       # files go in, the folder stays
    for here in (".", str(tmp_path)):
        with pytest.raises(CircnnError) as e:
            check_output_dir(here, "--out", whole=True)  # replacing it would pull the floor away
        assert "is the current folder or holds it" in one_line(e)
    assert sorted(os.listdir(tmp_path)) == ["f", "link", "old", "to-file"]


# --------------------------------------------------------------------------
# one file

def no_temporaries(folder):
    return [n for n in os.listdir(folder) if n.startswith(".")] == []


def test_atomic_file_replaces_content_and_keeps_permissions(tmp_path):
    path = tmp_path / "out.txt"
    write_text_atomic(path, "first\n")
    assert path.read_text() == "first\n"
    path.chmod(0o640)
    write_text_atomic(path, "second\n")
    assert path.read_text() == "second\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert no_temporaries(tmp_path)


def test_atomic_file_writes_through_a_symbolic_link(tmp_path):
    (tmp_path / "real.txt").write_text("old")
    (tmp_path / "link.txt").symlink_to("real.txt")
    write_text_atomic(tmp_path / "link.txt", "new")
    assert (tmp_path / "link.txt").is_symlink() and (tmp_path / "real.txt").read_text() == "new"


@pytest.mark.parametrize("failure", [ValueError, KeyboardInterrupt, SystemExit])
def test_atomic_file_failure_leaves_the_old_file(tmp_path, failure):
    path = tmp_path / "out.txt"
    path.write_text("old")

    def write(f):
        f.write(b"half of it")
        raise failure()

    with pytest.raises(failure):
        write_file_atomic(path, write)
    assert path.read_text() == "old"
    assert listing(tmp_path) == {"out.txt": b"old"}


def test_a_full_disk_is_one_line_naming_the_path(tmp_path, monkeypatch):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(files.os, "fsync", no_space)
    path = tmp_path / "out.json"
    path.write_text("old")
    with pytest.raises(CircnnError) as e:
        write_json_atomic(path, {"a": 1})
    assert one_line(e) == f"cannot write {str(path)!r}: No space left on device"
    assert listing(tmp_path) == {"out.json": b"old"}


def test_write_failures_are_one_line(tmp_path):
    (tmp_path / "plain").write_text("x")
    for path, reason in [(tmp_path / "plain" / "out.json", errno.ENOTDIR),
                         ("/proc/circnn-out.json", None)]:
        with pytest.raises(CircnnError) as e:
            write_json_atomic(path, [1])
        text = one_line(e)
        assert text.startswith(f"cannot write {str(path)!r}: ")
        if reason is not None:
            assert text.endswith(os.strerror(reason))
    assert listing(tmp_path) == {"plain": b"x"}


def test_npy_and_json_round_trip(tmp_path):
    a = np.arange(12, dtype=np.int32).reshape(3, 4) - 5
    write_npy_atomic(tmp_path / "a.npy", a)
    back = np.load(tmp_path / "a.npy", allow_pickle=False)
    assert back.dtype == np.int32 and back.tolist() == [[-5, -4, -3, -2], [-1, 0, 1, 2],
                                                         [3, 4, 5, 6]]
    write_json_atomic(tmp_path / "r.json", {"x": [1, 2], "y": None})
    assert (tmp_path / "r.json").read_text() == '{\n  "x": [\n    1,\n    2\n  ],\n  "y": null\n}\n'
    with pytest.raises(ValueError):
        write_npy_atomic(tmp_path / "o.npy", np.array([object()]))   # no pickles
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "r.json"]


# --------------------------------------------------------------------------
# several files

def old_folder(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "a.v").write_text("old a")
    (out / "b.json").write_text("old b")
    (out / "mine.txt").write_text("the user's")
    return out, listing(out)


def test_files_into_a_new_folder(tmp_path):
    with write_files_atomic(tmp_path / "new") as staging:
        (staging / "a.v").write_text("A")
        assert not (tmp_path / "new").exists()
    assert listing(tmp_path) == {"new": "dir", "new/a.v": b"A"}


def test_files_replace_theirs_and_keep_the_others(tmp_path):
    out, _ = old_folder(tmp_path)
    with write_files_atomic(out) as staging:
        (staging / "a.v").write_text("new a")
        (staging / "b.json").write_text("new b")
        assert (out / "a.v").read_text() == "old a"
    assert listing(tmp_path) == {"out": "dir", "out/a.v": b"new a", "out/b.json": b"new b",
                                 "out/mine.txt": b"the user's"}


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt])
def test_files_failure_in_the_body_changes_nothing(tmp_path, failure):
    out, before = old_folder(tmp_path)
    with pytest.raises(failure):
        with write_files_atomic(out) as staging:
            (staging / "a.v").write_text("new a")
            raise failure()
    assert listing(out) == before
    with pytest.raises(failure):
        with write_files_atomic(tmp_path / "never") as staging:
            (staging / "a.v").write_text("x")
            raise failure()
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_files_failure_while_moving_puts_everything_back(tmp_path, monkeypatch):
    """The second file's move fails: the first, already moved, is taken back out."""
    out, before = old_folder(tmp_path)
    real_rename = os.rename
    calls = []

    def rename(src, dst):
        calls.append((src, dst))
        if os.fspath(dst) == str(out / "b.json") and "circnn-new" in os.fspath(src):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(dst))
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", rename)
    with pytest.raises(CircnnError) as e:
        with write_files_atomic(out) as staging:
            (staging / "a.v").write_text("new a")
            (staging / "b.json").write_text("new b")
            (staging / "c.txt").write_text("new c")
    assert one_line(e) == f"cannot write {str(out)!r}: {os.strerror(errno.EIO)}"
    assert any(os.fspath(d) == str(out / "a.v") for _, d in calls)    # a.v had been moved
    assert listing(out) == before


@pytest.mark.parametrize("failing", ["staging", "moving"])
def test_files_in_two_folders_are_written_all_or_none(tmp_path, monkeypatch, failing):
    """infer's --out and --report, in different folders: a full disk while writing
    the second, or a failed rename of it, leaves both destinations as they were
    (the first one included) and no temporary behind."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    out, report = tmp_path / "a" / "y.npy", tmp_path / "b" / "r.json"
    out.write_bytes(b"old y")
    before = {"a": listing(tmp_path / "a"), "b": listing(tmp_path / "b")}

    def fill(data):
        def write(f):
            if failing == "staging" and data == b"new r":
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            f.write(data)
        return write

    real_replace = os.replace

    def replace(src, dst):
        if failing == "moving" and os.fspath(dst) == str(report):
            raise OSError(errno.EIO, os.strerror(errno.EIO), os.fspath(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(files.os, "replace", replace)
    with pytest.raises(CircnnError) as e:
        write_all_or_none({out: fill(b"new y"), report: fill(b"new r")})
    reason = os.strerror(errno.ENOSPC if failing == "staging" else errno.EIO)
    assert one_line(e) == f"cannot write {str(report)!r}: {reason}"
    assert {"a": listing(tmp_path / "a"), "b": listing(tmp_path / "b")} == before
    # and when nothing fails both are replaced
    monkeypatch.setattr(files.os, "replace", real_replace)
    write_all_or_none({out: lambda f: f.write(b"new y"), report: lambda f: f.write(b"new r")})
    assert listing(tmp_path / "a") == {"y.npy": b"new y"}
    assert listing(tmp_path / "b") == {"r.json": b"new r"}


def test_files_os_error_in_the_body_names_the_destination(tmp_path):
    out, before = old_folder(tmp_path)
    with pytest.raises(CircnnError) as e:
        with write_files_atomic(out) as staging:
            open(staging / "sub" / "x.v", "w")
    assert one_line(e) == (f"cannot write {str(out / 'sub' / 'x.v')!r}: "
                           f"{os.strerror(errno.ENOENT)}")
    assert listing(out) == before


def test_folder_is_replaced_as_a_whole(tmp_path):
    out, _ = old_folder(tmp_path)
    with write_folder_atomic(out) as staging:
        (staging / "report.json").write_text("{}")
        (staging / "synth").mkdir()
        (staging / "synth" / "x.json").write_text("[]")
        assert listing(out)["a.v"] == b"old a"
    assert listing(tmp_path) == {"out": "dir", "out/report.json": b"{}", "out/synth": "dir",
                                 "out/synth/x.json": b"[]"}


@pytest.mark.parametrize("failure", [RuntimeError, KeyboardInterrupt, SystemExit])
def test_folder_failure_leaves_the_old_one(tmp_path, failure):
    out, before = old_folder(tmp_path)
    with pytest.raises(failure):
        with write_folder_atomic(out, writes_only=False) as staging:
            (staging / "report.json").write_text("{}")
            raise failure()
    assert listing(out) == before and sorted(os.listdir(tmp_path)) == ["out"]


def test_folder_swap_failure_restores_the_old_one(tmp_path, monkeypatch):
    out, before = old_folder(tmp_path)
    real_rename = os.rename

    def rename(src, dst):
        if os.fspath(dst) == str(out) and ".new-" in os.fspath(src):
            raise OSError(errno.EXDEV, os.strerror(errno.EXDEV))
        return real_rename(src, dst)

    monkeypatch.setattr(files.os, "rename", rename)
    with pytest.raises(CircnnError) as e:
        with write_folder_atomic(out) as staging:
            (staging / "report.json").write_text("{}")
    assert one_line(e) == f"cannot write {str(out)!r}: {os.strerror(errno.EXDEV)}"
    assert listing(out) == before and sorted(os.listdir(tmp_path)) == ["out"]


def test_folder_through_a_symbolic_link_replaces_the_target(tmp_path):
    out, _ = old_folder(tmp_path)
    (tmp_path / "link").symlink_to("out")
    with write_folder_atomic(tmp_path / "link") as staging:
        (staging / "n.txt").write_text("n")
    assert (tmp_path / "link").is_symlink()
    assert listing(out) == {"n.txt": b"n"}
    assert sorted(os.listdir(tmp_path)) == ["link", "out"]
