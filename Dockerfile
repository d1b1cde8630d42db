# complaintflow: build the release binary, run it on a slim image as a
# non-root user. scripts/dockerfile_check.sh builds from exactly the files copied here.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY rules rules
COPY schemas schemas
COPY benches benches
RUN cargo build --release --locked --bin complaintflow

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /app complaintflow
COPY --from=build /src/target/release/complaintflow /usr/local/bin/complaintflow
COPY rules /app/rules
COPY queries /app/queries
COPY complaintflow.example.toml /app/complaintflow.example.toml
COPY notify.example.toml /app/notify.example.toml
WORKDIR /app
USER complaintflow
EXPOSE 9898 9899 9900
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["complaintflow", "health", "--url", "http://127.0.0.1:9898/healthz"]
ENTRYPOINT ["complaintflow"]
CMD ["run", "--rules", "/app/rules", "--http-listen", "0.0.0.0:9898"]
