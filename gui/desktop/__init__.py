"""The app's presence on the desktop: tray icon, notifications, start at login."""
