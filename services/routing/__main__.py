"""``python -m services.routing``: run the routing service until SIGTERM."""

from services.routing.app import NAME, create
from shared.runtime import run

run(NAME, create)
