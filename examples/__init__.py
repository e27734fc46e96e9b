"""Examples of outside systems built on LAPOR's public contract (they import no LAPOR code)."""
