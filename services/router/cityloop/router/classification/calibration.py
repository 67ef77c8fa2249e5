"""Calibrated confidence and the bar for routing without a person. Pure functions over arrays.

The classifier's raw probabilities are spread over ~100 classes, so a clear winner can sit at 0.48 with the
runner-up at 0.02. Temperature scaling (one parameter, fitted by likelihood on held-out generated requests)
makes the top probability mean what it says; the decision then asks for a calibrated confidence AND a
margin over the runner-up, with a stricter bar for a category group where the held-out data shows one is
needed.
"""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

#: share of all held-out requests we accept to route automatically to a wrong category when choosing a bar
TARGET_MISROUTED = 0.02
#: a group gets a stricter bar of its own when, at the common bar, it misroutes more than this share of
#: the requests the model puts in it (and that bar keeps it within this share)
GROUP_TOLERANCE = 0.04
#: fewer held-out requests than this in a group: too few to set a bar of its own
GROUP_MIN_REQUESTS = 20
_CONFIDENCES = np.round(np.arange(0.0, 0.951, 0.05), 2)
_MARGINS = np.round(np.arange(0.0, 0.901, 0.05), 2)


@dataclass(frozen=True)
class Bar:
    """Route without a person when calibrated confidence >= ``confidence`` and top1 - top2 >= ``margin``."""

    confidence: float
    margin: float

    def passes(self, confidence: float, margin: float) -> bool:
        return confidence >= self.confidence and margin >= self.margin


@dataclass(frozen=True)
class Calibration:
    temperature: float = 1.0
    bar: Bar = field(default_factory=lambda: Bar(0.5, 0.0))
    #: stricter bars for category groups (first segment of the code) that need one
    groups: Mapping[str, Bar] = field(default_factory=dict)

    def bar_for(self, category: str) -> Bar:
        return self.groups.get(group_of(category), self.bar)

    def as_dict(self) -> dict[str, object]:
        return {
            "temperature": self.temperature,
            "bar": [self.bar.confidence, self.bar.margin],
            "groups": {g: [b.confidence, b.margin] for g, b in sorted(self.groups.items())},
        }

    def to_json(self) -> str:
        return json.dumps(self.as_dict())

    @classmethod
    def from_json(cls, text: str) -> "Calibration":
        raw = json.loads(text)
        return cls(
            temperature=float(raw["temperature"]),
            bar=Bar(*raw["bar"]),
            groups={g: Bar(*b) for g, b in raw["groups"].items()},
        )


def group_of(category: str) -> str:
    return category.split(".", 1)[0]


def probabilities(scores: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``scores / temperature`` (as scipy.special.softmax computes it; numpy only, so a
    router that only predicts never imports scipy)."""
    shifted = scores / temperature
    exp = np.exp(shifted - shifted.max(axis=-1, keepdims=True))
    return np.asarray(exp / exp.sum(axis=-1, keepdims=True))


def top_two(probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(confidence, margin) per row: the top probability and its lead over the runner-up."""
    ordered = np.sort(probs, axis=-1)
    return ordered[..., -1], ordered[..., -1] - ordered[..., -2]


def fit_temperature(scores: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that maximises the likelihood of the true labels (``labels``: column indexes)."""
    # scipy only when calibrating (training): a router that only predicts never imports it.
    from scipy.optimize import minimize_scalar  # noqa: PLC0415
    from scipy.special import log_softmax  # noqa: PLC0415

    def nll(temperature: float) -> float:
        logp = log_softmax(scores / temperature, axis=-1)
        return float(-logp[np.arange(len(labels)), labels].mean())

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded").x)


def choose_bar(confidence: np.ndarray, margin: np.ndarray, correct: np.ndarray, *, misrouted: float) -> Bar:
    """The bar that routes the most requests automatically while misrouting at most ``misrouted`` of all;
    among equally good bars the strictest. When none is that good: the strictest bar there is."""
    n = len(correct)
    best, best_routed = Bar(float(_CONFIDENCES[-1]), float(_MARGINS[-1])), -1
    for c in _CONFIDENCES:
        for m in _MARGINS:
            auto = (confidence >= c) & (margin >= m)
            wrong = int((auto & ~correct).sum())
            routed = int(auto.sum())
            if wrong <= misrouted * n and routed >= best_routed:
                best, best_routed = Bar(float(c), float(m)), routed
    return best


def calibrate(
    scores: np.ndarray,
    labels: Sequence[str],
    classes: Sequence[str],
    *,
    misrouted: float = TARGET_MISROUTED,
) -> Calibration:
    """Fit the temperature and the bars on held-out requests: ``scores`` are the model's logits (keyword
    evidence included), one row per request, columns in ``classes`` order."""
    index = {code: i for i, code in enumerate(classes)}
    truth = np.array([index[label] for label in labels])
    temperature = fit_temperature(scores, truth)
    probs = probabilities(scores, temperature)
    confidence, margin = top_two(probs)
    correct = probs.argmax(axis=-1) == truth
    bar = choose_bar(confidence, margin, correct, misrouted=misrouted)
    groups: dict[str, Bar] = {}
    predicted_groups = np.array([group_of(classes[i]) for i in probs.argmax(axis=-1)])
    for group in sorted({group_of(c) for c in classes}):
        # A bar applies to what the model says, so a group is judged on the requests it was given.
        mine = predicted_groups == group
        if mine.sum() < GROUP_MIN_REQUESTS:
            continue
        auto = (confidence[mine] >= bar.confidence) & (margin[mine] >= bar.margin)
        if (auto & ~correct[mine]).sum() > GROUP_TOLERANCE * mine.sum():
            own = choose_bar(confidence[mine], margin[mine], correct[mine], misrouted=GROUP_TOLERANCE)
            groups[group] = Bar(max(own.confidence, bar.confidence), max(own.margin, bar.margin))
    return Calibration(round(temperature, 4), bar, groups)
