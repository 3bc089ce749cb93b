"""Where conlab writes: devices, links, same paths, read-only and full file systems.

The device nodes are scratch copies the test makes (as root) of /dev/null's and
/dev/full's numbers; the small and read-only file systems are tmpfs mounts of
the test's own. Where this machine does not allow either, the test says so.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import tempfile

import pytest

from conlab import outputs
from conlab.errors import ConlabError, UsageError

NULL, FULL = os.makedev(1, 3), os.makedev(1, 7)


def _device(tmp_path, name="null", numbers=NULL):
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, numbers)
    except PermissionError:
        pytest.skip("making a device node needs root")
    return str(path)


@contextlib.contextmanager
def _mount(where, *options):
    os.makedirs(where, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", ",".join(options), "tmpfs", str(where)],
        capture_output=True,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield str(where)
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


@pytest.mark.parametrize("numbers", [NULL, FULL], ids=["null", "full"])
def test_a_device_is_refused_and_stays_a_device(tmp_path, numbers):
    device = _device(tmp_path, numbers=numbers)
    with pytest.raises(UsageError, match="character device"):
        outputs.check({"--json": device})
    with pytest.raises(UsageError, match="character device"):
        outputs.write_text("{}", device)
    assert stat.S_ISCHR(os.lstat(device).st_mode)


def test_a_link_to_a_device_is_refused(tmp_path):
    link = tmp_path / "link.json"
    link.symlink_to(_device(tmp_path))
    with pytest.raises(UsageError, match="the link points to"):
        outputs.check({"--json": str(link)})


def test_a_link_is_written_through_and_kept(tmp_path):
    real, link = tmp_path / "real.json", tmp_path / "link.json"
    real.write_text("old")
    link.symlink_to(real)
    outputs.check({"--json": str(link)})
    outputs.write_text("new", str(link))
    assert link.is_symlink() and real.read_text() == "new"


def test_a_dangling_link_writes_its_target(tmp_path):
    real, link = tmp_path / "made.json", tmp_path / "link.json"
    link.symlink_to(real)
    outputs.write_text("new", str(link))
    assert link.is_symlink() and real.read_text() == "new"


def test_another_users_link_is_refused(tmp_path):
    link = tmp_path / "theirs.json"
    link.symlink_to(tmp_path / "victim")
    try:
        os.lchown(link, 65534, 65534)
    except PermissionError:
        pytest.skip("giving a link to another user needs root")
    with pytest.raises(UsageError, match="owned by another user"):
        outputs.check({"--json": str(link)})
    assert not (tmp_path / "victim").exists()


def test_the_same_file_twice_is_refused(tmp_path):
    same = str(tmp_path / "r.json")
    with pytest.raises(UsageError, match=r"--html .* same file as --json"):
        outputs.check({"--json": same, "--html": same})
    link = tmp_path / "alias.json"
    link.symlink_to(same)
    with pytest.raises(UsageError, match="same file"):
        outputs.check({"--json": same, "--csv": str(link)})


def test_an_input_is_never_an_output(tmp_path):
    items = tmp_path / "items.json"
    items.write_text("[1, 2]")
    hard = tmp_path / "hard.json"
    os.link(items, hard)
    for path in (items, hard):
        with pytest.raises(UsageError, match="same file as --inputs"):
            outputs.check({"--json": str(path)}, {"--inputs": str(items)})
    assert items.read_text() == "[1, 2]"


def test_missing_directory_and_directory(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        outputs.check({"--json": str(tmp_path / "nowhere" / "r.json")})
    with pytest.raises(UsageError, match="a directory"):
        outputs.check({"--json": str(tmp_path)})


def test_a_read_only_directory_is_refused_before_measuring(tmp_path):
    with (
        _mount(tmp_path / "ro", "size=1m", "ro") as where,
        pytest.raises(UsageError, match="cannot create a file"),
    ):
        outputs.check({"--json": os.path.join(where, "r.json")})


def test_the_umask_gives_the_mode(tmp_path):
    old = os.umask(0o027)
    try:
        outputs.write_text("{}", str(tmp_path / "a.json"))
        outputs.write_bytes(b"png", str(tmp_path / "a.png"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(tmp_path / "a.json").st_mode) == 0o640
    assert stat.S_IMODE(os.stat(tmp_path / "a.png").st_mode) == 0o640


def test_a_lone_surrogate_is_written_replaced(tmp_path):
    path = tmp_path / "out.md"
    outputs.write_text("a\ud800b", str(path))
    assert path.read_bytes() == b"a?b"


def test_a_full_disk_loses_nothing(tmp_path):
    data = "x" * 200_000
    with _mount(tmp_path / "small", "size=64k") as where:
        path = os.path.join(where, "r.json")
        written, notice = outputs.save(data, path)
        assert written != path and notice is not None
        assert notice.startswith(f"cannot write {path} (No space left on device)")
        with open(written) as f:
            assert f.read() == data
        assert not [n for n in os.listdir(where) if n.startswith(".conlab-")]
        os.unlink(written)
        # The same target keeps one fallback file: a write after each round replaces it.
        assert outputs.save(data, path)[0] == written
        os.unlink(written)


def test_no_fallback_anywhere_is_one_error(tmp_path, monkeypatch):
    with _mount(tmp_path / "ro", "size=1m", "ro") as where:
        monkeypatch.setattr(tempfile, "tempdir", where)
        monkeypatch.chdir(where)
        with pytest.raises(ConlabError, match="nor a copy in"):
            outputs.save("{}", os.path.join(where, "r.json"))


def test_a_killed_writers_temporary_file_is_swept(tmp_path):
    child = subprocess.Popen(["true"])
    child.wait()
    stale = tmp_path / f".conlab-{child.pid}-abc.tmp"
    stale.write_text("half a file")
    mine = tmp_path / f".conlab-{os.getpid()}-abc.tmp"
    mine.write_text("a write in progress")
    outputs.write_text("{}", str(tmp_path / "r.json"))
    assert not stale.exists() and mine.exists()


def test_paths_are_absolute_when_parsed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = outputs.absolute("r.json")
    monkeypatch.chdir("/")
    assert path == str(tmp_path / "r.json")
