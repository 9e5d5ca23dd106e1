# RabbitMQ from Debian's rabbitmq-server package, for engines that cannot pull the official
# image. It reads its configuration from the same files as the official image
# (/etc/rabbitmq/rabbitmq.conf, /etc/rabbitmq/enabled_plugins, /etc/rabbitmq/conf.d/), which the
# compose file mounts, so either image runs the broker the same way.

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends rabbitmq-server \
    && apt-get clean && rm -rf /var/lib/apt/lists/* \
    # The package's own settings would send logs to files and name the node after the build host.
    && rm -f /etc/rabbitmq/rabbitmq-env.conf \
    && mkdir -p /etc/rabbitmq/conf.d \
    && chown -R rabbitmq:rabbitmq /etc/rabbitmq /var/lib/rabbitmq
ENV RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia \
    RABBITMQ_LOG_BASE=/var/log/rabbitmq \
    HOME=/var/lib/rabbitmq
USER rabbitmq
WORKDIR /var/lib/rabbitmq
VOLUME /var/lib/rabbitmq
EXPOSE 5672 15672 15692
# The server itself, not Debian's wrapper, which sends the logs to a file.
CMD ["/usr/lib/rabbitmq/bin/rabbitmq-server"]
