"""The bundle's examples: a few sample rows and what the model answered for them, which the
service checks the loaded model against."""

from servir.bundle.predictions import Answers
from servir.errors import BundleError
from shared_schemas.manifest import MAX_EXAMPLES, Example, Scalar


def build_examples(rows: list[dict[str, Scalar]], answers: Answers, count: int) -> list[Example]:
    """The first `count` rows (as a request sends them) with their predictions."""
    if not 0 <= count <= MAX_EXAMPLES:
        raise BundleError(f"examples must be between 0 and {MAX_EXAMPLES}, not {count}")
    probabilities = answers.probabilities
    return [
        Example(
            inputs=inputs,
            prediction=answers.labels[row],
            probabilities=None if probabilities is None else probabilities[row].tolist(),
        )
        for row, inputs in enumerate(rows[:count])
    ]
