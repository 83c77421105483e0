# The audit bot as a container image. Not built on the project's machines (no container
# daemon or base images there): tests/test_deploy_files.py checks what a parser can see,
# and the install step is the quick start's own scripts/install.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the package and its dependencies in /app/.venv, as ./scripts/serve does it
FROM ${PYTHON_IMAGE} AS build
WORKDIR /app
COPY pyproject.toml README.md ./
COPY scripts/install scripts/install
COPY bot bot
RUN ./scripts/install \
    && .venv/bin/python -m compileall -q .venv bot

# --- runtime: the same /app (the editable install points at /app/bot), no build tools
FROM ${PYTHON_IMAGE}
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin audit \
    && mkdir /data \
    && chown audit:audit /data
WORKDIR /app
COPY --from=build /app /app
# Settings only, never credentials: GITHUB_* secrets come from the environment at run time.
# HOST=0.0.0.0 needs GITHUB_WEBHOOK_SECRET, or no credentials at all (setup mode: /setup
# registers the App into /data; webhooks are refused until then).
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:////data/audit.db
USER audit
VOLUME ["/data"]
EXPOSE 8000
# No curl in slim images: the stdlib asks /healthz on the port the bot listens on.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=4)"]
CMD ["python", "-m", "bot"]
