"""Classification and routing quality on held-out generated requests (see README, "Router")."""

from cityloop.router.classification import evaluation


def main() -> None:
    evaluation.main([])
