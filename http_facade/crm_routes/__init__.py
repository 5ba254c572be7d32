"""CRM API — the commercial CRM v2 routes, mounted at `/api/v1/crm` and at the root."""

from fastapi import APIRouter

from http_facade.crm_routes import (
    contacts,
    contracts,
    customers,
    follow_ups,
    opportunities,
    payments,
    reports,
)

ROUTERS: list[APIRouter] = [
    customers.router,
    contacts.router,
    opportunities.router,
    follow_ups.router,
    contracts.router,
    payments.router,
    reports.router,
]
