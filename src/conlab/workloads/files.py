"""Real files: written, fsynced and read back in a temporary directory removed afterwards."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator

from conlab.model import Task, Workload
from conlab.workloads.params import at_least


class Scratch:
    """A temporary directory that exists while the workload's setup is entered.

    The tasks hold this object; processes get a copy taken when the task is sent,
    which is inside the setup, so they see the path too.
    """

    def __init__(self) -> None:
        self.path: str | None = None

    @contextlib.contextmanager
    def open(self) -> Iterator[Scratch]:
        self.path = tempfile.mkdtemp(prefix="conlab-files-")
        try:
            yield self
        finally:
            shutil.rmtree(self.path, ignore_errors=True)
            self.path = None

    def file(self, index: int, j: int) -> str:
        if self.path is None:
            raise RuntimeError(
                "the files workload's directory is not open: run it with conlab.compare, "
                "which creates it around the runs"
            )
        return os.path.join(self.path, f"task{index}-file{j}.bin")


def content(index: int, j: int, size_kb: int) -> bytes:
    """The bytes of file ``j`` of task ``index``: distinct per file, cheap to make."""
    block = hashlib.sha256(f"{index}:{j}".encode()).digest() * 32  # 1 KiB
    return block * size_kb


def _write(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _read_and_remove(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def write_read(scratch: Scratch, index: int, files: int, size_kb: int) -> str:
    """Write ``files`` files, fsync each, read them back and remove them; a digest of what was read."""
    digest = hashlib.sha256()
    paths = [scratch.file(index, j) for j in range(files)]
    for j, path in enumerate(paths):
        _write(path, content(index, j, size_kb))
    for path in paths:
        digest.update(_read_and_remove(path))
    return digest.hexdigest()


async def write_read_async(scratch: Scratch, index: int, files: int, size_kb: int) -> str:
    """The same, each blocking file operation handed to a thread (asyncio has no async files)."""
    digest = hashlib.sha256()
    paths = [scratch.file(index, j) for j in range(files)]
    for j, path in enumerate(paths):
        await asyncio.to_thread(_write, path, content(index, j, size_kb))
    for path in paths:
        digest.update(await asyncio.to_thread(_read_and_remove, path))
    return digest.hexdigest()


def _expected(index: int, files: int, size_kb: int) -> str:
    digest = hashlib.sha256()
    for j in range(files):
        digest.update(content(index, j, size_kb))
    return digest.hexdigest()


def workload(tasks: int = 8, files: int = 60, size_kb: int = 64) -> Workload:
    """``tasks`` tasks, each writing ``files`` files of ``size_kb`` KiB, fsyncing and reading them."""
    owner = "the files workload"
    at_least(owner, "tasks", tasks, 1)
    at_least(owner, "files", files, 1)
    at_least(owner, "size_kb", size_kb, 1)
    scratch = Scratch()
    args = [(scratch, k, files, size_kb) for k in range(tasks)]
    return Workload(
        name="files",
        kind="io",
        description="files written, fsynced, read back and removed, in a temporary directory",
        params={"tasks": tasks, "files": files, "size_kb": size_kb},
        tasks=[Task(write_read, a, name=f"files[{a[1]}]") for a in args],
        async_tasks=[Task(write_read_async, a, name=f"files[{a[1]}]") for a in args],
        expected=[_expected(k, files, size_kb) for k in range(tasks)],
        setup=scratch.open,
    )
