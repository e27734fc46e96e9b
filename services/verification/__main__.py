"""``python -m services.verification``: run the verification service until SIGTERM."""

from services.verification.app import NAME, create
from shared.runtime import run

run(NAME, create)
