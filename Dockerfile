# SunuSàv Risk Ops: one image for the web process (gunicorn) and the django-q2
# clusters (docker-compose.yml picks the command). Production settings come from
# the environment at run time (docs/OPERATIONS.md); nothing secret is baked in.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VAR_DIR=/app/var \
    DEBUG=false

# libgomp1: LightGBM's OpenMP runtime (not in the slim image).
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 sunusav \
    && useradd --system --uid 10001 --gid sunusav --home-dir /app --shell /usr/sbin/nologin sunusav

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
# Static files (admin, API docs) collected once, served by whitenoise. The
# secret and token below exist only for this build step (settings refuse
# development values when DEBUG is off); the running container gets real ones.
RUN SECRET_KEY=build-only-collectstatic-secret-key-not-used-at-run-time \
    AI_INTERNAL_TOKENS=build-only-collectstatic-token-0123456789 \
    python manage.py collectstatic --noinput -v0 \
    && mkdir -p /app/var \
    && chown -R sunusav:sunusav /app/var /app/ml_artifacts

USER sunusav
EXPOSE 8000
# The web service; the workers run `python manage.py qcluster` with Q_CLUSTER_NAME.
CMD ["gunicorn", "-c", "gunicorn.conf.py"]
