"""Fitting the classifier's linear part with scikit-learn: TF-IDF over words and word pairs and over
character 1-3-grams, then a multinomial logistic regression. The only module that imports scikit-learn;
it is imported where a model is trained, never to predict (features.py does that with numpy)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from cityloop.router.classification.features import (
    CHAR_NGRAMS,
    Analyzer,
    TfIdf,
    WordAnalyzer,
    char_ngrams,
    char_text,
)


@dataclass(frozen=True)
class Fitted:
    word_vec: TfidfVectorizer
    char_vec: TfidfVectorizer
    regression: LogisticRegression

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        return sp.hstack(
            [self.word_vec.transform(texts), self.char_vec.transform([char_text(t) for t in texts])]
        ).tocsr()

    def word(self) -> TfIdf:
        return _as_data(self.word_vec, self.word_vec.analyzer)

    def char(self) -> TfIdf:
        return _as_data(self.char_vec, char_ngrams)


def fit(texts: Sequence[str], labels: Sequence[str], keywords: frozenset[str], *, c: float) -> Fitted:
    # The options features.py reproduces at prediction time: change them together.
    word_vec = TfidfVectorizer(analyzer=WordAnalyzer(keywords), sublinear_tf=True, min_df=2, dtype=np.float32)
    char_vec = TfidfVectorizer(analyzer="char", ngram_range=CHAR_NGRAMS, sublinear_tf=True, min_df=2, dtype=np.float32)
    x = sp.hstack([word_vec.fit_transform(texts), char_vec.fit_transform([char_text(t) for t in texts])]).tocsr()
    regression = LogisticRegression(C=c, max_iter=300, tol=1e-3)
    regression.fit(x, list(labels))
    return Fitted(word_vec, char_vec, regression)


def _as_data(vec: TfidfVectorizer, analyze: Analyzer) -> TfIdf:
    vocabulary = {str(term): int(column) for term, column in vec.vocabulary_.items()}
    return TfIdf(vocabulary, np.asarray(vec.idf_, dtype=np.float32), analyze)
