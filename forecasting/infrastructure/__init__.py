"""Infrastructure the domain does not need to know: settings read once, webhook delivery, progress."""
