"""In-memory records of the cycle and of money: the audit trail (chained as the SQL one is),
allocation changes, dissents, update letters, the trajectory, optimiser runs, the spend ledger,
contracts and Treasury approvals."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

from portfolio.adapters.memory.tables import State, copied
from portfolio.adapters.repository.audit import chain_link, stored_content
from portfolio.domain.errors import Conflict, NotFound
from portfolio.domain.model import (
    AllocationChange,
    AuditEntry,
    ChainedAuditEntry,
    Contract,
    ContractState,
    Dissent,
    OptimiserRun,
    QuarterlyUpdate,
    QuarterState,
    RunRecord,
    SpendEntry,
    TrajectoryPoint,
    TreasuryApproval,
    p_target_of,
)


class MemoryAudit:
    """Append-only, each entry chained with ``repository.audit.chain_link`` (the SQL trail's
    rule), so ``head`` gives the same number and hash as the SQL trail would."""

    def __init__(self, state: State, history_key: bytes | None) -> None:
        self.s = state
        self.history_key = history_key

    def _chain(self, mission: str | None) -> list[ChainedAuditEntry]:
        return [e for e in self.s.t.audit if e.mission == (mission or None)]

    def add(self, entry: AuditEntry) -> None:
        content = stored_content(entry)
        head = self.head(content["mission"])
        seq, previous, entry_hash = chain_link(self.history_key, content, head, [])
        self.s.t.audit.append(
            ChainedAuditEntry(**content, seq=seq, previous_hash=previous, entry_hash=entry_hash)
        )

    def restore(self, entry: ChainedAuditEntry) -> None:
        """Store an exported entry as it was, chain fields and all."""
        self.s.t.audit.append(
            ChainedAuditEntry.model_validate(
                stored_content(entry)
                | entry.model_dump(include={"seq", "previous_hash", "entry_hash"})
            )
        )

    def chain(self, mission: str | None) -> list[ChainedAuditEntry]:
        """Every entry of ``mission`` with its chain fields, oldest first."""
        return [copied(e) for e in self._chain(mission)]

    def head(self, mission: str | None) -> tuple[int, str] | None:
        chained = [e for e in self._chain(mission) if e.seq is not None and e.entry_hash]
        if not chained:
            return None
        last = chained[-1]
        return last.seq or 0, last.entry_hash or ""

    def all(
        self,
        mission: str | None,
        *,
        limit: int | None = None,
        offset: int = 0,
        entity: str | None = None,
        entity_id: str | None = None,
    ) -> list[AuditEntry]:
        """Newest first, as the SQL trail lists them."""
        found = [
            AuditEntry(**e.model_dump(exclude={"seq", "previous_hash", "entry_hash"}))
            for e in reversed(self._chain(mission))
            if (not entity or e.entity == entity) and (not entity_id or e.entity_id == entity_id)
        ]
        return found[offset : offset + limit] if limit is not None else found

    def count(self, mission: str | None) -> int:
        return len(self._chain(mission))


class MemoryCycle:
    def __init__(self, state: State) -> None:
        self.s = state

    def set_changes(self, slug: str, label: str, changes: list[AllocationChange]) -> None:
        self.s.t.quarter(slug, label)
        self.s.t.changes[(slug, label)] = [c.with_changes(quarter=label) for c in changes]

    def changes(self, slug: str, label: str | None = None) -> list[AllocationChange]:
        self.s.t.mission(slug)
        return [
            copied(c)
            for (s, q), changes in sorted(self.s.t.changes.items())
            if s == slug and (label is None or q == label)
            for c in changes
        ]

    def add_dissent(self, slug: str, dissent: Dissent) -> None:
        self.s.t.quarter(slug, dissent.quarter)
        self.s.t.dissents.setdefault(slug, []).append(copied(dissent))

    def dissents(self, slug: str, label: str | None = None) -> list[Dissent]:
        self.s.t.mission(slug)
        return [
            copied(d)
            for d in self.s.t.dissents.get(slug, [])
            if label is None or d.quarter == label
        ]

    def set_update(self, slug: str, update: QuarterlyUpdate) -> None:
        self.s.t.quarter(slug, update.quarter)
        self.s.t.updates[(slug, update.quarter)] = copied(update)

    def update(self, slug: str, label: str) -> QuarterlyUpdate | None:
        self.s.t.quarter(slug, label)
        found = self.s.t.updates.get((slug, label))
        return copied(found) if found else None

    def updates(self, slug: str) -> list[QuarterlyUpdate]:
        self.s.t.mission(slug)
        return [copied(u) for (s, _), u in sorted(self.s.t.updates.items()) if s == slug]

    def set_trajectory(self, slug: str, points: list[TrajectoryPoint]) -> None:
        self.s.t.mission(slug)
        self.s.t.trajectory[slug] = [copied(p) for p in points]

    def trajectory(self, slug: str) -> list[TrajectoryPoint]:
        self.s.t.mission(slug)
        points = self.s.t.trajectory.get(slug, [])
        return [copied(p) for p in sorted(points, key=lambda p: p.quarter)]


#: what a run is stored without when it is added: the solve records these (``update``)
UNSOLVED: dict[str, Any] = {
    "result": None,
    "progress": None,
    "error": None,
    "started_at": None,
    "finished_at": None,
}


class MemoryRuns:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, run: OptimiserRun) -> int:
        self.s.t.mission(mission_slug)
        quarter = self.s.t.quarters.get(mission_slug, {}).get(run.quarter)
        if quarter is not None and quarter.state is QuarterState.closed:
            raise Conflict(
                f"quarter {run.quarter} is closed: no optimiser run can be recorded in it"
            )
        run_id = self.s.t.next_id("runs")
        self.s.t.runs[run_id] = run.with_changes(id=run_id, mission=mission_slug, **UNSOLVED)
        return run_id

    def get(self, mission_slug: str, run_id: int) -> OptimiserRun:
        run = self.s.t.runs.get(run_id)
        if run is None or run.mission != mission_slug:
            raise NotFound(f"no optimiser run {run_id} in mission {mission_slug}")
        return copied(run)

    def all(self, mission_slug: str, quarter: str | None = None) -> list[OptimiserRun]:
        """The mission's runs (of one quarter, if given), newest first."""
        return [
            copied(r)
            for _, r in sorted(self.s.t.runs.items(), reverse=True)
            if r.mission == mission_slug and (quarter is None or r.quarter == quarter)
        ]

    def records(self, mission_slug: str, run_ids: Collection[int] | None = None) -> list[RunRecord]:
        """The mission's runs (those among ``run_ids``, if given), newest first, without their
        problem files."""
        return [
            RunRecord.model_validate(r.model_dump(exclude={"problem"}))
            for r in self.all(mission_slug)
            if run_ids is None or r.id in run_ids
        ]

    def policies(self, mission_slug: str, run_ids: Collection[int]) -> dict[int, dict[str, Any]]:
        """The problem file's ``policy`` of each of the mission's runs among ``run_ids``."""
        wanted = set(run_ids)
        return {
            run_id: dict(run.problem.get("policy") or {})
            for run_id, run in self.s.t.runs.items()
            if run.mission == mission_slug and run_id in wanted
        }

    def p_targets(self, mission_slug: str, run_ids: Collection[int]) -> dict[int, float | None]:
        """P(target) out of sample of the mission's runs among ``run_ids``, by id."""
        wanted = set(run_ids)
        return {
            run_id: p_target_of(run.result)
            for run_id, run in self.s.t.runs.items()
            if run.mission == mission_slug and run_id in wanted
        }

    def update(self, run_id: int, **fields: Any) -> None:
        """``fields`` as the solve records them (``status``, ``result`` as its document, …)."""
        run = self.s.t.runs.get(run_id)
        if run is None:
            raise NotFound(f"no optimiser run {run_id}")
        self.s.t.runs[run_id] = run.with_changes(**fields)

    def claim(self, owner: str, now: dt.datetime, run_id: int | None = None) -> int | None:
        """The oldest queued run (``run_id`` when given), now running and owned by ``owner``."""
        queued = [
            i
            for i, r in sorted(self.s.t.runs.items())
            if r.status == "queued" and run_id in (None, i)
        ]
        if not queued:
            return None
        self.update(queued[0], status="running", started_at=now)
        self.s.t.run_owners[queued[0]] = (owner, now)
        return queued[0]

    def _owned_by(self, owner: str) -> list[int]:
        return [
            i
            for i, (who, _) in sorted(self.s.t.run_owners.items())
            if who == owner and self.s.t.runs[i].status == "running"
        ]

    def heartbeat(self, owner: str, now: dt.datetime) -> list[int]:
        ids = self._owned_by(owner)
        for run_id in ids:
            self.s.t.run_owners[run_id] = (owner, now)
        return ids

    def release(self, run_id: int, owner: str) -> bool:
        if run_id not in self._owned_by(owner):
            return False
        self.update(run_id, status="queued", started_at=None)
        del self.s.t.run_owners[run_id]
        return True

    def fail_abandoned(self, stale_before: dt.datetime, error: str, now: dt.datetime) -> list[int]:
        owners = self.s.t.run_owners
        ids = [
            i
            for i, r in sorted(self.s.t.runs.items())
            if r.status == "running" and (i not in owners or owners[i][1] < stale_before)
        ]
        for run_id in ids:
            self.update(run_id, status="failed", error=error, finished_at=now)
        return ids


class MemorySpend:
    """Entries are added, never edited."""

    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, entry: SpendEntry) -> int:
        self.s.t.quarter(mission_slug, entry.quarter)
        self.s.t.candidate(mission_slug, entry.candidate)
        entry_id = self.s.t.next_id("spend")
        self.s.t.spend.setdefault(mission_slug, {})[entry_id] = entry.with_changes(
            id=entry_id, recorded_at=entry.recorded_at or self.s.clock()
        )
        return entry_id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[SpendEntry]:
        self.s.t.mission(mission_slug)
        found = [
            copied(e)
            for _, e in sorted(self.s.t.spend.get(mission_slug, {}).items())
            if candidate is None or e.candidate == candidate
        ]
        return sorted(found, key=lambda e: e.year)


class MemoryContracts:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, contract: Contract) -> int:
        self.s.t.candidate(mission_slug, contract.candidate)
        contract_id = self.s.t.next_id("contracts")
        contracts = self.s.t.contracts.setdefault(mission_slug, {})
        contracts[contract_id] = contract.with_changes(id=contract_id)
        return contract_id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[Contract]:
        self.s.t.mission(mission_slug)
        return [
            copied(c)
            for _, c in sorted(self.s.t.contracts.get(mission_slug, {}).items())
            if candidate is None or c.candidate == candidate
        ]

    def live(self, mission_slug: str) -> list[Contract]:
        return [c for c in self.all(mission_slug) if c.state is ContractState.live]

    def get(self, mission_slug: str, contract_id: int) -> Contract:
        found = self.s.t.contracts.get(mission_slug, {}).get(contract_id)
        if found is None:
            raise NotFound(f"no contract {contract_id} in mission {mission_slug}")
        return copied(found)

    def update(self, mission_slug: str, contract: Contract) -> None:
        """Store ``contract``'s lifecycle fields (its candidate and award never change)."""
        before = self.get(mission_slug, contract.id or 0)
        lifecycle = contract.model_dump(
            include={"option", "state", "ended_in", "ended_by", "ended_at", "end_reason"}
            | {"break_cost"}
        )
        self.s.t.contracts[mission_slug][before.id or 0] = before.with_changes(**lifecycle)


class MemoryApprovals:
    def __init__(self, state: State) -> None:
        self.s = state

    def add(self, mission_slug: str, approval: TreasuryApproval) -> int:
        self.s.t.candidate(mission_slug, approval.candidate)
        approval_id = self.s.t.next_id("approvals")
        approvals = self.s.t.approvals.setdefault(mission_slug, {})
        approvals[approval_id] = approval.with_changes(id=approval_id)
        return approval_id

    def all(self, mission_slug: str, candidate: str | None = None) -> list[TreasuryApproval]:
        self.s.t.mission(mission_slug)
        return [
            copied(a)
            for _, a in sorted(self.s.t.approvals.get(mission_slug, {}).items())
            if candidate is None or a.candidate == candidate
        ]

    def get(self, mission_slug: str, approval_id: int) -> TreasuryApproval:
        found = self.s.t.approvals.get(mission_slug, {}).get(approval_id)
        if found is None:
            raise NotFound(f"no Treasury approval request {approval_id} in mission {mission_slug}")
        return copied(found)

    def decide(self, mission_slug: str, approval: TreasuryApproval) -> None:
        before = self.get(mission_slug, approval.id or 0)
        decision = approval.model_dump(
            include={"state", "decided_by", "decided_at", "decision_reason"}
        )
        self.s.t.approvals[mission_slug][before.id or 0] = before.with_changes(**decision)
