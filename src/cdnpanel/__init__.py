"""The CDN's control panel: customers' traffic, breakdowns and bills, and the operators' views, read from
the streamstats tables in MariaDB (see docs/panel.md)."""
