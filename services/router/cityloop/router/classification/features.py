"""The classifier's text features at prediction time, with numpy only: TF-IDF as scikit-learn's
``TfidfVectorizer`` computes it for the options training uses (fitting.py): raw counts, sublinear tf
(1 + log tf), times idf, each vectorizer's row L2-normalised, in float32.

Why not scikit-learn itself: importing it (and the scipy.stats it pulls in) costs the router ~100 MB of
memory for three lines of arithmetic. scikit-learn is imported only where a model is trained.
"""

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from cityloop.router.classification.segment import normalise, words

Analyzer = Callable[[str], list[str]]


class WordAnalyzer:
    """Words and adjacent word pairs, with the model's keywords in the segmenter's dictionary."""

    def __init__(self, keywords: frozenset[str]) -> None:
        self._keywords = keywords

    def __call__(self, text: str) -> list[str]:
        tokens = words(text, self._keywords)
        return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def char_text(text: str) -> str:
    """What the character n-grams are taken from: letters and digits only."""
    return "".join(ch for ch in normalise(text) if ch.isalnum())


#: the character n-gram lengths (scikit-learn's ``ngram_range``)
CHAR_NGRAMS = (1, 3)


def char_ngrams(text: str) -> list[str]:
    """scikit-learn's ``analyzer="char"`` (lowercase, no accent stripping) over ``char_text``: every
    substring of 1-3 characters."""
    # scikit-learn lowercases again and collapses runs of white space: char_text leaves none.
    doc = char_text(text).lower()
    low, high = CHAR_NGRAMS
    return [doc[i : i + n] for n in range(low, min(high, len(doc)) + 1) for i in range(len(doc) - n + 1)]


@dataclass(frozen=True)
class TfIdf:
    """A fitted vectorizer as data: term -> column, and each column's idf (float32)."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    analyze: Analyzer

    def weights(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The non-zero columns of ``text``'s row (ascending) and their L2-normalised tf-idf weights."""
        vocabulary = self.vocabulary
        counts = Counter(j for term in self.analyze(text) if (j := vocabulary.get(term)) is not None)
        if not counts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        columns = np.fromiter(sorted(counts), dtype=np.int64, count=len(counts))
        tf = np.array([counts[int(j)] for j in columns], dtype=np.float32)
        values = (np.log(tf) + np.float32(1.0)) * self.idf[columns]
        norm = np.sqrt(np.dot(values, values))
        if norm > 0:
            values /= norm
        return columns, values.astype(np.float32, copy=False)


def linear_scores(texts: list[str], parts: list[TfIdf], coef: np.ndarray, intercept: np.ndarray) -> np.ndarray:
    """``[features of every part side by side] @ coef.T + intercept``, one row per text, without building
    the feature matrix: each row gathers only its non-zero columns of ``coef``."""
    out = np.empty((len(texts), coef.shape[0]), dtype=np.float32)
    offsets = np.cumsum([0] + [len(p.idf) for p in parts])
    for row, text in enumerate(texts):
        columns, values = [], []
        for part, offset in zip(parts, offsets, strict=False):
            c, v = part.weights(text)
            columns.append(c + offset)
            values.append(v)
        cols, vals = np.concatenate(columns), np.concatenate(values)
        out[row] = coef[:, cols] @ vals + intercept
    return out
