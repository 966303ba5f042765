"""The dialogs: account, certificate, message viewer, and the engine's prompts."""
