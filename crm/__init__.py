"""Wiring: settings, backends, the app and worker factories, and the `crm` CLI."""
