"""Files conlab writes: checked before measuring, written atomically, never lost.

Every output (``--json``, ``--markdown``, ``--csv``, ``--html``, ``--plot``,
``--trace``) is a regular file, replaced atomically by a temporary file renamed
over it in the same directory, with the mode the user's umask gives a new file.

- A device, FIFO, socket or directory is refused: ``--json /dev/null`` must not
  replace the device node with a regular file.
- A symbolic link is written *through*: its target is replaced and the link
  kept, as a shell's ``>`` does. A link owned by another user is refused (what
  Linux's ``protected_symlinks`` refuses in ``/tmp``: writing as root through
  someone else's link is the classic way to overwrite ``/etc/passwd``).
- One command's outputs are distinct files, none of them one of its inputs.
- Paths are absolute from the moment they are parsed, so that a task calling
  ``os.chdir`` does not move them.
- A write that fails after measuring costs no measurement: :func:`save` writes
  to a fallback file in the temporary directory (or the current one) instead and
  says where, in one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tempfile
import time
from collections.abc import Mapping

from conlab.errors import ConlabError, UsageError

_TEMP_PREFIX = ".conlab-"
_TEMP_SUFFIX = ".tmp"


def absolute(path: str) -> str:
    """``path`` made absolute now (argparse ``type=``): a later ``os.chdir`` cannot move it."""
    return os.path.abspath(path) if path else path


def target(path: str) -> str:
    """The file that writing ``path`` replaces: the path itself, or the target of its link."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return os.path.abspath(path)
    except ValueError:  # a NUL byte
        raise UsageError(f"{path!r}: not a usable file name") from None
    except OSError as exc:  # a directory on the way this user may not enter, a name too long
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(info.st_mode):
        if info.st_uid not in (os.geteuid(), 0):
            raise UsageError(
                f"cannot write {path}: it is a symbolic link owned by another user "
                "(conlab writes through links only when they are yours); give another path"
            )
        return os.path.realpath(path)
    return os.path.abspath(path)


def _kind(mode: int) -> str | None:
    """What a file that is not a regular file is, or None for a regular file."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
    )
    return next((what for test, what in kinds if test(mode)), None)


def _refuse_unless_regular(path: str, real: str) -> None:
    try:
        info = os.stat(real)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    what = _kind(info.st_mode)
    if what is not None:
        via = "" if real == os.path.abspath(path) else f" (the link points to {real})"
        raise UsageError(
            f"cannot write {path}: it is {what}{via}, not a regular file; "
            "give the path of a file to write"
        )


def _probe_directory(path: str, real: str) -> None:
    """Create and remove a file where ``real`` will be written: what writing it needs."""
    directory = os.path.dirname(real)
    if not os.path.isdir(directory):
        raise UsageError(f"cannot write {path}: directory {directory} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=_temp_prefix(), suffix=_TEMP_SUFFIX, dir=directory)
    except OSError as exc:
        raise UsageError(
            f"cannot write {path}: cannot create a file in {directory} ({exc.strerror or exc})"
        ) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(probe)


def _identity(real: str) -> tuple[str, tuple[int, int] | None]:
    """A file's path and, when it exists, its device and inode (a hard link is the same file)."""
    try:
        info = os.stat(real)
    except OSError:
        return real, None
    return real, (info.st_dev, info.st_ino)


def check(outputs: Mapping[str, str | None], inputs: Mapping[str, str | None] = {}) -> None:
    """Fail with one line before measuring when an output could not be written safely.

    ``outputs`` and ``inputs`` map an option (``--json``) to its path or None.
    """
    seen: dict[object, str] = {}
    for option, path in inputs.items():
        if path and "\0" not in path:  # a NUL byte names no file; reading it says so
            real, inode = _identity(os.path.realpath(path))
            seen[real] = seen[inode or real] = f"{option} {path}"
    for option, path in outputs.items():
        if not path:
            continue
        real = target(path)
        _refuse_unless_regular(path, real)
        _probe_directory(path, real)
        name, inode = _identity(real)
        other = seen.get(name) or (seen.get(inode) if inode else None)
        if other is not None:
            raise UsageError(
                f"{option} {path} is the same file as {other}: it would be overwritten; "
                "give each output a path of its own"
            )
        seen[name] = f"{option} {path}"
        if inode:
            seen[inode] = seen[name]


def umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    with contextlib.suppress(OSError, ValueError), open("/proc/self/status", "rb") as f:
        for line in f:
            if line.startswith(b"Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temp_prefix() -> str:
    return f"{_TEMP_PREFIX}{os.getpid()}-"


def _sweep_stale_temporaries(directory: str) -> None:
    """Remove temporary files of ours whose writer died mid-write (SIGKILL): its pid is gone."""
    with contextlib.suppress(OSError), os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(_TEMP_PREFIX) and name.endswith(_TEMP_SUFFIX)):
                continue
            pid = name[len(_TEMP_PREFIX) :].partition("-")[0]
            if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def write_bytes(data: bytes, path: str) -> None:
    """Replace ``path`` (or its link's target) with ``data`` atomically, mode from the umask.

    A reader, or a crash mid-write, never sees half a file; the temporary file is
    removed on any exception (KeyboardInterrupt included) and, after a SIGKILL, by
    the next write into the same directory.
    """
    real = target(path)
    _refuse_unless_regular(path, real)
    directory = os.path.dirname(real)
    _sweep_stale_temporaries(directory)
    fd, tmp = tempfile.mkstemp(prefix=_temp_prefix(), suffix=_TEMP_SUFFIX, dir=directory)
    try:
        os.fchmod(fd, 0o666 & ~umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, real)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_text(text: str, path: str) -> None:
    """:func:`write_bytes` of ``text`` as UTF-8; what cannot be encoded (a lone surrogate) is replaced."""
    write_bytes(text.encode("utf-8", errors="replace"), path)


_fallbacks: dict[str, str] = {}  # target -> the fallback already used for it


def fallback_path(path: str) -> str:
    """Where the results of ``path`` go when it cannot be written: one place per target."""
    if path not in _fallbacks:
        base = os.path.basename(path) or "results"
        stem, ext = os.path.splitext(base)
        stamp = time.strftime("%Y%m%d-%H%M%S")
        _fallbacks[path] = f"conlab-{stem}-{stamp}-{os.getpid()}{ext}"
    return _fallbacks[path]


def save(data: str | bytes, path: str) -> tuple[str, str | None]:
    """Write ``data`` to ``path``, or to a fallback file if that fails; nothing is lost.

    Returns where it was written and, when that is not ``path``, the one line to
    show the user. Raises ConlabError only when no fallback could be written either.
    """
    payload = data.encode("utf-8", errors="replace") if isinstance(data, str) else data
    try:
        write_bytes(payload, path)
        return path, None
    except (OSError, UsageError) as exc:
        why = reason(exc)
    for other in elsewhere(path):
        with contextlib.suppress(OSError, UsageError):
            write_bytes(payload, other)
            return other, notice(path, why, other)
    raise nowhere(path, why)


def elsewhere(path: str) -> list[str]:
    """Where to write what ``path`` should have held: the temporary directory, then the current."""
    name = fallback_path(path)
    return [os.path.join(directory, name) for directory in (tempfile.gettempdir(), os.getcwd())]


def notice(path: str, why: str, other: str) -> str:
    """The one line saying where the results went instead."""
    return f"cannot write {path} ({why}); written to {other} instead"


def nowhere(path: str, why: str) -> ConlabError:
    """The error when neither ``path`` nor any fallback could be written."""
    return ConlabError(
        f"cannot write {path} ({why}), nor a copy in {tempfile.gettempdir()} or the "
        "current directory; free some space or give a writable path"
    )


def reason(exc: BaseException) -> str:
    """Why a write failed, in a few words (``No space left on device``)."""
    if isinstance(exc, OSError):
        return exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return str(exc).removeprefix("cannot write ").partition(": ")[2] or str(exc)
