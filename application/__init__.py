"""Use cases of Heat Ledger: the event-sourced application and the services around it."""
