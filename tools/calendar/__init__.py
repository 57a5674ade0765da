"""Calendars: the provider chosen per user (Google when connected, else built-in), the Google OAuth
connection, the built-in calendar's private iCalendar feed, and slot ranking for `find_optimal_time`."""
