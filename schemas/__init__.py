"""Pydantic models only: commands, events, HTTP DTOs, envelopes, topic names."""
