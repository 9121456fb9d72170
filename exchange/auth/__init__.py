"""Logging in and out, password reset and change, personal preferences."""
