"""Cases (并单): a new ticket that repeats an open case joins it; one handling answers every citizen."""
