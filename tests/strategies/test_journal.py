"""The journal a worker process writes as it runs, read back by its parent as it grows and after it died."""

from __future__ import annotations

import os

from conlab._process.journal import FrameLog, JournalReader, read_leftovers
from conlab._process.wire import NOBODY
from conlab.model import OK, TaskRecord


def _log(path) -> FrameLog:
    return FrameLog(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600))


def test_the_reader_follows_the_file_as_it_grows(tmp_path):
    path = tmp_path / "1.frames"
    log = _log(path)
    reader = JournalReader(str(path))
    log.start(0)
    log.sink(0).write("hello\n")
    assert reader.poll().running == [0]
    assert [text for _, text in reader.chunks[0]] == ["hello\n"]
    log.hold(0)
    log.start(1)
    assert reader.poll().holding == 0 and reader.running == [0, 1]
    log.end(TaskRecord(index=0, name="a", status=OK, result={"x": 1}))
    log.hold(NOBODY)
    reader.poll()
    assert reader.running == [1] and reader.holding is None
    assert reader.ended[0].result == {"x": 1}


def test_a_cut_frame_waits_for_its_end_unless_the_writer_is_gone(tmp_path):
    path = tmp_path / "2.frames"
    log = _log(path)
    log.start(3)
    log.sink(3).write("all of this line\n")
    whole = path.read_bytes()
    path.write_bytes(whole[:-5])  # the worker died in the middle of writing its output
    growing = JournalReader(str(path)).poll()
    assert growing.started and 3 not in growing.chunks
    left = read_leftovers(str(tmp_path), 2)
    assert left.last_started == 3
    assert [text for _, text in left.chunks[3]] == ["all of this "]
    with open(path, "ab") as f:  # the rest arrives: the growing reader takes the whole frame
        f.write(whole[-5:])
    assert [text for _, text in growing.poll().chunks[3]] == ["all of this line\n"]
