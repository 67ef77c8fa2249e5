"""退单 and 改派: a department rejects its task; re-dispatch, a dispatcher, or final arbitration."""
