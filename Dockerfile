# complaintflow: build the release binary, run it on a slim image.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY rules rules
COPY benches benches
RUN cargo build --release --locked --bin complaintflow

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/complaintflow /usr/local/bin/complaintflow
COPY rules /app/rules
WORKDIR /app
EXPOSE 9898
ENTRYPOINT ["complaintflow"]
CMD ["run", "--rules", "/app/rules", "--http-listen", "0.0.0.0:9898"]
