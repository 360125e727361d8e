"""Redmine's REST API (issues, notes, statuses) and the deployment notes the project adds to issues."""

from redmine_api.client import RedmineClient, RedmineError, RedmineUnavailableError

__all__ = ["RedmineClient", "RedmineError", "RedmineUnavailableError"]
