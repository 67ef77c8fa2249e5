"""The classifier predicts with numpy alone (features.py) exactly as scikit-learn's fitted vectorizers and
regression would, and a router that only predicts never imports scikit-learn or scipy."""

import subprocess
import sys

import numpy as np
import pytest

from cityloop.router.classification.calibration import probabilities
from cityloop.router.classification.evaluation import realistic_requests
from cityloop.router.classification.fitting import Fitted, fit
from cityloop.router.classification.generator import generate
from cityloop.router.classification.model import TextClassifier
from cityloop.router.classification.training import catalogue_keywords
from cityloop.router.data.files import REALISTIC_BLIND_FILE


@pytest.fixture(scope="module")
def fitted() -> tuple[Fitted, TextClassifier]:
    keywords = catalogue_keywords()
    data = generate(per_category=12, seed=11)
    all_keywords = frozenset(kw for kws in keywords.values() for kw in kws)
    result = fit([r.text for r in data], [r.category for r in data], all_keywords, c=10.0)
    # through storage, as the router loads it
    return result, TextClassifier.from_bytes(TextClassifier.from_fitted(result, keywords).to_bytes())


def test_numpy_scores_and_probabilities_equal_scikit_learns(fitted: tuple[Fitted, TextClassifier]) -> None:
    sk, lean = fitted
    texts = [r.text for r in realistic_requests() + realistic_requests(REALISTIC_BLIND_FILE)]
    texts += ["", "１２３４５６", "ABC abc  垃圾\t分类!!", "路灯不亮路灯不亮路灯不亮"]
    expected = sk.regression.decision_function(sk.features(texts))
    got = lean.linear_scores(texts)
    assert got.shape == expected.shape
    assert np.allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert np.allclose(probabilities(got), sk.regression.predict_proba(sk.features(texts)), rtol=1e-5, atol=1e-6)


def test_numpy_predictions_equal_scikit_learns_on_the_realistic_set(fitted: tuple[Fitted, TextClassifier]) -> None:
    sk, lean = fitted
    texts = [r.text for r in realistic_requests()]
    # the keyword evidence on top of the regression is the same code on both sides
    keyword_evidence = lean.scores(texts)[0] - lean.linear_scores(texts)
    expected = probabilities(sk.regression.decision_function(sk.features(texts)) + keyword_evidence)
    predictions = lean.predict_many(texts)
    assert [p.category for p in predictions] == [lean.classes[int(i)] for i in expected.argmax(axis=1)]
    assert np.allclose([p.confidence for p in predictions], expected.max(axis=1), rtol=1e-5, atol=1e-6)


def test_a_router_that_only_predicts_never_imports_scikit_learn_or_scipy() -> None:
    code = (
        "import sys, cityloop.router.app, cityloop.router.classification.model;"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'sklearn', 'scipy'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
