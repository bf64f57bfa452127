"""The archive of meters, areas and concentrators: validation and bulk import."""
