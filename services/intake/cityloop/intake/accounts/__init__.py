"""Sign-in: accounts, passwords, API keys and tokens, and the authentication every route uses."""
