"""A local SMTP sink: accepts every message on loopback and stores it as an ``.eml`` file.

``make run`` starts it so that failure alerts can be read without a mail server, and the tests read the
same files. It speaks the subset of RFC 5321 that a client needs to deliver a message (no relay, no TLS,
no authentication), and refuses anything else with the RFC's "not implemented" reply.
"""

from smtp_sink.server import SmtpSink, read_mailbox

__all__ = ["SmtpSink", "read_mailbox"]
