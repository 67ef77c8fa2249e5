"""Router's master data as versioned project files: the dispatch catalogue (hand-written, catalogue.toml)
and the city model (generated deterministically by generate_city.py into city/*.csv)."""
