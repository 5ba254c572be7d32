"""The embedded store: an in-memory stand-in for MongoDB, for `crm run` and the tests only.

`crm run` without CRM_MONGO_URL, and the default test run, keep their data here (and,
for `crm run`, in a snapshot file: `snapshot.py`). mongomock decides filters, update
operators and aggregations here, through its public API. Importing this package loads no
mongomock (the wiring names `MemoryClient` and `DataDirectory` in every mode); the first
collection does, so production (a MongoDB URL) never does. See docs/embedded-store.md.
"""

from storage.embedded.client import MemoryClient, MemoryDatabase
from storage.embedded.snapshot import DataDirectory, DataDirectoryError

__all__ = ["DataDirectory", "DataDirectoryError", "MemoryClient", "MemoryDatabase"]
