"""The officers' side: sign-in (auth.py), the audit log (audit.py), the queue of cases in order of
risk and deadline (queue.py). The pages are in bot/web/console.py."""
