"""``python -m services.escalation``: run the escalation service until SIGTERM."""

from services.escalation.app import NAME, create
from shared.runtime import run

run(NAME, create)
