-- Where the ticket of a clock is (router's Dispatched.location.chain): sla follows control.mode, and an
-- emergency in force there sends the clock's escalation straight to its command unit (firing.py).
ALTER TABLE clocks ADD COLUMN district text, ADD COLUMN street text;
