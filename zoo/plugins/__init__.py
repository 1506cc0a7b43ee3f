"""Built-in plugins. Each registers one family through the public hook, as a third party would."""
