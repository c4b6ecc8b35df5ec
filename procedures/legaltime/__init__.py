"""Legal time, in one place: what a Vietnamese legal deadline is and how it is counted.

- `calendar`: the data (time units, office hours, the working-day calendar of holidays and
  make-up days, loaded from the `holidays` package and `procedures/calendar/vn.yaml`);
- `clock`: the dossier's ledger of working time (start, suspensions, extensions) and the due
  instant it gives under a calendar;
- `deadlines`: the instants the escalation ladder waits for (a share of a step's time, a set
  time before the due instant), derived from the same ledger.

They were three modules in two packages (`procedures.calendar`, `workflows.clock`,
`workflows.deadlines`), but one concept: a change to how time is counted touches all three, and
all three are pure (no Temporal, no I/O outside `load_calendar`), so procedures, the workflow,
the client and the audit tools import them from here alike.
"""
