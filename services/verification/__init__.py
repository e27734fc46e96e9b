"""Verification: automatic checks on every received report, then the admin's decision."""
