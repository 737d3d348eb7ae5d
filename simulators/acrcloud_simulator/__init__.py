"""Local stand-in for ACRCloud: the Identification API v1 and the File Scanning Console API."""
