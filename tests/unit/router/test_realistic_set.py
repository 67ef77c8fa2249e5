"""The realistic evaluation sets: big enough, labelled with catalogue categories, spread over every group,
and kept out of training."""

from collections import Counter

from cityloop.router.classification.evaluation import realistic_requests
from cityloop.router.classification.generator import generate
from cityloop.router.data.files import REALISTIC_BLIND_FILE, catalogue_file


def test_the_realistic_sets_cover_every_group_with_catalogue_labels() -> None:
    catalogue = catalogue_file()
    codes = {entry.code for entry in catalogue.category}
    main, blind = realistic_requests(), realistic_requests(REALISTIC_BLIND_FILE)
    assert len(main) >= 300
    for requests in (main, blind):
        labels = Counter(r.category for r in requests)
        assert set(labels) <= codes
        groups = {code.rsplit(".", 1)[0] for code in labels}
        assert groups == {g.code for g in catalogue.group}
    assert set(Counter(r.category for r in main)) == codes
    texts = [r.text for r in main + blind]
    assert len(set(texts)) == len(texts)


def test_no_realistic_request_is_a_training_text() -> None:
    realistic = {r.text for r in realistic_requests() + realistic_requests(REALISTIC_BLIND_FILE)}
    generated = {r.text for r in generate(per_category=60, seed=20261122)}
    assert not realistic & generated
