# The Tanfang Monitor image: the daemon, the CLI and the device simulator.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY monitor ./monitor
COPY devices ./devices
RUN pip install . \
    && useradd --system --uid 1000 --home /app tanfang \
    && mkdir -p /app/data /etc/tanfang /broker \
    && chown tanfang /app/data \
    # the broker-config job runs as mosquitto's uid (1883) and writes here
    && chown 1883:1883 /broker

USER tanfang
EXPOSE 8080
ENTRYPOINT ["tanfang"]
CMD ["run", "--config", "/etc/tanfang/tanfang.yaml"]
