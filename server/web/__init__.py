"""The pages people use (DESIGN.md section 9): server-rendered HTML over the same repositories and action core
as the JSON API."""
