"""Delivery of the notification outbox: contact book, outbox store, retry policy, channels, dispatcher."""
