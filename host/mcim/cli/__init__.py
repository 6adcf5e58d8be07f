"""The `mcim` command line. Only this package imports click and rich; the library never does."""
