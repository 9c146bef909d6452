"""The report: its questions, how answers are read, and the summary."""
