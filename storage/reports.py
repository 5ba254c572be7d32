"""Read queries of the reports: the sales funnel and the business metrics (aggregations)."""

from typing import Any

from schemas.opportunities import FUNNEL_STAGES, OpportunityStage
from storage.customers import CustomerRepository
from storage.database import Database
from storage.documents import alive
from storage.opportunities import OPPORTUNITIES

# $sum over floats leaves binary noise (0.1 + 0.2); amounts are money, shown to 1e-6.
AMOUNT_DIGITS = 6


def _amount(value: Any) -> float:
    return round(float(value or 0), AMOUNT_DIGITS)


async def funnel(db: Database, tenant_id: str) -> dict[str, Any]:
    """Count and amount of live opportunities per stage: every stage, in funnel order."""
    pipeline: list[dict[str, Any]] = [
        {"$match": alive(tenant_id)},
        {"$group": {"_id": "$stage", "count": {"$sum": 1}, "amount": {"$sum": "$amount"}}},
    ]
    cursor = await db[OPPORTUNITIES].aggregate(pipeline)
    grouped = {row["_id"]: row async for row in cursor}
    rows = [(stage.value, grouped.get(stage.value, {})) for stage in FUNNEL_STAGES]
    stages: list[dict[str, Any]] = [
        {"stage": stage, "count": int(row.get("count", 0)), "amount": _amount(row.get("amount"))}
        for stage, row in rows
    ]
    total = {
        "count": sum(s["count"] for s in stages),
        "amount": _amount(sum(float(row.get("amount") or 0) for _, row in rows)),
    }
    return {"stages": stages, "total": total}


async def metrics(db: Database, tenant_id: str) -> dict[str, Any]:
    """Customer and opportunity totals, conversion rate (won ÷ all, 0–1) and the funnel."""
    report = await funnel(db, tenant_id)
    opportunity_total = report["total"]["count"]
    won = next(s["count"] for s in report["stages"] if s["stage"] == OpportunityStage.WON)
    return {
        "customerTotal": await CustomerRepository(db).count(tenant_id),
        "opportunityTotal": opportunity_total,
        "conversionRate": won / opportunity_total if opportunity_total else 0.0,
        "funnel": report,
    }
