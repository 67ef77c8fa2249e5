"""``cityloop.callback.*`` on ``ticket.lifecycle``: the hotline's callback to the citizen (回访)."""

from cityloop.common.contract import types
from cityloop.common.contract.lifecycle import CallbackOutcome, Detail, register_lifecycle


class CallbackOpened(Detail):
    callback_id: int


register_lifecycle(types.CALLBACK_OPENED, CallbackOpened, "A callback to the citizen is due (feedback).")
register_lifecycle(types.CALLBACK_RECORDED, CallbackOutcome, "What the citizen said on the callback (feedback).")
