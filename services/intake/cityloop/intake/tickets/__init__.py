"""Creating tickets (once, with their citizen apart) and reading and searching them."""
