"""When repeated 退单 or dispatcher corrections propose a catalogue change: the pure part."""

from cityloop.router.corrections.proposals import ProposalPolicy, needs_proposal, owner_of, reason_text
from cityloop.router.masterdata.model import Department


def test_the_owner_is_level_and_type() -> None:
    squad = Department("pd-s03-enforcement", "花木街道城管执法中队", "enforcement", "street", "pd", "pd-s03")
    assert owner_of(squad) == "street:enforcement"


def test_thresholds_per_kind() -> None:
    assert not needs_proposal("rejection", 2)
    assert needs_proposal("rejection", 3)
    assert needs_proposal("dispatcher", 3)
    assert not needs_proposal("dispatcher", 4, ProposalPolicy(corrections=5))


def test_the_reason_names_the_tickets() -> None:
    text = reason_text(
        "rejection", "sanitation.construction-waste", "street:enforcement", "district:environment", ["T1", "T2", "T3"]
    )
    assert text.startswith("3 tickets of sanitation.construction-waste rejected (退单) by street:enforcement")
    assert "T1, T2, T3" in text
