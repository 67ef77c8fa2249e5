"""Departments' replies on dept.updates: checked against the assignment, then applied."""
