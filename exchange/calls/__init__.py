"""Calls: application rounds with their windows, offerings and required documents."""
