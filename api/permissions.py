"""Who may do what: every route names one of these permissions, and this table decides."""

from __future__ import annotations

from enum import StrEnum

from portfolio.domain.model import Role


class Perm(StrEnum):
    view_mission = "view_mission"
    edit_mission = "edit_mission"
    register_candidate = "register_candidate"
    edit_candidate = "edit_candidate"
    request_treasury_approval = "request_treasury_approval"
    decide_treasury_approval = "decide_treasury_approval"
    view_treasury_approvals = "view_treasury_approvals"
    view_audit = "view_audit"
    run_optimiser = "run_optimiser"
    score = "score"
    manage_round = "manage_round"
    view_aggregates = "view_aggregates"
    challenge = "challenge"
    reply_challenge = "reply_challenge"
    manage_seeds = "manage_seeds"
    answer_seeds = "answer_seeds"
    import_scores_for_others = "import_scores_for_others"
    record_evidence = "record_evidence"
    manage_cycle = "manage_cycle"
    dissent = "dissent"
    import_scores = "import_scores"
    comment_review = "comment_review"
    run_analytics = "run_analytics"
    manage_users = "manage_users"
    record_spend = "record_spend"
    view_finance = "view_finance"


ROLE_PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.mission_ceo: frozenset(
        {
            Perm.view_mission,
            Perm.edit_mission,
            Perm.register_candidate,
            Perm.edit_candidate,
            Perm.request_treasury_approval,
            Perm.view_treasury_approvals,
            Perm.view_audit,
            Perm.run_optimiser,
            Perm.manage_round,
            Perm.view_aggregates,
            Perm.reply_challenge,
            Perm.manage_seeds,
            Perm.import_scores_for_others,
            Perm.record_evidence,
            Perm.manage_cycle,
            Perm.import_scores,
            Perm.run_analytics,
            Perm.record_spend,
            Perm.view_finance,
        }
    ),
    Role.council_member: frozenset(
        {
            Perm.view_mission,
            Perm.register_candidate,
            Perm.edit_candidate,
            Perm.score,
            Perm.challenge,
            Perm.answer_seeds,
            Perm.record_evidence,
            Perm.dissent,
            Perm.import_scores,
        }
    ),
    Role.treasury_reviewer: frozenset(
        {
            Perm.view_mission,
            Perm.view_audit,
            Perm.view_aggregates,
            Perm.comment_review,
            Perm.decide_treasury_approval,
            Perm.view_treasury_approvals,
            Perm.run_analytics,
            Perm.view_finance,
        }
    ),
}

# The administrator manages users, roles and missions and may look at any mission, its audit
# trail and its programme finance, but does not change a mission's content: that is the Mission
# CEO's and the council's job.
ADMIN_PERMISSIONS: frozenset[Perm] = frozenset(
    {Perm.view_mission, Perm.view_audit, Perm.view_aggregates, Perm.manage_users, Perm.view_finance}
)


def allowed(perm: Perm, roles: set[Role], is_admin: bool) -> bool:
    if is_admin and perm in ADMIN_PERMISSIONS:
        return True
    return any(perm in ROLE_PERMISSIONS[r] for r in roles)


def permissions_of(roles: set[Role], is_admin: bool) -> frozenset[Perm]:
    return frozenset(p for p in Perm if allowed(p, roles, is_admin))
