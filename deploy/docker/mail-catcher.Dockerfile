# A local mail catcher: accepts every email over SMTP (port 1025) and shows them at
# http://localhost:8025, with the JSON list at /api/v1/messages in the shape Mailpit uses, so
# the compose stack can run either.

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 python3-aiosmtpd \
    && apt-get clean && rm -rf /var/lib/apt/lists/*
COPY mail-catcher.py /usr/local/bin/mail-catcher
USER 65534:65534
EXPOSE 1025 8025
CMD ["python3", "/usr/local/bin/mail-catcher"]
