# Image for compose.yaml (scale-out convenience; see docs/deploy.md). Not built in CI.
FROM python:3.12-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --system --home /var/lib/gharart gharart \
    && mkdir -p /var/lib/gharart && chown gharart /var/lib/gharart
USER gharart
ENV GHARART_DATA_DIR=/var/lib/gharart
EXPOSE 8000
CMD ["gharart", "serve", "--host", "0.0.0.0", "--port", "8000"]
