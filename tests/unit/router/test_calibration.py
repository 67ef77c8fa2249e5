"""Calibrated confidence and the bar for routing without a person, pinned on small fixed sets."""

import numpy as np

from cityloop.router.classification.calibration import (
    Bar,
    Calibration,
    calibrate,
    choose_bar,
    fit_temperature,
    probabilities,
    top_two,
)
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, RoutingTicket, route
from cityloop.router.masterdata.model import MasterData

CLASSES = ["sanitation.garbage", "sanitation.greening", "transport.pothole", "water.outage"]


def _scores(rng: np.random.Generator, n: int, right: float, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """``n`` rows of logits over CLASSES whose top class is the truth a share ``right`` of the time."""
    truth = rng.integers(0, len(CLASSES), n)
    scores = rng.normal(0.0, 1.0, (n, len(CLASSES)))
    top = np.where(rng.random(n) < right, truth, (truth + 1) % len(CLASSES))
    scores[np.arange(n), top] += 3.0
    return scores * scale, truth


def test_the_temperature_undoes_a_model_that_is_too_timid_or_too_bold() -> None:
    rng = np.random.default_rng(7)
    scores, truth = _scores(rng, 400, right=0.9, scale=1.0)
    fitted = fit_temperature(scores, truth)
    # The same evidence squeezed (timid) or stretched (bold) by 3: the fitted temperature follows, so the
    # calibrated probabilities come out the same.
    assert abs(fit_temperature(scores / 3, truth) - fitted / 3) < 0.02
    assert abs(fit_temperature(scores * 3, truth) - fitted * 3) < 0.05
    accuracy = float((scores.argmax(axis=1) == truth).mean())

    def gap(probs: np.ndarray) -> float:
        """How far the mean top probability is from the share of tops that are right."""
        return abs(float(top_two(probs)[0].mean()) - accuracy)

    assert gap(probabilities(scores / 3)) > 0.35  # timid: says 0.47 where it is right 0.87 of the time
    assert gap(probabilities(scores * 3)) > 0.09  # bold: says 0.96
    assert gap(probabilities(scores / 3, fit_temperature(scores / 3, truth))) < 0.06
    assert gap(probabilities(scores * 3, fit_temperature(scores * 3, truth))) < 0.06


def test_the_bar_routes_the_most_while_misrouting_at_most_the_target() -> None:
    confidence = np.array([0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.55, 0.4, 0.35, 0.2])
    margin = np.array([0.9, 0.85, 0.1, 0.7, 0.6, 0.5, 0.3, 0.2, 0.1, 0.05])
    correct = np.array([True, True, False, True, True, True, True, False, True, False])
    # No misroute allowed: the confident-but-close wrong one (0.85 / 0.10) is kept out by the margin, the
    # 0.40 one by the confidence; six are routed, and of the bars that do that the strictest is chosen.
    assert choose_bar(confidence, margin, correct, misrouted=0.0) == Bar(0.55, 0.3)
    # One in ten allowed: seven can go (letting the 0.85 one through, or the 0.40 one); again the strictest.
    assert choose_bar(confidence, margin, correct, misrouted=0.1) == Bar(0.55, 0.1)
    # Nothing meets the target: the strictest bar there is (only the surest go without a person).
    assert choose_bar(confidence, margin, ~correct, misrouted=0.0) == Bar(0.95, 0.9)


def test_a_group_that_misroutes_at_the_common_bar_gets_a_stricter_one() -> None:
    rng = np.random.default_rng(11)
    rows, labels = [], []

    def request(truth: int, evidence: dict[int, float]) -> None:
        row = rng.normal(0.0, 0.3, len(CLASSES))
        for i, lift in evidence.items():
            row[i] += lift
        rows.append(row)
        labels.append(CLASSES[truth])

    for _ in range(60):
        for i in (0, 1, 3):  # garbage, greening, water outage: clear, right
            request(i, {i: 6.0})
    for k in range(60):
        # potholes: clear, except three water matters the model also calls potholes, less surely
        request(3, {2: 4.0, 3: 3.0}) if k % 20 == 0 else request(2, {2: 6.0})
    # Over all 240 the three wrong ones stay within the target (1.25%), so the common bar lets them through;
    # among the 60 the model calls transport they are 5%, too many: transport gets a margin of its own.
    calibration = calibrate(np.array(rows), labels, CLASSES)
    assert set(calibration.groups) == {"transport"}
    assert calibration.bar_for("sanitation.garbage") == calibration.bar
    strict = calibration.bar_for("transport.pothole")
    assert strict.confidence >= calibration.bar.confidence
    assert strict.margin >= calibration.bar.margin
    assert strict != calibration.bar
    assert Calibration.from_json(calibration.to_json()) == calibration


def test_route_asks_for_the_calibrated_confidence_and_the_margin(master: MasterData) -> None:
    location = locate("浦东新区花木街道锦绣路1001号", None, None, master)

    def decide(confidence: float, margin: float) -> tuple[str, str | None, object]:
        c = Classification(
            "sanitation.garbage",
            confidence,
            "model",
            (("sanitation.garbage", confidence), ("sanitation.greening", confidence - margin)),
            ("垃圾",),
            margin=margin,
            bar=(0.6, 0.3),
        )
        decision = route(RoutingTicket("T1", c, location), master)
        return decision.outcome, decision.queue_reason, decision.why.get("problem")

    assert decide(0.9, 0.8)[0] == "dispatch"
    # An absolute 0.5 would have sent 0.48 with a runner-up at 0.02 to a person; the bar is the model's.
    sure = route(
        RoutingTicket(
            "T1",
            Classification("sanitation.garbage", 0.48, "model", (), ("垃圾",), margin=0.46, bar=(0.45, 0.3)),
            location,
        ),
        master,
    )
    assert sure.outcome == "dispatch"
    assert sure.why["keywords"] == ["垃圾"]
    assert sure.why["bar"] == {"confidence": 0.45, "margin": 0.3}
    assert decide(0.5, 0.4) == ("needs_dispatcher", "low_confidence", "calibrated confidence 0.50 below 0.60")
    assert decide(0.7, 0.2) == ("needs_dispatcher", "low_confidence", "margin over the runner-up 0.20 below 0.30")
