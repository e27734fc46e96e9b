"""The service-level policy: how many working days each step of a case may take.

Defaults follow national practice for LAPOR!-SP4N: the central admin verifies a report
within 3 working days of receipt; the responsible agency (*OPD*) follows up within 5
working days of the disposition (*disposisi*, the admin handing the case to the agency)
and resolves it within 5, 14 or 22 working days by severity (*ringan* light, *sedang*
medium, *berat* heavy); a reporter who does not reply within 10 working days of the final
answer has the case closed for them.

A missed deadline climbs the escalation ladder: a reminder to the agency's liaison
(*penghubung*), then its head (*pimpinan*), then the regional inspectorate
(*Inspektorat*, the internal government auditor), then the *Ombudsman* (the independent
state watchdog over public services).

Every day count goes through :class:`~shared.calendar.WorkingCalendar` and follows its
conventions: a ``*_deadline`` is the last instant that still meets it (end of a local
day), an ``*_at`` / ``due_at`` is the instant an automatic step fires (``now >= due_at``).
``tz`` is the agency's zone; None means the calendar's default.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator

from shared.calendar import TICK, WorkingCalendar, require_aware
from shared.lifecycle import EscalationTarget, Severity


@dataclass(frozen=True)
class LadderStep:
    """One rung of the escalation ladder: who is told, and from when."""

    level: int
    target: EscalationTarget
    due_at: dt.datetime


def _default_resolution_days() -> dict[Severity, int]:
    return {Severity.RINGAN: 5, Severity.SEDANG: 14, Severity.BERAT: 22}


class SlaPolicy(BaseModel):
    """Working-day durations of every step of a case, configurable per deployment."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    verification_days: PositiveInt = 3  # admin verification, from receipt
    follow_up_days: PositiveInt = 5  # the agency's first follow-up, from disposition
    resolution_days: dict[Severity, PositiveInt] = Field(
        default_factory=_default_resolution_days
    )  # the agency's final answer, from disposition
    auto_close_days: PositiveInt = 10  # the reporter's reply window after the final answer
    reminder_days_before: NonNegativeInt = 1  # 0 reminds at the start of the deadline's day
    inspectorate_after_days: PositiveInt = 3  # from level 1 (the deadline) to level 2
    ombudsman_after_days: PositiveInt = 5  # from level 2 to level 3
    # --- issue 12: every case has an owner and a clock ---
    deferral_days: PositiveInt = 10  # the reporter's window to add what the admin asked
    admin_desk_days: PositiveInt = 1  # the admin re-disposes a case handed back or unplaced
    #: 0: the admin desk is reminded at the start of its deadline's day.
    admin_desk_reminder_days_before: NonNegativeInt = 0
    #: How far past the resolution deadline an extension (*perpanjangan*) may go; None: the
    #: severity's resolution days again.
    extension_max_days: PositiveInt | None = None

    @field_validator("resolution_days")
    @classmethod
    def _every_severity(cls, value: dict[Severity, int]) -> dict[Severity, int]:
        missing = set(Severity) - value.keys()
        if missing:
            raise ValueError(f"resolution_days lacks {sorted(missing)}")
        return value

    def verification_deadline(
        self, calendar: WorkingCalendar, received_at: dt.datetime
    ) -> dt.datetime:
        """When the central admin must have verified a report (the calendar's own zone)."""
        require_aware(received_at, "received_at")
        return calendar.deadline_after(received_at, self.verification_days)

    def follow_up_deadline(
        self, calendar: WorkingCalendar, disposed_at: dt.datetime, tz: str | None = None
    ) -> dt.datetime:
        """When the agency must have given its first follow-up."""
        require_aware(disposed_at, "disposed_at")
        return calendar.deadline_after(disposed_at, self.follow_up_days, tz)

    def resolution_deadline(
        self,
        calendar: WorkingCalendar,
        disposed_at: dt.datetime,
        severity: Severity,
        tz: str | None = None,
    ) -> dt.datetime:
        """When the agency must have given its final answer, by severity."""
        require_aware(disposed_at, "disposed_at")
        return calendar.deadline_after(disposed_at, self.resolution_days[severity], tz)

    def auto_close_at(
        self, calendar: WorkingCalendar, final_answer_at: dt.datetime, tz: str | None = None
    ) -> dt.datetime:
        """The instant a case closes itself when the reporter has not replied."""
        require_aware(final_answer_at, "final_answer_at")
        reply_deadline = calendar.deadline_after(final_answer_at, self.auto_close_days, tz)
        return reply_deadline + TICK

    def reminder_at(
        self,
        calendar: WorkingCalendar,
        deadline: dt.datetime,
        tz: str | None = None,
        days_before: int | None = None,
    ) -> dt.datetime:
        """The start of the working day ``reminder_days_before`` before the deadline's day.

        For a short deadline this may precede the event itself; the reminder is then due
        at once. ``days_before`` overrides the policy's count (the admin desk has its own).
        """
        before = self.reminder_days_before if days_before is None else days_before
        return calendar.working_days_before(deadline, before, tz)

    def escalation_ladder(
        self,
        calendar: WorkingCalendar,
        deadline: dt.datetime,
        tz: str | None = None,
        reminder_days_before: int | None = None,
    ) -> list[LadderStep]:
        """The four escalation steps of a deadline, lowest level first."""
        require_aware(deadline, "deadline")
        # Each level's period ends at the end of a working day; it escalates the instant
        # that end passes, and the next period is counted from the same end of day.
        inspectorate_end = calendar.deadline_after(deadline, self.inspectorate_after_days, tz)
        ombudsman_end = calendar.deadline_after(inspectorate_end, self.ombudsman_after_days, tz)
        return [
            LadderStep(
                0,
                EscalationTarget.PENGHUBUNG,
                self.reminder_at(calendar, deadline, tz, reminder_days_before),
            ),
            LadderStep(1, EscalationTarget.PIMPINAN, deadline.astimezone(dt.UTC) + TICK),
            LadderStep(2, EscalationTarget.INSPEKTORAT, inspectorate_end + TICK),
            LadderStep(3, EscalationTarget.OMBUDSMAN, ombudsman_end + TICK),
        ]

    # --- issue 12: deferral, admin desk, extension ----------------------------------------

    def deferral_deadline(self, calendar: WorkingCalendar, deferred_at: dt.datetime) -> dt.datetime:
        """The last instant the reporter may add information to a deferred case."""
        require_aware(deferred_at, "deferred_at")
        return calendar.deadline_after(deferred_at, self.deferral_days)

    def deferral_reminder_at(self, calendar: WorkingCalendar, deadline: dt.datetime) -> dt.datetime:
        """Half-way: the start of the working day after half the window has passed."""
        days = self.deferral_days
        return calendar.working_days_before(deadline, days - days // 2 - 1)

    def admin_desk_deadline(
        self, calendar: WorkingCalendar, returned_at: dt.datetime
    ) -> dt.datetime:
        """When the admin desk must have disposed a case handed back or not placed."""
        require_aware(returned_at, "returned_at")
        return calendar.deadline_after(returned_at, self.admin_desk_days)

    def extension_cap(
        self,
        calendar: WorkingCalendar,
        resolution_deadline: dt.datetime,
        severity: Severity,
        tz: str | None = None,
    ) -> dt.datetime:
        """The latest resolution deadline an extension may grant."""
        require_aware(resolution_deadline, "resolution_deadline")
        days = self.extension_max_days or self.resolution_days[severity]
        return calendar.deadline_after(resolution_deadline, days, tz)

    def extended_deadline(
        self, calendar: WorkingCalendar, until: dt.date, tz: str | None = None
    ) -> dt.datetime:
        """The resolution deadline an extension to ``until`` sets: the end of that day."""
        return calendar.end_of_day(until, tz)
