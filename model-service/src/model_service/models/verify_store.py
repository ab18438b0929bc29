"""`python -m model_service.models.verify_store`: verify every bundle in `MODEL_MODELS_DIR` now.

The image runs it after training the demo bundles, so a new model-store volume starts with their
passes recorded and a replica's first start loads them at once instead of spending a child's
Python start on them. Exits 1 naming each bundle refused.
"""

import sys

from model_service.config import Settings
from model_service.models.registry import bundle_folders
from model_service.models.verify import verify_bundles


def main() -> int:
    """Verify, record the passes, print the refusals; the exit status says whether any."""
    settings = Settings()
    results = verify_bundles(bundle_folders(settings.models_dir), settings)
    refused = {folder: reason for folder, reason in results.items() if reason is not None}
    for folder, reason in refused.items():
        print(f"{folder}: {reason}", file=sys.stderr)
    print(f"{len(results) - len(refused)} verified, {len(refused)} refused")
    return 1 if refused else 0


if __name__ == "__main__":
    sys.exit(main())
