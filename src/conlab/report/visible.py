"""Text from result files and from tasks, made safe to print on a terminal.

A workload name, a task's output or an error text is the user's (or a stranger's
file's) text. Sent raw, ``ESC ] 52`` writes the clipboard, ``ESC [ 2 J`` clears
the screen and a bidi override reorders what the reader sees. Every control and
format character is shown as a visible character of the same width instead
(``ESC`` as ``␛``), and what the output's encoding cannot hold (a lone surrogate,
or anything beyond ASCII under ``PYTHONIOENCODING=ascii``) is replaced, so that
printing never fails.
"""

from __future__ import annotations

import codecs
import contextlib
import os
import unicodedata
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.segment import Segment

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType

_KEPT = "\n\t"  # what a task's output may hold and a terminal shows as it means
_PICTURES = {0x7F: "\u2421"}  # DEL as ␡; C0 controls below as U+2400 + code (␀ .. ␟)
_REPLACEMENT = "\ufffd"
# Cc: C0, DEL and C1 controls; Cf: bidi overrides, zero-width joiners and the like;
# Cs: lone surrogates, which no encoding can write; Zl, Zp: line and paragraph separators.
HIDDEN_CATEGORIES = ("Cc", "Cf", "Cs", "Zl", "Zp")


def _picture(char: str) -> str:
    code = ord(char)
    if code < 0x20:
        return chr(0x2400 + code)
    return _PICTURES.get(code, _REPLACEMENT)


@lru_cache(maxsize=4096)
def _is_hidden(char: str) -> bool:
    if char in _KEPT:
        return False
    return unicodedata.category(char) in HIDDEN_CATEGORIES


def visible(text: str) -> str:
    """``text`` with each control, format or surrogate character made visible."""
    if text.isprintable():
        return text
    return "".join(_picture(c) if _is_hidden(c) else c for c in text)


def encodable(text: str, encoding: str) -> str:
    """``text`` with what ``encoding`` cannot hold replaced by ``?``."""
    try:
        text.encode(encoding)
    except UnicodeEncodeError:
        return text.encode(encoding, errors="replace").decode(encoding, errors="replace")
    except LookupError:
        return text
    return text


class SafeConsole(Console):
    """A rich Console whose text is made visible and encodable before it is written.

    Rich's own styling is carried by the segments' styles and control segments,
    not by their text, so escaping the text of every plain segment leaves it intact.
    """

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        encoding = self.encoding
        for segment in super().render(renderable, options):
            if segment.control:
                yield segment
            else:
                text = encodable(visible(segment.text), encoding)
                yield Segment(text, segment.style) if text is not segment.text else segment

    def on_broken_pipe(self) -> None:
        """The reader went away (``conlab show | head -1``): a normal end, not an error.

        Rich exits with 1 here. The rest is printed nowhere, so that the command
        still finishes what it does besides printing (its files) and exits 0.
        """
        self.quiet = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self.file.fileno())


def console(**kwargs: Any) -> SafeConsole:
    """A console for conlab's output: see :class:`SafeConsole`."""
    return SafeConsole(**kwargs)


def stream_encoding(stream: Any) -> str:
    """The encoding of a text stream, normalised (``utf-8`` when it says nothing)."""
    name = getattr(stream, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "utf-8"
