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
from itertools import pairwise

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cityloop.router.classification.calibration import Bar, Calibration, probabilities
from cityloop.router.classification.segment import normalise, words

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


class _WordAnalyzer:
    """Words and adjacent word pairs, with the model's keywords in the segmenter's dictionary."""

    def __init__(self, keywords: frozenset[str]) -> None:
        self._keywords = keywords

    def __call__(self, text: str) -> list[str]:
        tokens = words(text, self._keywords)
        return tokens + [f"{a} {b}" for a, b in pairwise(tokens)]


def _char_text(text: str) -> str:
    return "".join(ch for ch in normalise(text) if ch.isalnum())


class TextClassifier:
    def __init__(
        self,
        *,
        word_vec: TfidfVectorizer,
        char_vec: TfidfVectorizer,
        coef: np.ndarray,
        intercept: np.ndarray,
        classes: list[str],
        keywords: dict[str, list[str]],
        calibration: Calibration | None = None,
    ) -> None:
        self._word_vec = word_vec
        self._char_vec = char_vec
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
        all_keywords = frozenset(kw for kws in keywords.values() for kw in kws)
        word_vec = _word_vectorizer(all_keywords)
        char_vec = _char_vectorizer()
        x = sp.hstack([word_vec.fit_transform(texts), char_vec.fit_transform([_char_text(t) for t in texts])]).tocsr()
        model = LogisticRegression(C=c, max_iter=300, tol=1e-3)
        model.fit(x, list(labels))
        return cls(
            word_vec=word_vec,
            char_vec=char_vec,
            coef=model.coef_.astype(np.float32),
            intercept=model.intercept_.astype(np.float32),
            classes=[str(c) for c in model.classes_],
            keywords={k: list(v) for k, v in keywords.items()},
        )

    # ------------------------------------------------------------------ prediction
    def _features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack(
            [self._word_vec.transform(texts), self._char_vec.transform([_char_text(t) for t in texts])]
        ).tocsr()

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
            word_vec=self._word_vec,
            char_vec=self._char_vec,
            coef=self._coef,
            intercept=self._intercept,
            classes=self.classes,
            keywords=self.keywords,
            calibration=calibration,
        )

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, list[list[list[str]]]]:
        """Uncalibrated logits (keyword evidence included), one row per text, and the keywords found
        per text and class."""
        logits = np.asarray(self._features(texts) @ self._coef.T) + self._intercept
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
        word_terms, word_idx = _vocab_arrays(self._word_vec)
        char_terms, char_idx = _vocab_arrays(self._char_vec)
        np.savez_compressed(
            buffer,
            word_terms=word_terms,
            word_idx=word_idx,
            word_idf=self._word_vec.idf_,
            char_terms=char_terms,
            char_idx=char_idx,
            char_idf=self._char_vec.idf_,
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
            word_vec = _restore(_word_vectorizer(all_keywords), z["word_terms"], z["word_idx"], z["word_idf"])
            char_vec = _restore(_char_vectorizer(), z["char_terms"], z["char_idx"], z["char_idf"])
            return cls(
                word_vec=word_vec,
                char_vec=char_vec,
                coef=z["coef"],
                intercept=z["intercept"],
                classes=[str(c) for c in z["classes"]],
                keywords=keywords,
                calibration=Calibration.from_json(str(z["calibration"])) if "calibration" in z.files else None,
            )


def _word_vectorizer(keywords: frozenset[str]) -> TfidfVectorizer:
    return TfidfVectorizer(analyzer=_WordAnalyzer(keywords), sublinear_tf=True, min_df=2, dtype=np.float32)


def _char_vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True, min_df=2, dtype=np.float32)


def _vocab_arrays(vec: TfidfVectorizer) -> tuple[np.ndarray, np.ndarray]:
    items = sorted(vec.vocabulary_.items(), key=lambda kv: kv[1])
    return np.array([t for t, _ in items]), np.array([i for _, i in items], dtype=np.int64)


def _restore(vec: TfidfVectorizer, terms: np.ndarray, idx: np.ndarray, idf: np.ndarray) -> TfidfVectorizer:
    vec.vocabulary_ = {str(t): int(i) for t, i in zip(terms, idx, strict=True)}
    vec.idf_ = idf
    return vec
