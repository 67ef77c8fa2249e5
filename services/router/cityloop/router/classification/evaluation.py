"""Classification and routing quality on held-out generated requests:
``python -m cityloop.router.classification.evaluation [--per-category N] [--test-per-category M]``.

The model is trained as in production (generated seed examples) but only on phrasings 0-3 of each
category. Two held-out sets: new requests built from those phrasings (other seeds: new openers, places,
typos, mixed matters), and requests built from the phrasings the model never saw (4+): how it does when
citizens say things in a new way. Each request carries an address; routing accuracy compares the lead
department (or the 110/119/120/122 handover) chosen from the predicted category with the one the true
category gives, among the requests routed automatically at each confidence threshold.
"""

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass

from cityloop.router.classification.generator import LabelledRequest, generate
from cityloop.router.classification.model import Prediction, TextClassifier
from cityloop.router.classification.training import catalogue_keywords
from cityloop.router.data.files import master_from_files
from cityloop.router.dispatch.location import locate
from cityloop.router.dispatch.rules import Classification, RoutingPolicy, RoutingTicket, route
from cityloop.router.masterdata.model import MasterData

SEEN_PHRASINGS = 4
THRESHOLDS = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


@dataclass(frozen=True)
class Row:
    threshold: float
    coverage: float  # share routed automatically
    accuracy_routed: float  # category right, among those
    routing_accuracy: float  # same lead (or handover) as the true category would give, among those
    misrouted: float  # share of all requests routed automatically to the wrong place


def _owner(category: str, request: LabelledRequest, master: MasterData, confidence: float = 1.0) -> str | None:
    location = locate(request.address, None, None, master)
    decision = route(
        RoutingTicket("eval", Classification(category, confidence, "model"), location),
        master,
        policy=RoutingPolicy(confidence_threshold=0.0, handover_threshold=0.0),
    )
    if decision.outcome == "handover":
        return f"handover:{decision.handover_to}"
    return decision.lead.code if decision.lead else None


def evaluate(
    model: TextClassifier, requests: Sequence[LabelledRequest], master: MasterData, policy: RoutingPolicy
) -> tuple[float, list[Row]]:
    predictions: list[Prediction] = model.predict_many([r.text for r in requests])
    accuracy = sum(p.category == r.category for p, r in zip(predictions, requests, strict=True)) / len(requests)
    owners = [
        (_owner(p.category, r, master), _owner(r.category, r, master))
        for p, r in zip(predictions, requests, strict=True)
    ]
    rows = []
    for threshold in THRESHOLDS:
        routed = [
            i
            for i, (p, r) in enumerate(zip(predictions, requests, strict=True))
            if p.confidence >= (policy.handover_threshold if master.categories[p.category].handover_to else threshold)
        ]
        right_category = sum(predictions[i].category == requests[i].category for i in routed)
        right_owner = sum(owners[i][0] == owners[i][1] for i in routed)
        n = max(1, len(routed))
        rows.append(
            Row(
                threshold,
                len(routed) / len(requests),
                right_category / n,
                right_owner / n,
                (len(routed) - right_owner) / len(requests),
            )
        )
    return accuracy, rows


def _print(title: str, accuracy: float, rows: list[Row], chosen: float) -> None:
    print(f"\n{title}: top-1 accuracy {accuracy:.1%}")
    print("  threshold  auto-routed  category-acc(routed)  routing-acc(routed)  misrouted(of all)")
    for row in rows:
        mark = "  <- chosen" if abs(row.threshold - chosen) < 1e-9 else ""
        print(
            f"  {row.threshold:9.2f}  {row.coverage:11.1%}  {row.accuracy_routed:20.1%}"
            f"  {row.routing_accuracy:19.1%}  {row.misrouted:17.1%}{mark}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-category", type=int, default=30, help="training examples per category")
    parser.add_argument("--test-per-category", type=int, default=20, help="held-out requests per category")
    parser.add_argument("--threshold", type=float, default=RoutingPolicy().confidence_threshold)
    args = parser.parse_args(argv)

    master = master_from_files()
    policy = RoutingPolicy(confidence_threshold=args.threshold)
    train = generate(per_category=args.per_category, seed=1, phrasing_filter=lambda i: i < SEEN_PHRASINGS)
    started = time.perf_counter()
    model = TextClassifier.train([r.text for r in train], [r.category for r in train], catalogue_keywords())
    took = time.perf_counter() - started
    print(f"trained on {len(train)} generated requests, {len(model.classes)} categories in {took:.1f} s")
    held_out = generate(
        per_category=args.test_per_category, seed=2, phrasing_filter=lambda i: i < SEEN_PHRASINGS, master=master
    )
    unseen = generate(
        per_category=args.test_per_category, seed=3, phrasing_filter=lambda i: i >= SEEN_PHRASINGS, master=master
    )
    _print(
        f"held-out requests, known phrasings (n={len(held_out)})",
        *evaluate(model, held_out, master, policy),
        args.threshold,
    )
    _print(
        f"held-out requests, unseen phrasings (n={len(unseen)})",
        *evaluate(model, unseen, master, policy),
        args.threshold,
    )


if __name__ == "__main__":
    main()
