-- 6: conversation states are no longer stored. The report conversation's state is derived from the
-- draft (handlers/report.py `state_for`), so a crash can never leave a state that disagrees with
-- its draft, and each update costs one write instead of two.

DROP TABLE conversations;
