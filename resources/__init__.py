"""popfetch's icons, desktop entry and screenshot; installed as the package ``popfetch_resources``."""
