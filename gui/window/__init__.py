"""The main window and its parts: actions, commands, banners, status bar, table."""
