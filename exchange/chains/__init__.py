"""Approval chain templates: the steps a call's applications go through. Below calls (a call
names its chain); each application's own steps are approvals'."""
