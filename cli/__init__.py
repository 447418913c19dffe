"""The `rmpsam-matte` command. Installed under the import name `rmpsam_cli` (see pyproject.toml)."""
