# The platform's runtime image around binaries already built on the host (Debian bookworm's
# glibc or older), for engines that cannot pull the Rust image. scripts/docker-images builds
# it from a context that holds `install-runtime` and `bin/`.

FROM debian:bookworm-slim
COPY install-runtime /usr/local/sbin/install-runtime
RUN install-runtime && rm /usr/local/sbin/install-runtime
COPY bin/ /usr/local/bin/
# runtime: the same lines end the Dockerfile
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
