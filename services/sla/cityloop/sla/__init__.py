"""SLA: keeps every ticket's deadlines (时限), warns before them, fires at them, escalates after."""
