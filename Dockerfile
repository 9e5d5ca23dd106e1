# The platform's image: the four services and the all-in-one `order-platform`, built from source.
#   docker build -t order-platform .
# An engine that cannot pull the Rust image puts binaries built on the host into the same
# runtime instead: scripts/docker-images (deploy/docker/prebuilt.Dockerfile).

FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked \
        -p order-service -p inventory-service -p billing-service -p notification-service -p order-platform \
    && mkdir /out \
    && cp target/release/order-service target/release/inventory-service \
          target/release/billing-service target/release/notification-service \
          target/release/order-platform /out/ \
    && strip --strip-debug /out/*

FROM debian:bookworm-slim
COPY deploy/docker/install-runtime /usr/local/sbin/install-runtime
RUN install-runtime && rm /usr/local/sbin/install-runtime
COPY --from=build /out/ /usr/local/bin/
# runtime: the same lines end deploy/docker/prebuilt.Dockerfile
ENV ORDERS__HTTP__ADDR=0.0.0.0:8080 \
    ORDERS__DATA_DIR=/data \
    ORDERS__LOG__FORMAT=json \
    ORDERS__AUTH__TOKENS_FILE=/auth/tokens.json \
    ORDERS__AUTH__FIRST_TOKEN=false
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 8080
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/health/ready || exit 1
CMD ["order-platform"]
