"""popfetch: a POP3 mail fetcher. The engine; never imports Qt."""

__version__ = "0.1.0"
