"""API B follow-ups routes (not built yet)."""

from fastapi import APIRouter

router = APIRouter(tags=["API B — CRM v2"])
