"""Contact-center data (dialog scripts, routing rules, campaigns) arrives with its issue;
the operator queue reads conversations and calls from ``communications``."""
