"""``python -m services.intake``: run the intake service until SIGTERM."""

from services.intake.app import NAME, create
from shared.runtime import run

run(NAME, create)
