"""Escalation: keeps each case's next deadline; reminds, escalates, closes unanswered cases."""
