"""Output files: the one place circnn checks an output path and writes to it.

Checks, made before any work:

* :func:`check_output_file`: a new path or an existing regular file (a
  symbolic link to a regular file is written through); never a directory,
  device, FIFO or socket; its folder exists, is a directory, and a file can
  be created in it; it is not one of the command's input files.
* :func:`check_output_dir`: a new folder (its parent exists and takes new
  entries) or an existing directory that takes new entries.

Writers, each all or none:

* :func:`write_file_atomic` (and :func:`write_bytes_atomic`,
  :func:`write_text_atomic`, :func:`write_json_atomic`,
  :func:`write_npy_atomic`): one file, written to a temporary file in the
  same folder, flushed to disk and renamed over the destination.
* :func:`write_all_or_none`: several files in any folders (a command's
  ``--out`` and ``--report``): each written in full to a temporary beside
  it, then all renamed into place; a failed rename puts back what was
  replaced.
* :class:`write_files_atomic`: several files into a folder.  They are built
  in a temporary folder and moved into place only when the body succeeds;
  a move that fails puts every replaced file back, so the folder holds
  either all the new files or none of them.  Other files in the folder stay.
* :class:`write_folder_atomic`: a whole folder, built beside its
  destination and swapped in for it at the end.

A temporary file or folder is removed on any exception, ``KeyboardInterrupt``
and ``SystemExit`` included.  A failing write (a read-only folder, a path
under a regular file, ``/proc``, a full disk) becomes a :class:`CircnnError`:
one line naming the path and the system's reason.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
from pathlib import Path
from typing import Callable, Iterable

from .errors import CircnnError

__all__ = ["check_output_file", "check_output_dir", "write_error", "write_file_atomic",
           "write_bytes_atomic", "write_text_atomic", "write_json_atomic", "write_npy_atomic",
           "write_all_or_none", "write_files_atomic", "write_folder_atomic"]

FILE_ALLOWED = "expected a new file or an existing regular file"
DIR_ALLOWED = "expected a new folder or an existing directory"


def _q(path) -> str:
    return repr(os.fspath(path))


def _kind(mode: int) -> str:
    """What a file of ``st_mode`` is, in words."""
    for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISFIFO, "FIFO"),
                       (stat.S_ISSOCK, "socket"), (stat.S_ISLNK, "symbolic link"),
                       (stat.S_ISREG, "regular file")):
        if test(mode):
            return name
    return "special file"


def _lstat(path: Path):
    """``os.lstat`` or None when nothing is there (or a component is no folder)."""
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _probe(folder: Path) -> None:
    """Create and remove a file in ``folder``: the only test ``/proc``, read-only
    mounts and permissions all answer truthfully (``os.access`` does not for root)."""
    probe = folder / f".circnn-probe-{os.getpid()}-{secrets.token_hex(4)}"
    fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.close(fd)
    os.unlink(probe)


def _check_folder(folder: Path, flag: str, shown: str, role: str = "folder") -> None:
    """``folder`` exists, is a directory and takes new entries; else a CircnnError."""
    where = f"{flag} {shown}: {role} {_q(folder)}"
    try:
        st = os.stat(folder)
    except FileNotFoundError:
        raise CircnnError(f"{where} does not exist") from None
    except NotADirectoryError:
        raise CircnnError(f"{where} is under a file, not a folder") from None
    except OSError as exc:
        raise CircnnError(f"{where}: {_reason(exc)}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise CircnnError(f"{where} is a {_kind(st.st_mode)}, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CircnnError(f"{where} is not writable")
    try:
        _probe(folder)
    except OSError as exc:
        raise CircnnError(f"{where} does not take new files: {_reason(exc)}") from None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:                     # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _existing(p: Path, st, is_wanted: Callable, flag: str, shown: str, allowed: str) -> Path:
    """Where an existing ``p`` (``lstat`` result ``st``) leads: itself, or a symbolic
    link's target; refused unless that is of the wanted kind."""
    if not stat.S_ISLNK(st.st_mode):
        if not is_wanted(st.st_mode):
            raise CircnnError(f"{flag} {shown}: is a {_kind(st.st_mode)}; {allowed}")
        return p
    try:
        to = os.stat(p)
    except OSError:
        raise CircnnError(f"{flag} {shown}: is a symbolic link to nothing; {allowed}") from None
    if not is_wanted(to.st_mode):
        raise CircnnError(f"{flag} {shown}: is a symbolic link to a {_kind(to.st_mode)}; "
                          f"{allowed}")
    return Path(os.path.realpath(p))


def check_output_file(path, flag: str, *, inputs: Iterable = ()) -> Path:
    """Refuse ``path`` as the output file of option ``flag`` unless it is a new
    path or an existing regular file in a writable folder, and none of ``inputs``.

    ``inputs`` holds the command's input files, each a path or a ``(flag, path)``
    pair (the flag names it in the message).  Returns ``path`` as a :class:`Path`.
    """
    text = os.fspath(path)
    if not text:
        raise CircnnError(f"{flag}: empty path; {FILE_ALLOWED}")
    shown = _q(text)
    if text.endswith(("/", os.sep)):
        raise CircnnError(f"{flag} {shown}: names a folder (ends in '/'); {FILE_ALLOWED}")
    p = Path(text)
    st = _lstat(p)
    target = p if st is None else _existing(p, st, stat.S_ISREG, flag, shown, FILE_ALLOWED)
    _check_folder(target.parent, flag, shown)
    for item in inputs:
        in_flag, in_path = item if isinstance(item, tuple) else ("an input", item)
        if in_path is not None and _same_file(p, Path(in_path)):
            raise CircnnError(f"{flag} {shown}: is the same file as {in_flag} {_q(in_path)}; "
                              f"choose another output file")
    return p


def check_output_dir(path, flag: str, *, whole: bool = False) -> Path:
    """Refuse ``path`` as the output folder of option ``flag`` unless it is a new
    folder whose parent takes new entries, or an existing directory (or a symbolic
    link to one) that takes new files.

    ``whole``: the folder is replaced as a whole (:class:`write_folder_atomic`), so
    its parent must take new entries even when it exists, and it must not hold the
    current working directory.  Returns ``path`` as a :class:`Path`.
    """
    text = os.fspath(path)
    if not text:
        raise CircnnError(f"{flag}: empty path; {DIR_ALLOWED}")
    shown = _q(text)
    p = Path(text)
    st = _lstat(p)
    if st is None:
        _check_folder(p.parent, flag, shown, "parent folder")
        return p
    real = _existing(p, st, stat.S_ISDIR, flag, shown, DIR_ALLOWED)
    _check_folder(real, flag, shown, "folder")
    if whole:
        real = Path(os.path.realpath(real))
        cwd = Path(os.path.realpath(os.getcwd()))
        if real == cwd or real in cwd.parents:
            raise CircnnError(f"{flag} {shown}: is the current folder or holds it; it is "
                              f"replaced as a whole, so name a folder below it")
        _check_folder(real.parent, flag, shown, "parent folder")
    return p


# --------------------------------------------------------------------------
# One file

def write_error(path, exc: OSError) -> CircnnError:
    """The one-line error for a write to ``path`` that failed with ``exc``."""
    return CircnnError(f"cannot write {_q(path)}: {_reason(exc)}")


def _fsync_path(path) -> None:
    """Flush a file's or a folder's entries to disk, best effort (some file systems
    refuse fsync on a folder; nothing is lost but durability)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_fsync_dir = _fsync_path


def _write_through(path: Path) -> Path:
    """Where writing ``path`` lands: the target of a symbolic link, else ``path``."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _temp_name(path: Path, kind: str) -> Path:
    return path.parent / f".{path.name[:160]}.{os.getpid()}.{secrets.token_hex(4)}.{kind}"


def _stage_file(shown: Path, path: Path, write: Callable) -> Path:
    """A temporary file beside ``path``, filled by ``write(f)`` and flushed to disk
    (with an existing file's permission bits); removed again on any exception."""
    tmp = _temp_name(path, "tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise write_error(shown, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                os.fchmod(f.fileno(), stat.S_IMODE(os.stat(path).st_mode))
            except FileNotFoundError:
                pass
            write(f)
            f.flush()
            os.fsync(f.fileno())
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            raise write_error(shown, exc) from None
        raise
    return tmp


def write_file_atomic(path, write: Callable) -> None:
    """Write one file all or none: ``write(f)`` fills a binary file object that is a
    temporary file in the destination's folder; it is flushed to disk and renamed
    over ``path`` (keeping an existing file's permission bits).  On any exception
    the temporary is removed and ``path`` is as it was; an ``OSError`` becomes a
    one-line :class:`CircnnError` naming ``path``."""
    write_all_or_none({path: write})


def write_all_or_none(writers: dict) -> None:
    """Write several files, in any folders, all or none: ``{path: write}``, each
    ``write(f)`` filling a binary file object as for :func:`write_file_atomic`.

    Every file is first written in full to a temporary beside its destination;
    only then are they renamed into place, an existing file moved aside first
    and put back if a later rename fails.  So after a failure (a full disk, an
    interrupt) every destination is as it was and no temporary is left.
    """
    staged: list[tuple[Path, Path, Path]] = []       # (shown, destination, temporary)
    try:
        for shown, write in writers.items():
            shown = Path(shown)
            path = _write_through(shown)
            staged.append((shown, path, _stage_file(shown, path, write)))
    except BaseException:
        for _, _, tmp in staged:
            _remove(tmp)
        raise
    moved: list[tuple[Path, Path | None]] = []       # (destination, its old file's backup)
    try:
        for shown, path, tmp in staged:
            backup = None
            try:
                if len(staged) > 1 and os.path.lexists(path):
                    backup = _temp_name(path, "old")
                    os.rename(path, backup)
                os.replace(tmp, path)
            except BaseException as exc:
                if backup is not None and not os.path.lexists(path):
                    os.rename(backup, path)
                if isinstance(exc, OSError):
                    raise write_error(shown, exc) from None
                raise
            moved.append((path, backup))
    except BaseException:
        for path, backup in reversed(moved):
            _remove(path)
            if backup is not None:
                os.rename(backup, path)
        for _, _, tmp in staged:
            _remove(tmp)
        raise
    for path, backup in moved:
        if backup is not None:
            _remove(backup)
        _fsync_dir(path.parent)


def write_bytes_atomic(path, data: bytes) -> None:
    write_file_atomic(path, lambda f: f.write(data))


def write_text_atomic(path, text: str) -> None:
    write_file_atomic(path, lambda f: f.write(text.encode()))


def write_json_atomic(path, obj, *, default=None) -> None:
    """``obj`` as indented JSON (``default`` converts what ``json`` cannot)."""
    text = json.dumps(obj, indent=2, default=default) + "\n"     # fails before any file is made
    write_text_atomic(path, text)


def write_npy_atomic(path, array) -> None:
    """``array`` as a ``.npy`` file (no pickled objects)."""
    import numpy as np
    write_file_atomic(path, lambda f: np.save(f, array, allow_pickle=False))


# --------------------------------------------------------------------------
# Several files

def _make_temp_dir(parent: Path, prefix: str) -> Path:
    """A new, empty folder in ``parent`` (``os.mkdir``, so the umask applies)."""
    while True:
        candidate = parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}"
        try:
            os.mkdir(candidate)
            return candidate
        except FileExistsError:
            continue


def _remove(path: Path) -> None:
    """Remove a file, a link or a folder tree, quietly."""
    try:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink()
    except OSError:
        pass


def _fsync_tree(folder: Path) -> None:
    for root, _, names in os.walk(folder):
        for name in names:
            _fsync_path(os.path.join(root, name))
        _fsync_dir(Path(root))


class _Staged:
    """What both several-file writers share: a staging folder, removed on failure,
    and an ``OSError`` of the body shown against the destination's path."""

    def __init__(self, dest, *, writes_only: bool = True):
        self.dest = Path(dest)
        if self.dest.is_symlink() and self.dest.is_dir():
            self.dest = Path(os.path.realpath(self.dest))
        #: the body only writes files: an OSError in it is a write failure (one line)
        self.writes_only = writes_only
        self.staging: Path | None = None

    def _staging_parent(self) -> tuple[Path, str]:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Path:
        parent, prefix = self._staging_parent()
        try:
            self.staging = _make_temp_dir(parent, prefix)
        except OSError as exc:
            raise write_error(self.dest, exc) from None
        return self.staging

    def _shown(self, exc: OSError) -> Path:
        """The destination path an OSError in the staging folder is about."""
        name = getattr(exc, "filename", None)
        if name:
            try:
                return self.dest / Path(os.fspath(name)).relative_to(self.staging)
            except (TypeError, ValueError):
                pass
        return self.dest

    def __exit__(self, exc_type, exc, tb):
        try:
            if exc_type is None:
                try:
                    _fsync_tree(self.staging)
                    self._commit()
                except OSError as err:
                    raise write_error(self.dest, err) from None
                _fsync_dir(self.dest)
                _fsync_dir(self.dest.parent)
        finally:
            if self.staging is not None and os.path.lexists(self.staging):
                shutil.rmtree(self.staging, ignore_errors=True)
        if exc_type is not None and self.writes_only and issubclass(exc_type, OSError):
            raise write_error(self._shown(exc), exc) from None
        return False


class write_files_atomic(_Staged):
    """``with write_files_atomic(folder) as staging:`` write files into ``staging``;
    when the body succeeds they replace the entries of the same names in ``folder``
    (which is created when new), all or none: a move that fails puts back every
    entry it replaced.  Other entries of ``folder`` stay.  On failure ``folder`` is
    as it was (and not created).

    The staging folder is a hidden folder in ``folder`` when it exists, else
    beside it, so every move stays on one file system.  ``writes_only=False``:
    the body does more than write files, so its OSErrors are left as they are.
    """

    def _staging_parent(self):
        if self.dest.is_dir():
            return self.dest, ".circnn-new-"
        return Path(os.path.abspath(self.dest)).parent, f".{self.dest.name}.new-"

    def _commit(self) -> None:
        dest, staging = self.dest, self.staging
        if not os.path.lexists(dest):
            os.rename(staging, dest)
            return
        backup = _make_temp_dir(dest, ".circnn-old-")
        done = []                           # (name, an old entry was moved to backup)
        try:
            for item in sorted(staging.iterdir()):
                target = dest / item.name
                had_old = os.path.lexists(target)
                if had_old:
                    os.rename(target, backup / item.name)
                try:
                    os.rename(item, target)
                except BaseException:
                    if had_old:
                        os.rename(backup / item.name, target)
                    raise
                done.append((item.name, had_old))
        except BaseException:
            for name, had_old in reversed(done):
                _remove(dest / name)
                if had_old:
                    os.rename(backup / name, dest / name)
            raise
        finally:
            shutil.rmtree(backup, ignore_errors=True)


class write_folder_atomic(_Staged):
    """``with write_folder_atomic(folder) as staging:`` build a whole folder in
    ``staging`` (beside ``folder``); when the body succeeds it takes the place of
    ``folder`` (whose old contents are deleted).  On failure ``folder`` is as it
    was and the staging folder is gone.  Check the destination first with
    ``check_output_dir(folder, flag, whole=True)``: everything in it is replaced.
    """

    def _staging_parent(self):
        return Path(os.path.abspath(self.dest)).parent, f".{self.dest.name}.new-"

    def __enter__(self) -> Path:
        staging = super().__enter__()
        try:
            os.chmod(staging, stat.S_IMODE(os.stat(self.dest).st_mode))
        except OSError:
            pass
        return staging

    def _commit(self) -> None:
        dest, staging = Path(os.path.abspath(self.dest)), self.staging
        if not os.path.lexists(dest):
            os.rename(staging, dest)
            return
        backup = dest.parent / f".{dest.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.rename(dest, backup)
        try:
            os.rename(staging, dest)
        except BaseException:
            os.rename(backup, dest)
            raise
        finally:
            if os.path.lexists(backup) and os.path.lexists(dest):
                _remove(backup)
