-- 到场: urgent and critical tickets get an on-site clock (policy.py ClockKind.ON_SITE), next to accept
-- and resolve. The CHECK mirrors the enum.
ALTER TABLE clocks DROP CONSTRAINT clocks_kind_check;
ALTER TABLE clocks ADD CONSTRAINT clocks_kind_check
    CHECK (kind IN ('accept', 'on_site', 'resolve', 'callback', 'rehandle'));
