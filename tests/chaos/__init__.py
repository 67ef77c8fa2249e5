"""The fault harness (issue 13): the real services as separate processes, two replicas of router and sla,
on a private broker and PostgreSQL that get restarted, under steady load; invariants checked on counts."""
