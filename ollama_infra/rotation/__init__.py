"""Secret rotation: the Secrets Manager rotation function of the Open WebUI database user.

``db_users`` runs in AWS Lambda (standard library, boto3 from the runtime, and the pinned
pure-Python PostgreSQL driver in ``vendor/``); the stack packages it from this folder.
"""

from pathlib import Path

# The function's PostgreSQL driver, built by `make rotation-vendor` from the pinned
# requirements.txt beside this file (pure Python); `ollama-ops deploy` checks it exists.
VENDOR_DIR = Path(__file__).resolve().parents[2] / "build" / "rotation-vendor"
