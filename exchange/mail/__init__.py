"""Outgoing mail: an outbox row per mail, written in the transaction of its cause, handed to the
worker after the commit, sent by a backend (SMTP, .eml folder, or memory in tests)."""
