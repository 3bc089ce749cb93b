"""Per-task output capture."""

from __future__ import annotations

from conlab._process import capture


def test_bounded_sink_keeps_head_and_tail_and_counts_the_rest():
    sink = capture.BoundedSink()
    line = "x" * 1023 + "\n"
    for _ in range(50 * 1024):  # 50 MiB
        sink.write(line)
    chunks, dropped = sink.finish()
    text = "".join(t for _, t in chunks)
    kept = capture.HEAD_CHARS + capture.TAIL_CHARS
    assert dropped == 50 * 1024 * 1024 - kept
    assert text.startswith(line * 64)
    assert text.endswith(line * 64)
    assert f"[... {dropped:,} characters of output omitted ...]" in text


def test_small_output_is_kept_whole_with_the_time_of_each_write():
    sink = capture.BoundedSink()
    sink.write("square :")
    sink.write(" 81\n")
    chunks, dropped = sink.finish()
    assert dropped == 0
    assert [t for _, t in chunks] == ["square :", " 81\n"]
    assert chunks[0][0] <= chunks[1][0]
