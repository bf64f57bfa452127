"""Collection completeness, automatic re-reading and the anomaly archive."""
