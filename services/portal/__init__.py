"""The portal: LAPOR's HTTP face for citizens, Open311 clients and staff (ARCHITECTURE §8)."""
