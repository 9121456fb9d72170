"""Notifications: declared events, the in-app centre and mail by each user's preference."""
