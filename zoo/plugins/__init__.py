"""Built-in plugins. Each registers one family (or the built-in recipes) through the public hooks,
as a third party would."""
