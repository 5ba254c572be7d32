# One image for both processes: `crm api` (default) and `crm worker`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin crm

# Dependencies come from the project's own metadata (pyproject.toml).
COPY pyproject.toml README.md ./
COPY crm/ crm/
COPY schemas/ schemas/
COPY storage/ storage/
COPY handlers/ handlers/
COPY http_facade/ http_facade/
RUN pip install . && rm -rf /root/.cache build *.egg-info

USER crm
# 8001: the API (`crm api`); 8002: the worker's /health, /ready and /internal/metrics.
EXPOSE 8001 8002
ENV CRM_HTTP_HOST=0.0.0.0 CRM_HTTP_PORT=8001 CRM_WORKER_HTTP_PORT=8002 CRM_LOG_FORMAT=json
# Exec form: `crm` is PID 1 and gets SIGTERM itself (both processes stop gracefully on it).
STOPSIGNAL SIGTERM
CMD ["crm", "api"]
