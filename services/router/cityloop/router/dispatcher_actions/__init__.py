"""What a dispatcher (派单员) does: the queue of tickets that need a person; confirm, correct, arbitrate."""
