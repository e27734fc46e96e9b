"""``python -m services.portal``: serve the portal with uvicorn until SIGTERM."""

from services.portal.app import NAME, create_app
from services.portal.serve import run

run(NAME, create_app)
