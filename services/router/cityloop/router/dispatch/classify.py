"""What a new ticket is about: the call-taker's word when it names a catalogue category, else the model's. Pure."""

from cityloop.common.contract.models import TicketSnapshot
from cityloop.router.classification.model import TextClassifier
from cityloop.router.dispatch.rules import Classification
from cityloop.router.masterdata.model import MasterData


def classify(snapshot: TicketSnapshot, model: TextClassifier | None, master: MasterData) -> Classification:
    """The call-taker's category when it is a catalogue category, else the model's reading of the text."""
    if snapshot.category and snapshot.category in master.categories:
        return Classification(snapshot.category, 1.0, "call_taker")
    if model is None:
        return Classification(None, 0.0, "none")
    p = model.predict(snapshot.description)
    return Classification(
        p.category,
        p.confidence,
        "model",
        tuple(p.candidates),
        tuple(p.keywords),
        margin=p.margin,
        bar=(p.bar.confidence, p.bar.margin),
    )
