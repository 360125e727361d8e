"""Streaming CDN analytics: edge agents count access-log lines, an aggregator writes the counters to MySQL.

Billing statistics are exactly-once: see docs/analytics.md for the protocol and the argument.
"""
