"""One router per audience: citizens, Open311 clients (and staff, in ``staff``)."""
