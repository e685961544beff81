"""Every query lives here. Repositories flush but never commit: the use-case commits."""
