"""The FastAPI facade: publishes commands for writes, reads MongoDB for reads."""
