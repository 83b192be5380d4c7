"""Files at the edge: nothing a run reads is ever written over, and nothing it writes is
ever left half-written.

* `guard_outputs` refuses an output path that is one of the run's inputs — by its
  resolved path *and* by its (device, inode), so a symlink or a hard link onto the spec
  is caught as well as the spec itself.
* `write_atomically` writes a temporary file in the target's own folder, flushes and
  fsyncs it, then renames it over the target: a failure at any point (disk full, a file
  size limit, a signal) leaves the old file whole and removes the temporary one.
* `regular_file` refuses FIFOs, devices, sockets and directories before anything opens
  them for reading (opening a FIFO blocks until a writer comes; /dev/zero never ends).

Only cli.py calls these; they raise `BackpropError`, which it turns into exit 2.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterable, Optional

from .errors import BackpropError, SpecError, display_path
from .safe_text import clip

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"),
)


def kind_of(mode: int) -> str:
    """A file type in words, for 'found …'."""
    for test, words in _KINDS:
        if test(mode):
            return words
    return "not a regular file"


def regular_file(path: str | os.PathLike, what: str = "spec") -> os.stat_result:
    """`stat` of a regular file (symlinks followed), or a BackpropError saying what it is.

    Called before any open: reading a FIFO would hang, a device would never end."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise SpecError("no such file", file=display_path(path)) from None
    except PermissionError:
        raise SpecError("permission denied", file=display_path(path)) from None
    except OSError as exc:
        raise SpecError(f"cannot read the file ({exc.strerror or exc})", file=display_path(path)) from None
    if stat.S_ISDIR(st.st_mode):
        raise SpecError(f"is a directory, not a {what} file", file=display_path(path))
    if not stat.S_ISREG(st.st_mode):
        raise SpecError(
            "not a regular file", file=display_path(path), expected="a regular file (YAML text)",
            found=kind_of(st.st_mode),
        )
    return st


def _identity(path: Path) -> tuple[Optional[Path], Optional[tuple[int, int]]]:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError):  # a symlink loop: compare by inode only
        resolved = None
    try:
        st = os.stat(path)
        inode = (st.st_dev, st.st_ino)
    except OSError:
        inode = None
    return resolved, inode


def same_file(a: Path, b: Path) -> bool:
    """The same file: equal resolved paths, or equal (st_dev, st_ino) — a hard link."""
    ra, ia = _identity(Path(a))
    rb, ib = _identity(Path(b))
    return (ra is not None and ra == rb) or (ia is not None and ia == ib)


def guard_outputs(output: Path, option: str, inputs: Iterable[tuple[str, Path]]) -> None:
    """Refuse to write `output` (given as `option`) over any input of the run."""
    for role, path in inputs:
        if path is not None and same_file(output, path):
            raise BackpropError(
                f"{option} {clip(str(output), 200)}: refusing to write over the {role} "
                f"{clip(str(path), 200)} (an input of this run); choose another output file"
            )


def write_atomically(path: Path, text: str, follow: bool = True) -> None:
    """Write `text` (UTF-8) to `path` all or nothing: a temporary file in the same folder,
    fsync'd, then renamed over the target, which keeps its permission bits.

    A symlink is followed (`follow`, as `-o` does: the file it points to is replaced,
    atomically) or replaced itself (`follow=False`, `init --force`). A target that is not
    a regular file — /dev/null, /dev/stdout, a terminal, a pipe — is a stream: it is
    written in place, never renamed over (as root, a rename would replace the device)."""
    path = Path(path)
    shown = clip(str(path), 200)
    try:
        st = os.stat(path) if (follow or not path.is_symlink()) else None  # stat follows links
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BackpropError(f"{shown}: is a directory; give a file name")
    if st is not None and not stat.S_ISREG(st.st_mode):
        _write_stream(path, text.encode("utf-8"), shown)
        return
    if follow and path.is_symlink():  # rename over the file the link points to, not the link
        path = Path(os.path.realpath(path))
    import tempfile  # only when writing a file: keeps `backprop solve` start-up lean

    mode = stat.S_IMODE(st.st_mode) if st is not None else None
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name[:40]}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc})") from None
    try:
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(text.encode("utf-8"))
                fh.flush()
                os.fsync(fh.fileno())
            os.chmod(temp, mode if mode is not None else 0o666 & ~_umask())
            os.replace(temp, path)
        except BaseException:
            try:
                os.unlink(temp)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc}); nothing was changed") from None


def _write_stream(path: Path, data: bytes, shown: str) -> None:
    """A device or pipe named as the output: written in place, without creating anything."""
    try:
        fd = os.open(path, os.O_WRONLY | getattr(os, "O_NOCTTY", 0))
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
    except OSError as exc:
        raise BackpropError(f"{shown}: cannot write ({exc.strerror or exc})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
