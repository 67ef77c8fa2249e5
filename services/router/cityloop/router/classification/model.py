"""The classifier: TF-IDF over jieba words (and word pairs) and character n-grams (robust to typos),
a multinomial logistic regression, and the catalogue's keywords added as evidence on top. Its
probabilities are calibrated (calibration.py) and each prediction carries the bar it must pass to be
routed without a person.

Stored as plain arrays (numpy ``.npz``, no pickle): a row in the database can hold a model but can never
run code when loaded.
"""

import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cityloop.router.classification.calibration import Bar, Calibration, probabilities
from cityloop.router.classification.features import Analyzer, TfIdf, WordAnalyzer, char_ngrams, linear_scores
from cityloop.router.classification.segment import normalise

if TYPE_CHECKING:
    from cityloop.router.classification.fitting import Fitted

#: How much one catalogue keyword found in the text adds to a category's score (in logits).
KEYWORD_WEIGHT = 1.0


@dataclass(frozen=True)
class Prediction:
    category: str
    #: calibrated probability of ``category``
    confidence: float
    #: the best few (category, calibrated probability), best first
    candidates: list[tuple[str, float]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    #: calibrated top-1 minus top-2
    margin: float = 0.0
    #: what ``confidence`` and ``margin`` must reach for ``category`` to be routed without a person
    bar: Bar = field(default_factory=lambda: Bar(0.5, 0.0))


class TextClassifier:
    def __init__(
        self,
        *,
        word: TfIdf,
        char: TfIdf,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: list[str],
        keywords: dict[str, list[str]],
        calibration: Calibration | None = None,
    ) -> None:
        self._word = word
        self._char = char
        self._coef = coef
        self._intercept = intercept
        self.classes = classes
        self.keywords = keywords
        #: a model stored before calibration existed keeps the old rule: raw probability >= 0.5
        self.calibration = calibration or Calibration()
        self._kw_index = [(kw, i) for i, code in enumerate(classes) for kw in keywords.get(code, [])]

    # ------------------------------------------------------------------ training
    @classmethod
    def train(
        cls, texts: Sequence[str], labels: Sequence[str], keywords: dict[str, list[str]], *, c: float = 10.0
    ) -> "TextClassifier":
        from cityloop.router.classification.fitting import fit  # noqa: PLC0415 - scikit-learn: ~100 MB, training only

        all_keywords = frozenset(kw for kws in keywords.values() for kw in kws)
        return cls.from_fitted(fit(texts, labels, all_keywords, c=c), keywords)

    @classmethod
    def from_fitted(cls, fitted: "Fitted", keywords: dict[str, list[str]]) -> "TextClassifier":
        return cls(
            word=fitted.word(),
            char=fitted.char(),
            coef=fitted.regression.coef_.astype(np.float32),
            intercept=fitted.regression.intercept_.astype(np.float32),
            classes=[str(c) for c in fitted.regression.classes_],
            keywords={k: list(v) for k, v in keywords.items()},
        )

    # ------------------------------------------------------------------ prediction
    def linear_scores(self, texts: Sequence[str]) -> np.ndarray:
        """The logistic regression's logits (no keyword evidence), one row per text."""
        return linear_scores(list(texts), [self._word, self._char], self._coef, self._intercept)

    def _keyword_hits(self, text: str) -> tuple[np.ndarray, list[list[str]]]:
        hits = np.zeros(len(self.classes), dtype=np.float32)
        found: list[list[str]] = [[] for _ in self.classes]
        norm = normalise(text)
        for kw, i in self._kw_index:
            if kw in norm:
                hits[i] += 1.0
                found[i].append(kw)
        return hits, found

    def with_calibration(self, calibration: Calibration) -> "TextClassifier":
        return TextClassifier(
            word=self._word,
            char=self._char,
            coef=self._coef,
            intercept=self._intercept,
            classes=self.classes,
            keywords=self.keywords,
            calibration=calibration,
        )

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[list[str]]]]:
        """Uncalibrated logits (keyword evidence included), one row per text, and the keywords found
        per text and class."""
        logits = self.linear_scores(texts)
        found_all = []
        for i, text in enumerate(texts):
            hits, found = self._keyword_hits(text)
            logits[i] += KEYWORD_WEIGHT * hits
            found_all.append(found)
        return logits, found_all

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        if not texts:
            return []
        scores, found = self.scores(texts)
        out = []
        for probs, found_here in zip(probabilities(scores, self.calibration.temperature), found, strict=True):
            order = np.argsort(-probs)[:3]
            best = int(order[0])
            category = self.classes[best]
            out.append(
                Prediction(
                    category=category,
                    confidence=float(probs[best]),
                    candidates=[(self.classes[int(i)], round(float(probs[int(i)]), 4)) for i in order],
                    keywords=found_here[best],
                    margin=float(probs[best] - probs[int(order[1])]),
                    bar=self.calibration.bar_for(category),
                )
            )
        return out

    def predict(self, text: str) -> Prediction:
        return self.predict_many([text])[0]

    # ------------------------------------------------------------------ storage
    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        word_terms, word_idx = _vocab_arrays(self._word)
        char_terms, char_idx = _vocab_arrays(self._char)
        np.savez_compressed(
            buffer,
            word_terms=word_terms,
            word_idx=word_idx,
            word_idf=self._word.idf,
            char_terms=char_terms,
            char_idx=char_idx,
            char_idf=self._char.idf,
            coef=self._coef,
            intercept=self._intercept,
            classes=np.array(self.classes),
            keywords=np.array(json.dumps(self.keywords, ensure_ascii=False)),
            calibration=np.array(self.calibration.to_json()),
        )
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, blob: bytes) -> "TextClassifier":
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            keywords: dict[str, list[str]] = json.loads(str(z["keywords"]))
            all_keywords = frozenset(kw for kws in keywords.values() for kw in kws)
            return cls(
                word=_restore(WordAnalyzer(all_keywords), z["word_terms"], z["word_idx"], z["word_idf"]),
                char=_restore(char_ngrams, z["char_terms"], z["char_idx"], z["char_idf"]),
                coef=z["coef"],
                intercept=z["intercept"],
                classes=[str(c) for c in z["classes"]],
                keywords=keywords,
                calibration=Calibration.from_json(str(z["calibration"])) if "calibration" in z.files else None,
            )


def _vocab_arrays(vectorizer: TfIdf) -> tuple[np.ndarray, np.ndarray]:
    items = sorted(vectorizer.vocabulary.items(), key=lambda kv: kv[1])
    return np.array([t for t, _ in items]), np.array([i for _, i in items], dtype=np.int64)


def _restore(analyze: Analyzer, terms: np.ndarray, idx: np.ndarray, idf: np.ndarray) -> TfIdf:
    # str(t) of a numpy unicode scalar: a plain str, so the arrays can be freed after loading.
    vocabulary = {str(t): int(i) for t, i in zip(terms, idx, strict=True)}
    return TfIdf(vocabulary, np.asarray(idf, dtype=np.float32), analyze)
