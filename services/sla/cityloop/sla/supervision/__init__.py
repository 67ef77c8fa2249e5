"""督办 with a desk (contract/supervision.py)."""
