"""The staff area of the portal (``/staf/``): accounts, sessions, audit log and the desks."""
