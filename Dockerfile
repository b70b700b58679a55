# The KAM image: one image for web (gunicorn + whitenoise), worker and beat; docker-compose.yml
# picks the process with `scripts/serve.sh web|worker|beat|migrate`. See docs/deployment.md.

# Browser assets (Chart.js) from the npm registry, pinned by package-lock.json.
FROM node:22-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=kam.settings.production \
    HOST=0.0.0.0 \
    PORT=8000
WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt
COPY . .
COPY --from=assets /src/node_modules/chart.js/dist node_modules/chart.js/dist
# Hashed, compressed static files in the image (whitenoise serves them). Collecting needs the
# settings to load, not a database: these values exist only during this step.
RUN DJANGO_SECRET_KEY=collectstatic-only-build-time-secret-key-never-used-at-run-time \
    DJANGO_ALLOWED_HOSTS=localhost DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput -v0
RUN useradd --system --uid 10001 --home-dir /app kam
USER kam
EXPOSE 8000
CMD ["scripts/serve.sh", "web"]
