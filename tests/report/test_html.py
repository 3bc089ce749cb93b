"""The HTML report: self-contained, every user string escaped, one bar per task."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from conlab import resultfile
from conlab.model import Results
from conlab.report import html, notebook
from conlab.report import text as report_text
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
