"""The personal-data vault: citizen data and the full free text, encrypted at rest (envelope encryption)."""
