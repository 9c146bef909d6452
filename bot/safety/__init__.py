"""Safety: recognising danger now (and, with issue 3, the safety check and referrals)."""
