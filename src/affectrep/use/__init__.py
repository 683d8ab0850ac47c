"""Using a trained configuration without the workflow: the model bundle and the command."""
