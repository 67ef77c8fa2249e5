"""Who sees what of a ticket, and the log of every full read of personal data."""
