"""Administration: users, roles, units, the audit log and the mail outbox."""
