"""popfetch's desktop app. Importing this package must not import Qt (see gui.main)."""
