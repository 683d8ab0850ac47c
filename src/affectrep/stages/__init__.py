"""What the workflow's rules do, from files to files: the functions the scripts call."""
