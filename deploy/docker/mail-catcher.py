"""A local mail catcher for the compose stack: every email sent to port 1025 is kept in memory
(the newest 10,000) and listed at http://localhost:8025 and, as JSON in Mailpit's shape, at
/api/v1/messages."""

import email
import email.policy
import html
import json
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

KEEP = 10_000
messages = []
lock = threading.Lock()


class Catch:
    async def handle_DATA(self, server, session, envelope):
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = parsed.get_body(preferencelist=("plain", "html"))
        with lock:
            messages.insert(0, {
                "ID": str(uuid.uuid4()),
                "MessageID": str(parsed.get("Message-ID", "")).strip().strip("<>"),
                "From": {"Address": envelope.mail_from},
                "To": [{"Address": address} for address in envelope.rcpt_tos],
                "Subject": str(parsed.get("Subject", "")),
                "Created": datetime.now(timezone.utc).isoformat(),
                "Text": body.get_content() if body else "",
            })
            del messages[KEEP:]
        return "250 OK"


class Pages(BaseHTTPRequestHandler):
    def do_GET(self):
        with lock:
            listed = list(messages)
        if self.path.startswith("/api/v1/messages"):
            summary = [{k: v for k, v in m.items() if k != "Text"} for m in listed]
            self.answer("application/json", json.dumps({"total": len(listed), "messages": summary}))
        elif self.path == "/":
            rows = "".join(
                f"<tr><td>{html.escape(m['Created'])}</td><td>{html.escape(', '.join(t['Address'] for t in m['To']))}</td>"
                f"<td><details><summary>{html.escape(m['Subject'])}</summary><pre>{html.escape(m['Text'])}</pre></details></td></tr>"
                for m in listed
            )
            self.answer("text/html; charset=utf-8",
                        f"<!doctype html><title>Mail catcher</title><h1>{len(listed)} emails</h1>"
                        f"<table><tr><th>received</th><th>to</th><th>subject</th></tr>{rows}</table>")
        else:
            self.send_error(404)

    def answer(self, content_type, text):
        body = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    smtp = Controller(Catch(), hostname="0.0.0.0", port=1025)
    smtp.start()
    print("mail catcher: SMTP on :1025, emails at http://localhost:8025", flush=True)
    ThreadingHTTPServer(("0.0.0.0", 8025), Pages).serve_forever()
