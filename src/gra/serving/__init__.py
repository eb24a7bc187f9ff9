"""Answers for new recordings: the predictor (shared by the HTTP service and `gra predict`),
the BentoML service with its web page, and a small client for a running service."""
