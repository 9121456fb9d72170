"""Approval chains: templates of ordered steps, and each submitted application's own steps."""
