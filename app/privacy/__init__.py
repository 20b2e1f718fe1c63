"""People's rights over their data: the privacy notice, their data to download, and erasure."""
