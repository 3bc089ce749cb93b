"""Pure-Python text preprocessing: tokenising and counting words and pairs, holding the GIL.

The lesson's "ML preprocessing". Each task gets its own generated text; the
answer is checked against an independent count made with ``re`` and ``Counter``.
"""

from __future__ import annotations

import itertools
import os
import random
import re
from collections import Counter
from typing import Any

from conlab.model import Task, Workload
from conlab.workloads.params import at_least

# About 0.2 s of tokenising per task on the reference machine (2 cores, CPython 3.11).
CHARS = 1_200_000
TOP = 10


def corpus(seed: int, chars: int) -> str:
    """Sentences of made-up words, with capitals and punctuation, ``chars`` characters long."""
    rng = random.Random(seed)
    letters = "etaoinshrdlucmfwypvbgkjqxz"
    vocabulary = ["".join(rng.choices(letters, k=rng.randint(2, 9))) for _ in range(2000)] + [
        "don't",
        "it's",
        "42",
        "2024",
    ]
    # Zipf-like frequencies, as in real text.
    cum_weights = list(itertools.accumulate(1 / (rank + 1) for rank in range(len(vocabulary))))
    # A quarter of the text is drawn, then repeated: as costly to tokenise, four times cheaper to make.
    words = rng.choices(vocabulary, cum_weights=cum_weights, k=chars // 20 + 16)
    ends = rng.choices([". ", "! ", "? ", ", ", "; "], k=len(words) // 4 + 1)
    parts: list[str] = []
    at = 0
    for end in ends:
        length = 4 + (at * 7919) % 13
        parts.append(" ".join(words[at : at + length]).capitalize() + end)
        at += length
        if at >= len(words):
            break
    text = "".join(parts)
    while len(text) < chars:
        text += text
    return text[:chars]


def tokenise(text: str) -> list[str]:
    """Lower-cased runs of letters, digits and apostrophes, scanned one character at a time."""
    tokens = []
    word: list[str] = []
    for ch in text:
        if ch.isalnum() or ch == "'":
            word.append(ch.lower())
        elif word:
            tokens.append("".join(word))
            word = []
    if word:
        tokens.append("".join(word))
    return tokens


def _top(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]


def count_words(text: str) -> dict[str, Any]:
    """Tokens, distinct words, distinct pairs of neighbours and the most frequent words."""
    tokens = tokenise(text)
    counts: dict[str, int] = {}
    for token in tokens:
        counts[token] = counts.get(token, 0) + 1
    pairs: dict[tuple[str, str], int] = {}
    for pair in itertools.pairwise(tokens):
        pairs[pair] = pairs.get(pair, 0) + 1
    return {
        "tokens": len(tokens),
        "distinct": len(counts),
        "pairs": len(pairs),
        "top": _top(counts),
    }


def count_words_re(text: str) -> dict[str, Any]:
    """The same answer by another road: a regular expression and Counter."""
    tokens = re.findall(r"[a-z0-9']+", text.lower())
    counts = Counter(tokens)
    return {
        "tokens": len(tokens),
        "distinct": len(counts),
        "pairs": len(set(itertools.pairwise(tokens))),
        "top": _top(counts),
    }


def workload(tasks: int | None = None, size: float = 1.0) -> Workload:
    """``tasks`` texts (4 × cores by default), each about ``size`` × 0.2 s of tokenising."""
    owner = "the text workload"
    n = tasks if tasks is not None else 4 * (os.cpu_count() or 1)
    at_least(owner, "tasks", n, 1)
    at_least(owner, "size", size, 0)
    texts = [corpus(k, max(1, int(CHARS * size))) for k in range(n)]
    return Workload(
        name="text",
        kind="cpu",
        description="tokenising and counting words in pure Python (holds the GIL)",
        params={"tasks": n, "size": size},
        tasks=[Task(count_words, (t,), name=f"text[{k}]") for k, t in enumerate(texts)],
        expected=[count_words_re(t) for t in texts],
    )
