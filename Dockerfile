# The sybilgraph image: the API and the scheduler (Neo4j + GDS run in their own container).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
COPY cypher ./cypher
COPY seeds ./seeds
RUN pip install --no-cache-dir .
ENV SYBILGRAPH_HOME=/data \
    SYBILGRAPH_CYPHER_DIR=/app/cypher
USER 10001
EXPOSE 8000
CMD ["sybilgraph", "serve", "--host", "0.0.0.0", "--port", "8000"]
