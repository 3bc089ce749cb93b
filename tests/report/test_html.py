"""The HTML report: self-contained, every user string escaped, one bar per task."""

from __future__ import annotations

import dataclasses
import re
from html import unescape
from html.parser import HTMLParser

from conlab import resultfile
from conlab.model import Results
from conlab.report import html, notebook
from conlab.report import text as report_text
from tests.helpers import run_cli
from tests.report.conftest import HOSTILE


class Collect(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(document: str) -> Collect:
    parser = Collect()
    parser.feed(document)
    return parser


def test_report_is_self_contained_and_escapes_user_strings(results):
    document = html.document(results)
    parsed = parse(document)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "img" not in tags and "link" not in tags
    # No network: no attribute anywhere points outside the file.
    for _, attrs in parsed.tags:
        for name, value in attrs.items():
            assert not (value or "").startswith(("http:", "https:", "//")) or name == "xmlns"
    text = "".join(parsed.text)
    assert HOSTILE in text
    assert "<b>not bold</b> 1 & <img src=x onerror=alert(2)>" in text
    assert "<noise> & co" in text and "thread-pool <b>2</b>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document


def test_one_timeline_per_run_and_one_bar_per_task(results):
    document = html.document(results)
    timelines = re.findall(r'<svg[^>]*class="timeline".*?</svg>', document, flags=re.S)
    runs = [r for c in results.comparisons for r in c.runs if r.records]
    assert len(timelines) == len(runs)
    for svg, run in zip(timelines, runs, strict=True):
        assert svg.count('<g class="task"') == len(run.records)
        lanes = {(r.worker.pid, r.worker.thread) for r in run.records if r.worker}
        assert svg.count('<g class="lane"') == len(lanes)
    # The seed workload knows its floor: marked on each of its timelines.
    assert document.count('<g class="floor">') == 3


def test_each_task_output_is_collapsible(results):
    parsed = parse(html.document(results))
    details = [a for t, a in parsed.tags if t == "details" and a.get("class") == "task-output"]
    with_output = sum(
        1 for c in results.comparisons for r in c.runs for t in r.records if t.output.strip()
    )
    assert len(details) == with_output
    assert all("open" not in a for a in details)


def test_report_from_a_result_file_matches(results, tmp_path):
    path = tmp_path / "r.json"
    resultfile.write(results, str(path))
    again = resultfile.load(str(path))
    assert html.document(again).count('<g class="task"') == html.document(results).count(
        '<g class="task"'
    )


def test_incomplete_results_say_so(results):
    partial = Results(results.environment, results.comparisons[:1], complete=False)
    assert "incomplete" in html.document(partial)


def test_notebook_view_and_text_view(results):
    seed = results.comparisons[0]
    fragment = notebook.comparison_html(seed)
    assert fragment.startswith("<style>") and "<body" not in fragment
    assert "square : 81" in fragment and '<details class="task-output" open>' in fragment
    text = report_text.comparison_text(seed)
    assert "thread-pool" in text and "square : 81" in text
    assert "Comparison(" not in text
    # The model itself stays one line.
    assert "\n" not in repr(seed) and repr(seed).startswith("Comparison('seed'")


def _lesson_cells(document: str) -> list[list[str]]:
    table = re.search(r'<table class="lesson">.*?</table>', document, flags=re.S)
    assert table, "the lesson's table is a <table>"
    rows = re.findall(r"<tr>(.*?)</tr>", table.group(0), flags=re.S)
    return [
        [unescape(c) for c in re.findall(r"<t[hd]>(.*?)</t[hd]>", row, flags=re.S)] for row in rows
    ]


def test_the_lessons_table_from_a_result_file_is_a_table(tmp_path):
    from tests.report.pictures import EXTRA, ROWS, RULE, lesson_results

    path = tmp_path / "lesson.json"
    resultfile.write(lesson_results(), str(path))
    loaded = resultfile.load(str(path))
    for document in (html.document(loaded), notebook.comparison_html(loaded.comparisons[0])):
        cells = _lesson_cells(document)
        assert cells[0] == ["", "Threading", "Multiprocessing"]
        assert cells[1:] == [[r.question, r.threads, r.processes] for r in ROWS + EXTRA]
        assert RULE in unescape(document) and "| threads:" not in unescape(document)
    # conlab show draws the same table, not notes joined by "|".
    shown = run_cli(["show", str(path)], env={"COLUMNS": "120"})
    assert shown.returncode == 0, shown.stderr
    header = next(line for line in shown.stdout.splitlines() if "Threading" in line)
    assert "Multiprocessing" in header
    assert "| threads:" not in shown.stdout and "Runs truly parallel?" in shown.stdout
    assert RULE in " ".join(shown.stdout.split())


def test_every_comparison_opens_with_its_takeaway(results):
    document = html.document(results)
    takeaways = re.findall(r'</h3><p class="takeaway">(.*?)</p>', document, flags=re.S)
    assert len(takeaways) == len(results.comparisons)
    assert takeaways[0].startswith("Fastest: ")
    assert '<p class="takeaway">' in notebook.comparison_html(results.comparisons[0])


def test_efficiency_above_one_is_explained_where_it_appears(results):
    from conlab.lab.sweep import Sweep

    seed = results.comparisons[0]
    pool = seed.run("thread-pool")
    # The measured pool, as if one worker had beaten the sequential run by 11 %.
    one = dataclasses.replace(
        seed, runs=[seed.runs[0], dataclasses.replace(pool, workers=1, speedup=1.11)]
    )
    one.sweep = {"id": "s", "strategy": "thread-pool", "workers": 1, "tasks": 2}
    fragment = html.sweep_fragment(Sweep("seed", "thread-pool", [one]), notebook=True)
    note = re.search(r'<p class="note efficiency-over">(.*?)</p>', fragment, flags=re.S)
    assert note and "111% at 1 worker" in note.group(1)
    assert "not the same code path" in note.group(1)
    plain = dataclasses.replace(
        one, runs=[seed.runs[0], dataclasses.replace(pool, workers=1, speedup=0.9)]
    )
    assert "efficiency-over" not in html.sweep_fragment(Sweep("seed", "thread-pool", [plain]))
