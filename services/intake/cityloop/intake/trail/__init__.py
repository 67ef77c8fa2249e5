"""The ticket's trail: every ticket.lifecycle event in order, and intake's view of the ticket's state."""
