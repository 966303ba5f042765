"""popfetch's desktop app. Importing this package must not import Qt (see gui.main)."""

from gui._refcount import pin_singletons

pin_singletons()
