"""Classification and routing quality: ``python -m cityloop.router.cli evaluate [--per-category N]``.

The model is trained exactly as in production (training.train_model: generated seed examples, calibrated
on generated requests it never saw), then measured on two sets:

- realistic: data/realistic_requests.jsonl, requests written by hand in citizens' own words the way a
  call-taker types them; never generated, never trained on (and data/realistic_requests_blind.jsonl,
  written the same way before the last round of training-side changes and only measured after it);
- generated hold-out: the generator's requests under another seed.

For each: top-1 accuracy, the share routed without a person, the accuracy among those, and the share of
all requests routed without a person to a wrong category. "after" is the calibrated rule (confidence and
margin, bars per group); "before" the same model under the old rule (raw probability >= 0.5).
"""

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cityloop.router.classification.calibration import Calibration
from cityloop.router.classification.generator import generate
from cityloop.router.classification.model import Prediction, TextClassifier
from cityloop.router.classification.training import catalogue_keywords, train_model, training_set
from cityloop.router.data.files import REALISTIC_BLIND_FILE, REALISTIC_FILE, master_from_files
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, RoutingPolicy, RoutingTicket, route
from cityloop.router.masterdata.model import MasterData
from cityloop.router.settings import RouterSettings


@dataclass(frozen=True)
class Labelled:
    text: str
    category: str


@dataclass(frozen=True)
class Figures:
    n: int
    top1: float
    #: share routed without a person (dispatched or handed over on the model's word)
    automatic: float
    #: category right, among those
    accuracy_automatic: float
    #: share of ALL requests routed without a person to a wrong category
    misrouted: float


def realistic_requests(path: Path = REALISTIC_FILE) -> list[Labelled]:
    with path.open(encoding="utf-8") as fh:
        return [Labelled(**json.loads(line)) for line in fh if line.strip()]


def routed_automatically(p: Prediction, master: MasterData, policy: RoutingPolicy) -> bool:
    """Would route() act on this prediction without a dispatcher's confirmation? (The location plays no
    part in that question: an unresolved one is a different queue.)"""
    classification = Classification(
        p.category,
        p.confidence,
        "model",
        tuple(p.candidates),
        tuple(p.keywords),
        p.margin,
        (p.bar.confidence, p.bar.margin),
    )
    decision = route(RoutingTicket("eval", classification, locate(None, None, None, master)), master, policy=policy)
    return decision.queue_reason != "low_confidence"


def figures(model: TextClassifier, requests: Sequence[Labelled], master: MasterData, policy: RoutingPolicy) -> Figures:
    predictions = model.predict_many([r.text for r in requests])
    right = [p.category == r.category for p, r in zip(predictions, requests, strict=True)]
    auto = [routed_automatically(p, master, policy) for p in predictions]
    n = len(requests)
    n_auto = sum(auto)
    wrong_auto = sum(a and not ok for a, ok in zip(auto, right, strict=True))
    return Figures(n, sum(right) / n, n_auto / n, (n_auto - wrong_auto) / max(1, n_auto), wrong_auto / n)


def _line(label: str, f: Figures) -> str:
    return (
        f"  {label:<7} top-1 {f.top1:6.1%}   automatic {f.automatic:6.1%}"
        f"   accuracy(automatic) {f.accuracy_automatic:6.1%}   misrouted(of all) {f.misrouted:5.1%}"
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    settings = RouterSettings()
    parser.add_argument("--per-category", type=int, default=settings.seed_examples_per_category)
    parser.add_argument("--test-per-category", type=int, default=10, help="generated hold-out per category")
    parser.add_argument("--seed", type=int, default=settings.seed_generator_seed)
    args = parser.parse_args(argv)

    master = master_from_files()
    policy = RoutingPolicy(settings.confidence_threshold, settings.handover_threshold)
    keywords = catalogue_keywords()
    started = time.perf_counter()
    data = training_set([], known=set(keywords), per_category=args.per_category, seed=args.seed, labelled_weight=1)
    model = train_model(data, keywords, seed=args.seed)
    took = time.perf_counter() - started
    print(
        f"trained and calibrated on {len(data.texts)} generated requests, {len(model.classes)} categories, {took:.0f} s"
    )
    print(f"calibration: {json.dumps(model.calibration.as_dict(), ensure_ascii=False)}")
    before = model.with_calibration(Calibration())
    sets = {
        "realistic requests (data/realistic_requests.jsonl)": realistic_requests(),
        "realistic requests, blind (data/realistic_requests_blind.jsonl)": realistic_requests(REALISTIC_BLIND_FILE),
        "generated hold-out": [
            Labelled(r.text, r.category)
            for r in generate(per_category=args.test_per_category, seed=args.seed + 1000, master=master)
        ],
    }
    for title, requests in sets.items():
        print(f"\n{title}, n={len(requests)}")
        print(_line("before", figures(before, requests, master, policy)))
        print(_line("after", figures(model, requests, master, policy)))


if __name__ == "__main__":
    main()
