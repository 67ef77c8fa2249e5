"""Departments' replies on dept.<code>.updates (and the shared dept.updates): checked, then applied."""
